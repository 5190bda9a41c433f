#include "net/server.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <deque>
#include <map>
#include <set>
#include <vector>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/core/detect_ssl.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/json.hpp>

#include "common/host_port.h"
#include "common/log.h"
#include "net/recycled.h"
#include "net/session_failure.h"
#include "net/tls.h"
#include "net/write_batch.h"
#include "net/ws_frame.h"

namespace qc::net {

namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
namespace json = boost::json;
using tcp = boost::asio::ip::tcp;

namespace {

/// How long a WebSocket closing handshake may take before the socket is cut.
constexpr std::chrono::seconds close_timeout{2};
/// Accept pause after EMFILE/ENFILE: starts here, doubles up to the max.
constexpr std::chrono::milliseconds accept_backoff_min{10};
constexpr std::chrono::milliseconds accept_backoff_max{1000};
/// Pending connections answered 503 per pause while out of descriptors.
constexpr int shed_per_pause = 1024;

/// "ip:port" of the other end ("" if unknown); `ip` gets the address alone.
std::string remote_of(net::stream& s, std::string* ip = nullptr) {
  beast::error_code ec;
  auto ep = s.next_layer().socket().remote_endpoint(ec);
  if (ec) return {};
  if (ip) *ip = ep.address().to_string();
  return ep.address().to_string() + ":" + std::to_string(ep.port());
}

/// A reply frame built by the session itself (the node never saw the
/// request): contract §4 error shape, with JSON escaping.
std::string error_frame(std::string_view code, std::string_view message) {
  return json::serialize(json::object{{"ok", false}, {"error", json::object{{"code", code}, {"message", message}}}});
}

/// The answer to a connection the node cannot take: written straight to the
/// socket, no parsing, no allocation per connection.
const std::string& overloaded_reply() {
  static const std::string body = "node overloaded: too many connections\n";
  static const std::string reply = "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\nContent-Length: " +
                                   std::to_string(body.size()) +
                                   "\r\nRetry-After: 1\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n" + body;
  return reply;
}

/// Answers 503 on a freshly accepted descriptor and closes it, without
/// waiting: the reply fits any socket buffer; what the client already sent
/// is drained so the close is a FIN, not a reset that could eat the reply.
void shed_fd(int fd) {
  const auto& r = overloaded_reply();
  [[maybe_unused]] auto sent = ::send(fd, r.data(), r.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
  ::shutdown(fd, SHUT_WR);
  char drain[1024];
  while (::recv(fd, drain, sizeof drain, MSG_DONTWAIT) > 0) {
  }
}

/// The listener's count of accepted connections; a slot is held by the
/// connection's stream (net::stream::hold) until it is destroyed.
struct socket_count {
  std::size_t open = 0;
};
struct socket_slot {
  std::shared_ptr<socket_count> count;
  explicit socket_slot(std::shared_ptr<socket_count> c) : count(std::move(c)) { ++count->open; }
  ~socket_slot() { --count->open; }
  socket_slot(const socket_slot&) = delete;
  socket_slot& operator=(const socket_slot&) = delete;
};

}  // namespace

struct server::impl : std::enable_shared_from_this<server::impl> {
  boost::asio::io_context& io;
  server_limits limits;
  server_handlers handlers;
  server_tls tls;
  tcp::acceptor acceptor;
  std::uint64_t next_conn = 1;
  std::map<std::uint64_t, std::weak_ptr<client_session>> sessions;
  std::map<std::string, std::size_t> per_ip;
  /// Client WebSockets from upgrade to destruction, handshakes included
  /// (`sessions` only holds those past the handshake).
  std::size_t ws_count = 0;
  /// Accepted connections of every kind (limits.max_sockets).
  std::shared_ptr<socket_count> sockets = std::make_shared<socket_count>();
  bool stopped = false;
  /// The loop's write batch: client writes wait for the end of its turn.
  write_batch& batch;

  // Descriptor exhaustion (see server in server.h).
  boost::asio::steady_timer accept_timer;
  std::chrono::milliseconds accept_backoff{0};
  bool starved = false;      ///< accept() is failing for want of descriptors
  bool over_budget = false;  ///< max_sockets reached
  std::chrono::steady_clock::time_point episode_start;
  std::uint64_t episode_shed = 0;  ///< connections answered 503 in this episode
  int reserve_fd = -1;             ///< spare descriptor given up to accept-and-shed

  impl(boost::asio::io_context& i, server_limits l, server_handlers h, server_tls t)
      : io(i),
        limits(l),
        handlers(std::move(h)),
        tls(std::move(t)),
        acceptor(i),
        batch(boost::asio::use_service<write_batch>(i)),
        accept_timer(i) {
    take_reserve();
  }
  ~impl() {
    if (reserve_fd >= 0) ::close(reserve_fd);
  }

  void take_reserve() {
    if (reserve_fd < 0) reserve_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  }

  void do_accept();
  void on_accept(beast::error_code ec, tcp::socket s);
  void on_no_descriptors(const beast::error_code& ec);
  void shed_pending();
  void end_episode(const char* what);
};

namespace {

/// One client WebSocket (/ws): chat-multi style, one write in flight and a
/// bounded queue; a slow reader is cut off instead of growing memory.
/// Owned by: the loop thread (shared by its pending operations).
class ws_session : public client_session, public std::enable_shared_from_this<ws_session> {
 public:
  ws_session(std::shared_ptr<server::impl> srv, net::stream stream, std::uint64_t id, std::string remote,
             std::string ip)
      : srv_(std::move(srv)), ws_(std::move(stream)), id_(id), remote_(std::move(remote)), ip_(std::move(ip)) {}

  ~ws_session() override {
    if (auto it = srv_->per_ip.find(ip_); it != srv_->per_ip.end() && --it->second == 0) srv_->per_ip.erase(it);
    --srv_->ws_count;
  }

  void run(http::request<http::string_body> req) {
    // Timeouts are the WebSocket's own from here on (the HTTP session set
    // the tcp_stream to expires_never before the upgrade).
    websocket::stream_base::timeout t{};
    t.handshake_timeout = srv_->limits.handshake_timeout;
    t.idle_timeout = srv_->limits.idle_timeout;
    t.keep_alive_pings = true;
    ws_.set_option(t);
    // Read up to a hard cap so an over-limit frame can still get our reply.
    ws_.read_message_max(std::max<std::size_t>(srv_->limits.max_frame_bytes * 4, 1 << 20));
    // One frame per reply: Beast's default splits a 20 KiB history page into
    // five 4 KiB frames, each its own write.
    ws_.auto_fragment(false);
    do_accept(std::move(req));
  }

  bool send(std::shared_ptr<const std::string> frame) override {
    if (closed_) return false;
    if (queue_.size() >= srv_->limits.max_send_queue || queued_bytes_ + frame->size() > srv_->limits.max_send_queue_bytes) {
      close(1008, "slow reader: send queue full");
      return false;
    }
    queued_bytes_ += frame->size();
    queue_.push_back(std::move(frame));
    if (writing_ || flush_asked_ || closing_) return true;
    // Inside a loop turn the write waits for the turn's end, so that the
    // frames the turn queues after this one (a reply beside the events of
    // the same entries, the replies of pipelined reads) leave with it.
    if (srv_->batch.open()) {
      flush_asked_ = true;
      srv_->batch.at_end([self = shared_from_this()] { self->do_write(); });
    } else {
      do_write();
    }
    return true;
  }

  void close(std::uint16_t code, std::string reason) override {
    if (closing_ || closed_) return;
    closing_ = true;
    // The closing handshake is bounded by the WebSocket's handshake timeout.
    websocket::stream_base::timeout t{};
    ws_.get_option(t);
    t.handshake_timeout = close_timeout;
    ws_.set_option(t);
    ws_.async_close(websocket::close_reason(static_cast<websocket::close_code>(code), reason),
                    beast::bind_front_handler(&ws_session::on_close, shared_from_this()));
  }

  std::uint64_t conn_id() const override { return id_; }
  const std::string& remote() const override { return remote_; }
  const std::string& ip() const override { return ip_; }

 private:
  void do_accept(http::request<http::string_body> req) {
    ws_.async_accept(req, beast::bind_front_handler(&ws_session::on_accept, shared_from_this()));
  }

  void on_accept(beast::error_code ec) {
    if (ec) return fail(ec, "websocket accept");
    srv_->sessions[id_] = weak_from_this();
    opened_ = true;
    if (srv_->handlers.client_open) srv_->handlers.client_open(shared_from_this());
    do_read();
  }

  void do_read() { ws_.async_read(buffer_, recycled(beast::bind_front_handler(&ws_session::on_read, shared_from_this()))); }

  void on_read(beast::error_code ec, std::size_t n) {
    if (ec == websocket::error::message_too_big) {
      close(1009, "frame too large");
      return fail(ec, "read");
    }
    if (ec) return fail(ec, "read");
    std::string frame = beast::buffers_to_string(buffer_.data());
    buffer_.consume(buffer_.size());
    if (!ws_.got_text()) {
      send(std::make_shared<const std::string>(error_frame("bad_request", "binary frames are not supported")));
    } else if (n > srv_->limits.max_frame_bytes) {
      send(std::make_shared<const std::string>(error_frame(
          "too_large", "frame of " + std::to_string(n) + " bytes exceeds the " +
                           std::to_string(srv_->limits.max_frame_bytes) + "-byte limit")));
      close_after_flush_ = true;
      close_code_ = 1009;
      if (queue_.empty()) close(1009, "frame too large");
      return;
    } else if (srv_->handlers.client_frame) {
      srv_->handlers.client_frame(shared_from_this(), std::move(frame));
    }
    if (!closing_ && !closed_) do_read();
  }

  /// Writes the queued frames, up to frames_per_write of them, in one
  /// system call: their headers are ours (ws_frame.h), and the stream puts
  /// Beast's own control frames between writes, never inside one.
  void do_write() {
    flush_asked_ = false;
    if (writing_ || closing_ || closed_ || queue_.empty()) return;
    if (!ws_.is_open()) return;  // the peer's close frame came: Beast answers it, nothing may follow
    writing_ = std::min(queue_.size(), frames_per_write);
    headers_.clear();
    iov_.clear();
    for (std::size_t i = 0; i < writing_; ++i) headers_.emplace_back(queue_[i]->size());
    for (std::size_t i = 0; i < writing_; ++i) {
      iov_.emplace_back(headers_[i].bytes.data(), headers_[i].size);
      iov_.emplace_back(queue_[i]->data(), queue_[i]->size());
    }
    ws_.next_layer().async_write_some(iov_, recycled(beast::bind_front_handler(&ws_session::on_write, shared_from_this())));
  }

  void on_write(beast::error_code ec, std::size_t) {
    if (ec) return fail(ec, "write");
    for (; writing_ > 0; --writing_) {
      queued_bytes_ -= queue_.front()->size();
      queue_.pop_front();
    }
    if (!queue_.empty()) return do_write();
    if (close_after_flush_) close(close_code_, "frame too large");
  }

  void on_close(beast::error_code ec) {
    if (ec) return fail(ec, "close");
    finish();
  }

  /// Logs why the session ends (session_failure.h) and ends it.
  void fail(beast::error_code ec, const char* what) {
    log_session_failure(ec, what, "client", remote_);
    finish();
  }

  void finish() {
    if (closed_) return;
    closed_ = true;
    srv_->sessions.erase(id_);
    beast::error_code ignored;
    beast::get_lowest_layer(ws_).socket().close(ignored);
    if (opened_ && srv_->handlers.client_close) srv_->handlers.client_close(shared_from_this());
  }

  std::shared_ptr<server::impl> srv_;
  websocket::stream<net::stream> ws_;
  beast::flat_buffer buffer_;
  std::deque<std::shared_ptr<const std::string>> queue_;
  std::size_t queued_bytes_ = 0;
  /// Frames per write: two buffers each, so that one write fits the 64
  /// buffers Asio gathers into a single sendmsg.
  static constexpr std::size_t frames_per_write = 32;
  std::size_t writing_ = 0;     ///< frames at the queue's front being written
  bool flush_asked_ = false;  ///< do_write waits for the end of the loop's turn
  std::vector<ws_text_header> headers_;              ///< the frames' headers while written
  std::vector<boost::asio::const_buffer> iov_;  ///< headers and frames while written
  std::uint64_t id_;
  std::string remote_, ip_;
  bool opened_ = false, closing_ = false, closed_ = false, close_after_flush_ = false;
  std::uint16_t close_code_ = 1000;
};

/// One HTTP connection: GET routes, or the upgrade to /ws or /raft.
/// Owned by: the loop thread (shared by its pending operations).
class http_session : public std::enable_shared_from_this<http_session> {
 public:
  http_session(std::shared_ptr<server::impl> srv, net::stream s) : srv_(std::move(srv)), stream_(std::move(s)) {
    remote_ = remote_of(stream_);
  }

  void run() {
    if (!srv_->tls.context) return do_read();
    do_detect();
  }

 private:
  // With [tls]: a connection whose first bytes are a TLS ClientHello gets
  // the TLS handshake (the bytes already read are handed to it); any other
  // is plain HTTP, served only if allow_plaintext.
  void do_detect() {
    stream_.next_layer().expires_after(srv_->limits.handshake_timeout);
    beast::async_detect_ssl(stream_.next_layer(), buffer_,
                            beast::bind_front_handler(&http_session::on_detect, shared_from_this()));
  }

  void on_detect(beast::error_code ec, bool tls) {
    if (ec) return fail(ec, "detect TLS");
    if (!tls) {
      plaintext_refused_ = !srv_->tls.allow_plaintext;
      return do_read();
    }
    stream_.start_tls(*srv_->tls.context);
    stream_.tls().async_handshake(boost::asio::ssl::stream_base::server, buffer_.data(),
                                  buffered_handshake_handler{shared_from_this()});
  }

  /// Boost 1.81's ssl_stream constrains the buffered handshake's handler to
  /// void(error_code) but calls it with (error_code, bytes used): a handler
  /// that takes both forms satisfies the constraint and gets the count.
  struct buffered_handshake_handler {
    std::shared_ptr<http_session> self;
    void operator()(beast::error_code ec) { self->on_handshake(ec, 0); }
    void operator()(beast::error_code ec, std::size_t used) { self->on_handshake(ec, used); }
  };

  void on_handshake(beast::error_code ec, std::size_t used) {
    if (ec) {
      if (srv_->handlers.refused) srv_->handlers.refused(remote_, "TLS handshake failed: " + ec.message());
      return close();
    }
    buffer_.consume(used);
    do_read();
  }

  void do_read() {
    parser_.emplace();
    parser_->body_limit(16 * 1024);
    stream_.next_layer().expires_after(srv_->limits.handshake_timeout);
    http::async_read(stream_, buffer_, *parser_, beast::bind_front_handler(&http_session::on_read, shared_from_this()));
  }

  void on_read(beast::error_code ec, std::size_t) {
    if (ec) return fail(ec, "read request");
    auto req = parser_->release();
    if (plaintext_refused_) {
      req.keep_alive(false);
      return do_write(req, {400, "text/plain", "this node requires TLS: connect with https:// or wss://\n"});
    }
    const std::string target(req.target());
    const std::string path = target.substr(0, target.find('?'));
    if (websocket::is_upgrade(req)) return upgrade(std::move(req), path);
    if (req.method() != http::verb::get && req.method() != http::verb::head)
      return do_write(req, {405, "text/plain", "method not allowed\n"});
    if (!srv_->handlers.http_get) return do_write(req, http_reply{404, "text/plain", ""});
    auto held = std::make_shared<http::request<http::string_body>>(std::move(req));
    srv_->handlers.http_get(target, [self = shared_from_this(), held](http_reply r) { self->do_write(*held, std::move(r)); });
  }

  void upgrade(http::request<http::string_body> req, const std::string& path) {
    // From here on the WebSocket's own timeouts apply, never the tcp_stream's.
    stream_.next_layer().expires_never();
    if (path == "/raft" && srv_->handlers.peer_upgrade) {
      if (srv_->tls.require_peer_cert && !peer_cert_verified(stream_)) {
        if (srv_->handlers.refused)
          srv_->handlers.refused(remote_, "peer link without a TLS client certificate signed by tls.ca_file");
        req.keep_alive(false);
        return do_write(req, {403, "text/plain", "peer links need a TLS client certificate signed by the cluster CA\n"});
      }
      // The stream carries its socket slot along (net::stream::hold).
      srv_->handlers.peer_upgrade(std::move(stream_), std::move(req));
      return;
    }
    if (path == "/events" && srv_->handlers.events_upgrade) {
      srv_->handlers.events_upgrade(std::move(stream_), std::move(req));
      return;
    }
    if (path != "/ws") return do_write(req, {404, "text/plain", "not found\n"});
    std::string ip;
    const std::string remote = remote_of(stream_, &ip);
    // Counted from the upgrade on, so a burst of handshakes cannot
    // overshoot the limit before any of them completes.
    auto pit = srv_->per_ip.find(ip);
    const std::size_t from_ip = pit == srv_->per_ip.end() ? 0 : pit->second;
    if (srv_->ws_count >= srv_->limits.max_connections || from_ip >= srv_->limits.max_connections_per_ip)
      return do_write(req, {503, "text/plain", "too many connections\n"});
    ++srv_->per_ip[ip];
    ++srv_->ws_count;
    std::make_shared<ws_session>(srv_, std::move(stream_), srv_->next_conn++, remote, ip)->run(std::move(req));
  }

  void do_write(const http::request<http::string_body>& req, http_reply r) {
    auto res = std::make_shared<http::response<http::string_body>>(static_cast<http::status>(r.status), req.version());
    res->set(http::field::server, "quorum-chat");
    res->set(http::field::content_type, r.content_type);
    if (r.cors) res->set(http::field::access_control_allow_origin, "*");
    res->set(http::field::cache_control, "no-store");
    res->keep_alive(req.keep_alive());
    if (req.method() != http::verb::head) res->body() = std::move(r.body);
    res->prepare_payload();
    http::async_write(stream_, *res, beast::bind_front_handler(&http_session::on_write, shared_from_this(), res));
  }

  void on_write(std::shared_ptr<http::response<http::string_body>> res, beast::error_code ec, std::size_t) {
    if (ec) return fail(ec, "write response");
    if (!res->keep_alive()) return close();
    do_read();
  }

  /// Logs why the connection ends (session_failure.h) and closes it.
  void fail(beast::error_code ec, const char* what) {
    log_session_failure(ec, what, "http", remote_);
    close();
  }

  void close() {
    beast::error_code ec;
    stream_.next_layer().socket().shutdown(tcp::socket::shutdown_send, ec);
  }

  std::shared_ptr<server::impl> srv_;
  net::stream stream_;
  std::string remote_;
  bool plaintext_refused_ = false;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
};

}  // namespace

void server::impl::do_accept() {
  acceptor.async_accept(io, beast::bind_front_handler(&server::impl::on_accept, shared_from_this()));
}

void server::impl::on_accept(beast::error_code ec, tcp::socket s) {
  if (stopped) return;
  if (ec == boost::asio::error::no_descriptors || ec == boost::system::errc::too_many_files_open_in_system ||
      ec == boost::asio::error::no_buffer_space || ec == boost::asio::error::no_memory)
    return on_no_descriptors(ec);
  if (ec) {
    // A connection that died in the backlog (ECONNABORTED, ...): next.
    log::debug("accept: ", ec.message());
    return do_accept();
  }
  if (starved) end_episode("descriptors available again");
  if (sockets->open >= limits.max_sockets) {
    if (!over_budget) {
      over_budget = true;
      episode_start = std::chrono::steady_clock::now();
      episode_shed = 0;
      log::warn("accept: ", sockets->open, " connections open, the limit for this node's descriptors; "
                "new connections are answered 503 until some close");
    }
    shed_fd(s.native_handle());
    ++episode_shed;
    return do_accept();  // `s` closes here
  }
  if (over_budget && sockets->open < limits.max_sockets * 9 / 10) end_episode("below the connection limit again");
  // Small request/reply frames: no Nagle (with delayed ACKs it stalls a
  // lone frame for ~40 ms).
  beast::error_code ignored;
  s.set_option(tcp::no_delay(true), ignored);
  net::stream st(std::move(s));
  st.hold(std::make_shared<socket_slot>(sockets));
  std::make_shared<http_session>(shared_from_this(), std::move(st))->run();
  do_accept();
}

void server::impl::on_no_descriptors(const beast::error_code& ec) {
  if (!starved) {
    starved = true;
    episode_start = std::chrono::steady_clock::now();
    episode_shed = 0;
    accept_backoff = accept_backoff_min;
    log::warn("accept: out of file descriptors (", ec.message(), ") with ", sockets->open,
              " connections open; accepting pauses with backoff, pending connections are answered 503");
  } else {
    accept_backoff = std::min(accept_backoff * 2, accept_backoff_max);
  }
  shed_pending();
  accept_timer.expires_after(accept_backoff);
  accept_timer.async_wait([self = shared_from_this()](const boost::system::error_code& e) {
    if (!e && !self->stopped) self->do_accept();
  });
}

void server::impl::shed_pending() {
  // The reserve descriptor makes room for exactly one accept at a time.
  if (reserve_fd < 0) return;
  ::close(reserve_fd);
  reserve_fd = -1;
  for (int i = 0; i < shed_per_pause; ++i) {
    const int fd = ::accept4(acceptor.native_handle(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) break;
    shed_fd(fd);
    ::close(fd);
    ++episode_shed;
  }
  take_reserve();
  if (reserve_fd < 0) log::warn("accept: the reserve descriptor was taken by another thread; shedding stops");
}

void server::impl::end_episode(const char* what) {
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - episode_start);
  log::info("accept: ", what, " after ", ms.count(), " ms; ", episode_shed, " connections were answered 503 meanwhile");
  starved = over_budget = false;
  take_reserve();
}

server::server(boost::asio::io_context& io, server_limits limits, server_handlers handlers, server_tls tls)
    : impl_(std::make_shared<impl>(io, limits, std::move(handlers), std::move(tls))) {}

server::~server() = default;

qc::error server::listen(const std::string& host_port) {
  const auto hp = common::parse_host_port(host_port);
  if (!hp) return {std::make_error_code(std::errc::invalid_argument), host_port + ": expected host:port"};
  beast::error_code ec;
  tcp::resolver resolver(impl_->io);
  auto results = resolver.resolve(hp->host, hp->port, ec);
  if (ec || results.empty())
    return {ec ? std::error_code(ec) : std::make_error_code(std::errc::address_not_available),
            "cannot resolve " + host_port + ": " + ec.message()};
  const tcp::endpoint ep = results.begin()->endpoint();
  impl_->acceptor.open(ep.protocol(), ec);
  if (!ec) impl_->acceptor.set_option(boost::asio::socket_base::reuse_address(true), ec);
  if (!ec) impl_->acceptor.bind(ep, ec);
  if (!ec) impl_->acceptor.listen(boost::asio::socket_base::max_listen_connections, ec);
  // Non-blocking, so shedding with the reserve descriptor never waits.
  if (!ec) impl_->acceptor.native_non_blocking(true, ec);
  if (ec) return {ec, host_port + ": " + ec.message()};
  return {};
}

void server::start() { impl_->do_accept(); }

void server::stop() {
  impl_->stopped = true;
  beast::error_code ec;
  impl_->accept_timer.cancel();
  impl_->acceptor.close(ec);
  auto sessions = impl_->sessions;
  for (auto& [id, w] : sessions)
    if (auto s = w.lock()) s->close(1001, "server shutting down");
}

std::size_t server::client_count() const { return impl_->sessions.size(); }

}  // namespace qc::net
