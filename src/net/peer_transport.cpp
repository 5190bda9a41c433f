#include "net/peer_transport.h"

#include <openssl/crypto.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <deque>
#include <optional>
#include <random>
#include <string_view>
#include <vector>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/json.hpp>

#include "common/hex.h"
#include "common/utf8_prefix.h"
#include "common/host_port.h"
#include "common/log.h"
#include "net/recycled.h"
#include "net/session_failure.h"
#include "net/tls.h"

namespace qc::net {

namespace beast = boost::beast;
namespace websocket = beast::websocket;
namespace json = boost::json;
using tcp = boost::asio::ip::tcp;

namespace {

/// 16 random bytes as hex; nullopt if the generator fails.
std::optional<std::string> nonce() {
  unsigned char b[16];
  if (RAND_bytes(b, sizeof b) != 1) return std::nullopt;
  return common::to_hex(b, sizeof b);
}

/// hex(HMAC-SHA256(secret, msg)); "" if OpenSSL fails (never equal to a MAC).
std::string mac(const std::string& secret, const std::string& msg) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  if (!HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
            reinterpret_cast<const unsigned char*>(msg.data()), msg.size(), out, &n))
    return {};
  return common::to_hex(out, n);
}

bool mac_equal(const std::string& a, const std::string& b) {
  return !a.empty() && a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

/// What joins frames in one batched message (peer_link::do_write).
constexpr char line_break = '\n';
/// Frames join a batch while it stays under this many bytes.
constexpr std::size_t peer_batch_bytes = 1 << 20;
/// Beast's write buffer on peer links (masking, for the dialing side).
constexpr std::size_t peer_write_buffer_bytes = 64 << 10;

/// True if a handshake message says its sender reads batched messages.
bool reads_batches(const json::value& v) {
  if (!v.is_object()) return false;
  auto* f = v.as_object().if_contains("batch");
  return f && f->is_bool() && f->as_bool();
}

std::string field(const json::value& v, const char* k) {
  if (!v.is_object()) return {};
  auto* f = v.as_object().if_contains(k);
  return f && f->is_string() ? std::string(f->as_string()) : std::string();
}

}  // namespace

class peer_link;

struct peer_transport::impl : std::enable_shared_from_this<peer_transport::impl> {
  boost::asio::io_context& io;
  std::string self, secret;
  peer_limits limits;
  peer_handlers handlers;
  std::map<std::string, std::string> peers;                 ///< wanted: id -> address
  std::map<std::string, std::shared_ptr<peer_link>> links;  ///< usable link per peer
  std::map<peer_link*, std::weak_ptr<peer_link>> all;       ///< every open link, for stop()
  std::map<std::string, bool> dialing;
  std::map<std::string, std::chrono::milliseconds> backoff;
  std::map<std::string, std::shared_ptr<boost::asio::steady_timer>> timers;
  std::mt19937_64 rng{std::random_device{}()};
  std::set<std::string> drop_from;  ///< test-only fault filter (set_drop_from)
  std::size_t handshaking = 0;      ///< accepted links not yet authenticated
  bool handshakes_full = false;     ///< max_handshakes reached (logged once per episode)
  bool paused = false;              ///< test-only: every frame in and out dropped (pause)
  std::shared_ptr<boost::asio::steady_timer> pause_timer;
  bool stopped = false;

  impl(boost::asio::io_context& i, std::string s, std::string sec, peer_limits l, peer_handlers h)
      : io(i), self(std::move(s)), secret(std::move(sec)), limits(std::move(l)), handlers(std::move(h)) {}

  void accept(net::stream stream, boost::beast::http::request<boost::beast::http::string_body> req);
  void schedule_dial(const std::string& id);
  void dial_peer(const std::string& id);
  void dial_address(const std::string& address, const std::string& expect);
  /// A dial to `expect` ("" = a seed) finished, authenticated or not.
  void dial_finished(const std::string& expect);
  /// An authenticated link: keep one per peer (the one dialed by the lower
  /// id). False if `l` lost to an existing link (it is closed).
  bool register_link(const std::shared_ptr<peer_link>& l);
  /// `l` closed: forget it; if it was the peer's link, the peer is down.
  void link_closed(peer_link& l);
  /// An accepted link left the handshake (authenticated or closed).
  void handshake_done();
  /// Closes every authenticated link (they redial): streams that counted on
  /// frames a fault filter ate start over instead of waiting for them.
  void reset_links();
};

/// One WebSocket to a peer, dialed or accepted, from connect to close.
/// Owned by: the loop thread (shared by its pending operations and, once
/// authenticated, by the transport's `links`).
class peer_link : public std::enable_shared_from_this<peer_link> {
 public:
  /// A link this node dials.
  peer_link(std::shared_ptr<peer_transport::impl> t, std::string address, std::string expect)
      : t_(std::move(t)), ws_(t_->io), deadline_(t_->io), remote_(std::move(address)), expect_(std::move(expect)),
        dialed_(true) {
    dialer_ = t_->self;
  }
  /// A link a peer dialed (an upgraded /raft stream).
  peer_link(std::shared_ptr<peer_transport::impl> t, net::stream s)
      : t_(std::move(t)), ws_(std::move(s)), deadline_(t_->io) {
    beast::error_code ec;
    auto ep = beast::get_lowest_layer(ws_).socket().remote_endpoint(ec);
    if (!ec) remote_ = ep.address().to_string() + ":" + std::to_string(ep.port());
  }

  const std::string& peer() const { return peer_; }
  const std::string& dialer() const { return dialer_; }
  bool up() const { return up_; }
  bool closed() const { return closed_; }
  std::size_t queued() const { return queued_; }
  bool counted_handshake = false;  ///< counts in impl::handshaking

  // ---- dialing: resolve, connect, TLS, upgrade, then the secret ----------
  void run_dial() {
    start_deadline();
    const auto hp = common::parse_host_port(remote_);
    if (!hp) return refuse("not a host:port address");
    if (t_->limits.tls)
      if (auto e = start_client_tls(ws_.next_layer(), *t_->limits.tls, hp->host)) return refuse(e.what);
    resolver_.emplace(t_->io);
    resolver_->async_resolve(hp->host, hp->port, beast::bind_front_handler(&peer_link::on_resolve, shared_from_this()));
  }

  // ---- accepting: the upgrade, then the challenge ------------------------
  void run_accept(boost::beast::http::request<boost::beast::http::string_body> req) {
    start_deadline();
    configure();
    ws_.async_accept(req, beast::bind_front_handler(&peer_link::on_ws_accept, shared_from_this()));
  }

  /// Queues a frame; false if the queue is over its byte limit or closed.
  /// Handshake messages (`alone`) never share a WebSocket message: the
  /// other side reads them one by one before it knows about batches.
  bool send(std::shared_ptr<const std::string> frame, bool binary, bool alone = false) {
    if (closed_ || queued_ + frame->size() > t_->limits.max_queue_bytes) return false;
    queued_ += frame->size();
    queue_.push_back({std::move(frame), binary, binary || alone || !up_});
    // The first write waits for the end of this loop turn, so that every
    // frame queued meanwhile can go out with it (do_write).
    if (queue_.size() == 1)
      boost::asio::post(ws_.get_executor(), beast::bind_front_handler(&peer_link::do_write, shared_from_this()));
    return true;
  }

  /// Becomes the peer's link (impl::register_link).
  void go_up() {
    up_ = true;
    deadline_.cancel();
    ws_.read_message_max(t_->limits.max_frame_bytes);
  }
  /// Replaced by a duplicate: closes without reporting the peer down.
  void retire() {
    up_ = false;
    close();
  }

  void close() {
    if (closed_) return;
    closed_ = true;
    deadline_.cancel();
    if (resolver_) resolver_->cancel();
    beast::error_code ec;
    beast::get_lowest_layer(ws_).socket().close(ec);
    t_->link_closed(*this);
  }

 private:
  enum class stage { connecting, await_challenge, await_auth, await_auth_ok, up };

  // One deadline from the first byte to authenticated, by its own timer:
  // the tcp_stream's expiry is never used, and the WebSocket's timeouts
  // only cover the upgrade and, once up, idle links.
  void start_deadline() {
    deadline_.expires_after(t_->limits.handshake_timeout);
    deadline_.async_wait(beast::bind_front_handler(&peer_link::on_deadline, shared_from_this()));
  }
  void on_deadline(beast::error_code ec) {
    if (ec || up_ || closed_) return;
    refuse("no authenticated link within " + std::to_string(t_->limits.handshake_timeout.count()) + " ms");
  }

  void configure() {
    // Raft appends and acks are latency-bound: no Nagle on peer links.
    beast::error_code ignored;
    beast::get_lowest_layer(ws_).socket().set_option(tcp::no_delay(true), ignored);
    ws_.read_message_max(peer_handshake_frame_bytes);
    // One frame per message, written through a large buffer: Beast's
    // defaults (auto-fragment, 4 KiB) split a 40 KiB append into ten frames
    // and ten system calls.
    ws_.auto_fragment(false);
    ws_.write_buffer_bytes(peer_write_buffer_bytes);
    websocket::stream_base::timeout t{};
    t.handshake_timeout = t_->limits.handshake_timeout;
    t.idle_timeout = t_->limits.idle_timeout;
    t.keep_alive_pings = true;
    ws_.set_option(t);
  }

  void on_resolve(beast::error_code ec, tcp::resolver::results_type r) {
    if (ec) return fail(ec, "resolve");
    beast::get_lowest_layer(ws_).async_connect(r, beast::bind_front_handler(&peer_link::on_connect, shared_from_this()));
  }

  void on_connect(beast::error_code ec, const tcp::endpoint&) {
    if (ec) return fail(ec, "connect");
    configure();
    if (!ws_.next_layer().is_tls()) return do_upgrade();
    ws_.next_layer().tls().async_handshake(boost::asio::ssl::stream_base::client,
                                           beast::bind_front_handler(&peer_link::on_tls_handshake, shared_from_this()));
  }

  void on_tls_handshake(beast::error_code ec) {
    if (ec) return refuse("TLS handshake failed: " + ec.message());
    do_upgrade();
  }

  void do_upgrade() {
    ws_.async_handshake(remote_, "/raft", beast::bind_front_handler(&peer_link::on_upgrade, shared_from_this()));
  }

  void on_upgrade(beast::error_code ec) {
    if (ec) return fail(ec, "upgrade");
    stage_ = stage::await_challenge;
    do_read();
  }

  void on_ws_accept(beast::error_code ec) {
    if (ec) return fail(ec, "accept upgrade");
    auto n1 = nonce();
    if (!n1) return refuse("no random bytes for a challenge");
    n1_ = *n1;
    send_text(json::object{{"type", "challenge"}, {"nonce", n1_}, {"id", t_->self}, {"batch", true}});
    stage_ = stage::await_auth;
    do_read();
  }

  // ---- reading: handshake messages, then frames --------------------------
  void do_read() { ws_.async_read(buf_, recycled(beast::bind_front_handler(&peer_link::on_read, shared_from_this()))); }

  void on_read(beast::error_code ec, std::size_t) {
    if (ec) {
      if (stage_ == stage::await_auth_ok) return refuse("peer closed during authentication (wrong cluster secret?)");
      return fail(ec, "read");
    }
    if (closed_) return;
    std::string frame = beast::buffers_to_string(buf_.data());
    buf_.consume(buf_.size());
    switch (stage_) {
      case stage::up: on_frame(std::move(frame)); break;
      case stage::await_challenge: on_challenge(frame); break;
      case stage::await_auth: on_auth(frame); break;
      case stage::await_auth_ok: on_auth_ok(frame); break;
      case stage::connecting: return;
    }
    if (!closed_) do_read();
  }

  /// Dialer: the acceptor's challenge; answer with our proof.
  void on_challenge(const std::string& text) {
    json::error_code jec;
    auto v = json::parse(text, jec);
    const std::string n1 = field(v, "nonce"), server_id = field(v, "id");
    if (jec || field(v, "type") != "challenge" || n1.empty() || server_id.empty()) return refuse("bad challenge");
    batches_ = reads_batches(v);
    auto n2 = nonce();
    if (!n2) return refuse("no random bytes for a nonce");
    n2_ = *n2;
    server_id_ = server_id;
    send_text(json::object{{"type", "auth"}, {"id", t_->self}, {"nonce", n2_},
                           {"mac", mac(t_->secret, "dial|" + n1 + "|" + t_->self)}, {"batch", true}});
    stage_ = stage::await_auth_ok;
  }

  /// Acceptor: the dialer's proof; answer with ours and go up.
  void on_auth(const std::string& text) {
    json::error_code jec;
    auto v = json::parse(text, jec);
    const std::string id = field(v, "id"), n2 = field(v, "nonce");
    if (jec || field(v, "type") != "auth" || id.empty() || n2.empty() || id == t_->self ||
        !mac_equal(field(v, "mac"), mac(t_->secret, "dial|" + n1_ + "|" + id)))
      return refuse("bad cluster secret (claimed id '" + std::string(common::utf8_prefix(id, 64)) + "')");
    batches_ = reads_batches(v);
    send_text(json::object{{"type", "auth_ok"}, {"mac", mac(t_->secret, "accept|" + n2 + "|" + t_->self)}});
    peer_ = id;
    dialer_ = id;
    stage_ = stage::up;
    t_->register_link(shared_from_this());
  }

  /// Dialer: the acceptor's proof; go up.
  void on_auth_ok(const std::string& text) {
    json::error_code jec;
    auto v = json::parse(text, jec);
    if (jec || field(v, "type") != "auth_ok" ||
        !mac_equal(field(v, "mac"), mac(t_->secret, "accept|" + n2_ + "|" + server_id_)))
      return refuse("peer failed to prove the cluster secret");
    peer_ = server_id_;
    stage_ = stage::up;
    t_->register_link(shared_from_this());
    report_dial();
  }

  void on_frame(std::string frame) {
    if (!up_ || !t_->handlers.frame || t_->drop_from.count(peer_) || t_->paused) return;
    const bool binary = !ws_.got_text();
    if (binary || frame.find('\n') == std::string::npos) return t_->handlers.frame(peer_, std::move(frame), binary);
    // A text message may carry several frames, one per line (do_write).
    std::string_view rest(frame);
    while (!rest.empty() && !closed_) {
      const auto nl = rest.find('\n');
      t_->handlers.frame(peer_, std::string(rest.substr(0, nl)), false);
      rest.remove_prefix(nl == std::string_view::npos ? rest.size() : nl + 1);
    }
  }

  // ---- writing: one in flight, the rest queued ----------------------------
  void send_text(const json::object& o) { send(std::make_shared<const std::string>(json::serialize(o)), false, true); }

  /// Writes the head of the queue. Text frames behind it, up to
  /// peer_batch_bytes, join it in one WebSocket message, one per line
  /// (serialized JSON holds no raw newline), when the peer said at the
  /// handshake that it reads them: one system call on each side instead of
  /// one per frame.
  void do_write() {
    if (closed_ || queue_.empty()) return;
    const auto& head = queue_.front();
    out_.clear();
    out_.push_back(boost::asio::buffer(*head.frame));
    in_flight_ = 1;
    std::size_t bytes = head.frame->size();
    if (!head.alone && batches_) {
      for (; in_flight_ < queue_.size() && !queue_[in_flight_].alone; ++in_flight_) {
        const auto& next = *queue_[in_flight_].frame;
        if (bytes + 1 + next.size() > peer_batch_bytes) break;
        out_.push_back(boost::asio::buffer(&line_break, 1));
        out_.push_back(boost::asio::buffer(next));
        bytes += 1 + next.size();
      }
    }
    ws_.binary(head.binary);
    ws_.async_write(out_, recycled(beast::bind_front_handler(&peer_link::on_write, shared_from_this())));
  }

  void on_write(beast::error_code ec, std::size_t) {
    if (ec) return fail(ec, "write");
    for (; in_flight_ > 0; --in_flight_) {
      queued_ -= queue_.front().frame->size();
      queue_.pop_front();
    }
    if (!queue_.empty() && !closed_) do_write();
  }

  // ---- endings --------------------------------------------------------------
  /// An I/O error: logged (session_failure.h), then closed.
  void fail(beast::error_code ec, const char* what) {
    if (closed_) return;
    log_session_failure(ec, what, up_ ? ("peer " + peer_).c_str() : "peer link", remote_);
    end();
  }
  /// The other side did not prove the secret, or the handshake could not
  /// run: reported as an authentication failure (the replicator warns).
  void refuse(const std::string& why) {
    if (closed_) return;
    if (t_->handlers.auth_failed) t_->handlers.auth_failed(remote_, why);
    end();
  }
  void end() {
    close();
    report_dial();
  }
  void report_dial() {
    if (!dialed_ || dial_reported_) return;
    dial_reported_ = true;
    t_->dial_finished(expect_);
  }

  std::shared_ptr<peer_transport::impl> t_;
  websocket::stream<net::stream> ws_;
  std::optional<tcp::resolver> resolver_;
  boost::asio::steady_timer deadline_;
  beast::flat_buffer buf_;
  struct outgoing {
    std::shared_ptr<const std::string> frame;
    bool binary = false;
    bool alone = false;  ///< binary, a handshake message, or queued before the link was up
  };
  std::deque<outgoing> queue_;
  std::size_t queued_ = 0;
  std::size_t in_flight_ = 0;                       ///< frames at the queue's head being written
  std::vector<boost::asio::const_buffer> out_;      ///< their buffers, kept for the write
  bool batches_ = false;                            ///< the peer reads several frames per message
  std::string remote_;     ///< the address dialed, or the accepted peer's ip:port
  std::string expect_;     ///< dialer: the configured id dialed ("" = a seed)
  std::string peer_;       ///< proven id (after auth)
  std::string dialer_;     ///< id of the side that dialed
  std::string n1_, n2_, server_id_;  ///< handshake state
  stage stage_ = stage::connecting;
  bool dialed_ = false, dial_reported_ = false, up_ = false, closed_ = false;
};

// ---- the transport ---------------------------------------------------------------

void peer_transport::impl::accept(net::stream stream, boost::beast::http::request<boost::beast::http::string_body> req) {
  auto l = std::make_shared<peer_link>(shared_from_this(), std::move(stream));
  all[l.get()] = l;
  if (handshaking >= limits.max_handshakes) {
    if (!handshakes_full) {
      handshakes_full = true;
      log::warn("peer links: ", handshaking, " unauthenticated /raft links already (limit ", limits.max_handshakes,
                "); further ones are closed until some finish");
    }
    l->close();
    return;
  }
  ++handshaking;
  l->counted_handshake = true;
  l->run_accept(std::move(req));
}

void peer_transport::impl::handshake_done() {
  --handshaking;
  if (handshakes_full && handshaking < limits.max_handshakes) {
    handshakes_full = false;
    log::info("peer links: unauthenticated /raft links below the limit again");
  }
}

bool peer_transport::impl::register_link(const std::shared_ptr<peer_link>& l) {
  if (l->counted_handshake) {
    l->counted_handshake = false;
    handshake_done();
  }
  if (stopped) {
    l->close();
    return false;
  }
  auto it = links.find(l->peer());
  if (it != links.end() && !it->second->closed()) {
    const std::string keep_dialer = std::min(self, l->peer());
    if (l->dialer() != keep_dialer) {
      l->close();  // not up: no callbacks
      return false;
    }
    auto old = it->second;
    links[l->peer()] = l;
    l->go_up();
    old->retire();  // replaced silently
    if (handlers.replaced) handlers.replaced(l->peer());
    return true;
  }
  links[l->peer()] = l;
  l->go_up();
  backoff.erase(l->peer());
  if (handlers.up) handlers.up(l->peer());
  return true;
}

void peer_transport::impl::link_closed(peer_link& l) {
  all.erase(&l);
  if (l.counted_handshake) {
    l.counted_handshake = false;
    handshake_done();
  }
  if (!l.up()) return;
  auto it = links.find(l.peer());
  if (it != links.end() && it->second.get() == &l) {
    const std::string id = l.peer();
    links.erase(it);
    if (handlers.down) handlers.down(id);
    schedule_dial(id);
  }
}

void peer_transport::impl::schedule_dial(const std::string& id) {
  if (stopped || !peers.count(id) || links.count(id) || dialing[id]) return;
  auto& b = backoff[id];
  b = b.count() == 0 ? limits.backoff_min : std::min(b * 2, limits.backoff_max);
  const auto jitter = std::chrono::milliseconds(rng() % static_cast<std::uint64_t>(b.count() + 1));
  auto t = std::make_shared<boost::asio::steady_timer>(io, b / 2 + jitter / 2);
  timers[id] = t;
  t->async_wait([self_ = shared_from_this(), id](const boost::system::error_code& ec) {
    if (!ec) self_->dial_peer(id);
  });
}

void peer_transport::impl::dial_peer(const std::string& id) {
  auto it = peers.find(id);
  if (stopped || it == peers.end() || links.count(id) || dialing[id]) return;
  dialing[id] = true;
  dial_address(it->second, id);
}

void peer_transport::impl::dial_address(const std::string& address, const std::string& expect) {
  auto l = std::make_shared<peer_link>(shared_from_this(), address, expect);
  all[l.get()] = l;
  l->run_dial();
}

void peer_transport::impl::dial_finished(const std::string& expect) {
  if (expect.empty()) return;
  dialing[expect] = false;
  if (!links.count(expect)) schedule_dial(expect);
}

// ---- the public face -------------------------------------------------------------

peer_transport::peer_transport(boost::asio::io_context& io, std::string self_id, std::string secret, peer_limits limits,
                               peer_handlers handlers)
    : impl_(std::make_shared<impl>(io, std::move(self_id), std::move(secret), std::move(limits), std::move(handlers))) {}

peer_transport::~peer_transport() { stop(); }

void peer_transport::set_peers(const std::map<std::string, std::string>& peers) {
  auto& i = *impl_;
  i.peers = peers;
  i.peers.erase(i.self);
  for (const auto& [id, addr] : i.peers)
    if (!i.links.count(id) && !i.dialing[id]) i.dial_peer(id);
}

void peer_transport::dial(const std::string& address) { impl_->dial_address(address, ""); }

void peer_transport::accept(net::stream stream, boost::beast::http::request<boost::beast::http::string_body> req) {
  if (impl_->stopped) return;
  impl_->accept(std::move(stream), std::move(req));
}

bool peer_transport::send(const std::string& to, std::shared_ptr<const std::string> frame, bool binary) {
  auto it = impl_->links.find(to);
  if (it == impl_->links.end() || it->second->closed()) return false;
  if (impl_->paused) return true;  // lost on the way, as in a partition (pause)
  return it->second->send(std::move(frame), binary);
}

bool peer_transport::connected(const std::string& id) const {
  auto it = impl_->links.find(id);
  return it != impl_->links.end() && !it->second->closed();
}

std::vector<std::string> peer_transport::connected_peers() const {
  std::vector<std::string> out;
  for (const auto& [id, l] : impl_->links)
    if (!l->closed()) out.push_back(id);
  return out;
}

std::size_t peer_transport::queued_bytes(const std::string& id) const {
  auto it = impl_->links.find(id);
  return it == impl_->links.end() ? 0 : it->second->queued();
}

void peer_transport::set_drop_from(std::set<std::string> ids) {
  auto& i = *impl_;
  // Like a real partition, a change resets the links it affects: a stream
  // that relied on frames now lost (a snapshot waiting for acks) fails and
  // starts over instead of waiting on a link that silently ate its data.
  std::vector<std::shared_ptr<peer_link>> reset;
  for (const auto& [id, l] : i.links)
    if (i.drop_from.count(id) != ids.count(id)) reset.push_back(l);
  i.drop_from = std::move(ids);
  for (auto& l : reset) l->close();
}

void peer_transport::impl::reset_links() {
  auto open = links;
  for (auto& [id, l] : open) l->close();
}

void peer_transport::pause(std::chrono::milliseconds d) {
  auto& i = *impl_;
  if (i.pause_timer) i.pause_timer->cancel();
  i.pause_timer.reset();
  const bool was = i.paused;
  i.paused = d.count() > 0;
  if (was != i.paused) i.reset_links();
  if (!i.paused) return;
  i.pause_timer = std::make_shared<boost::asio::steady_timer>(i.io, d);
  i.pause_timer->async_wait([w = std::weak_ptr<impl>(impl_), t = i.pause_timer](const boost::system::error_code& ec) {
    auto self = w.lock();
    if (ec || !self || self->pause_timer != t) return;
    self->pause_timer.reset();
    self->paused = false;
    self->reset_links();
  });
}

void peer_transport::stop() {
  auto& i = *impl_;
  if (i.stopped) return;
  i.stopped = true;
  for (auto& [id, t] : i.timers) t->cancel();
  if (i.pause_timer) i.pause_timer->cancel();
  std::vector<std::shared_ptr<peer_link>> open;
  for (auto& [p, w] : i.all)
    if (auto l = w.lock()) open.push_back(l);
  for (auto& l : open) l->close();
}

}  // namespace qc::net
