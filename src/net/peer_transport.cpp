#include "net/peer_transport.h"

#include <openssl/crypto.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <deque>
#include <random>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/json.hpp>

#include "net/tls.h"

namespace qc::net {

namespace beast = boost::beast;
namespace websocket = beast::websocket;
namespace json = boost::json;
using tcp = boost::asio::ip::tcp;

namespace {

std::string hex(const unsigned char* p, std::size_t n) {
  static const char* d = "0123456789abcdef";
  std::string s;
  for (std::size_t i = 0; i < n; ++i) {
    s += d[p[i] >> 4];
    s += d[p[i] & 15];
  }
  return s;
}

std::string nonce() {
  unsigned char b[16];
  if (RAND_bytes(b, sizeof b) != 1) std::abort();
  return hex(b, sizeof b);
}

std::string mac(const std::string& secret, const std::string& msg) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()), reinterpret_cast<const unsigned char*>(msg.data()),
       msg.size(), out, &n);
  return hex(out, n);
}

bool mac_equal(const std::string& a, const std::string& b) {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

std::string field(const json::value& v, const char* k) {
  if (!v.is_object()) return {};
  auto* f = v.as_object().if_contains(k);
  return f && f->is_string() ? std::string(f->as_string()) : std::string();
}

}  // namespace

/// One authenticated (or authenticating) WebSocket to a peer.
struct peer_link : std::enable_shared_from_this<peer_link> {
  websocket::stream<net::stream> ws;
  beast::flat_buffer buf;
  std::string peer;    ///< proven id (after auth)
  std::string dialer;  ///< id of the side that dialed
  bool up = false, closed = false, writing = false;
  std::deque<std::pair<std::shared_ptr<const std::string>, bool>> queue;
  std::size_t queued = 0;

  explicit peer_link(net::stream s) : ws(std::move(s)) {}
  explicit peer_link(boost::asio::io_context& io) : ws(io) {}
};

struct peer_transport::impl : std::enable_shared_from_this<peer_transport::impl> {
  boost::asio::io_context& io;
  std::string self, secret;
  peer_limits limits;
  peer_handlers handlers;
  std::map<std::string, std::string> peers;                 ///< wanted: id -> address
  std::map<std::string, std::shared_ptr<peer_link>> links;  ///< usable link per peer
  std::map<std::string, bool> dialing;
  std::map<std::string, std::chrono::milliseconds> backoff;
  std::map<std::string, std::shared_ptr<boost::asio::steady_timer>> timers;
  std::mt19937_64 rng{std::random_device{}()};
  std::set<std::string> drop_from;  ///< test-only fault filter (set_drop_from)
  bool paused = false;              ///< test-only: every frame in and out dropped (pause)
  std::shared_ptr<boost::asio::steady_timer> pause_timer;
  bool stopped = false;

  impl(boost::asio::io_context& i, std::string s, std::string sec, peer_limits l, peer_handlers h)
      : io(i), self(std::move(s)), secret(std::move(sec)), limits(l), handlers(std::move(h)) {}

  // ---- link life cycle ----------------------------------------------------
  void configure(peer_link& l) {
    // Raft appends and acks are latency-bound: no Nagle on peer links.
    beast::error_code ignored;
    beast::get_lowest_layer(l.ws).socket().set_option(tcp::no_delay(true), ignored);
    l.ws.read_message_max(limits.max_frame_bytes);
    websocket::stream_base::timeout t{};
    t.handshake_timeout = limits.handshake_timeout;
    t.idle_timeout = std::chrono::seconds(10);
    t.keep_alive_pings = true;
    l.ws.set_option(t);
  }

  void fail(const std::shared_ptr<peer_link>& l, const std::string& remote, const std::string& why) {
    if (!why.empty() && handlers.auth_failed) handlers.auth_failed(remote, why);
    close_link(l);
  }

  void close_link(const std::shared_ptr<peer_link>& l) {
    if (l->closed) return;
    l->closed = true;
    beast::error_code ec;
    beast::get_lowest_layer(l->ws).socket().close(ec);
    if (l->up) {
      auto it = links.find(l->peer);
      if (it != links.end() && it->second == l) {
        links.erase(it);
        if (handlers.down) handlers.down(l->peer);
        schedule_dial(l->peer);
      }
    }
  }

  /// Closes every link (they redial): streams that counted on frames a
  /// fault filter ate start over instead of waiting for them.
  void reset_links() {
    auto all = links;
    for (auto& [id, l] : all) close_link(l);
  }

  /// An authenticated link: keep one per peer (the one dialed by the lower id).
  void register_link(const std::shared_ptr<peer_link>& l) {
    auto it = links.find(l->peer);
    if (it != links.end() && !it->second->closed) {
      const std::string keep_dialer = std::min(self, l->peer);
      if (l->dialer != keep_dialer) {
        close_link(l);  // not marked up: no callbacks
        return;
      }
      auto old = it->second;
      old->up = false;  // replaced silently
      links[l->peer] = l;
      l->up = true;
      close_link(old);
      read_loop(l);
      flush(l);
      if (handlers.replaced) handlers.replaced(l->peer);
      return;
    }
    links[l->peer] = l;
    l->up = true;
    backoff.erase(l->peer);
    if (handlers.up) handlers.up(l->peer);
    read_loop(l);
  }

  void read_loop(const std::shared_ptr<peer_link>& l) {
    l->ws.async_read(l->buf, [self_ = shared_from_this(), l](beast::error_code ec, std::size_t) {
      if (ec || l->closed) return self_->close_link(l);
      std::string frame = beast::buffers_to_string(l->buf.data());
      l->buf.consume(l->buf.size());
      const bool binary = !l->ws.got_text();
      if (l->up && self_->handlers.frame && !self_->drop_from.count(l->peer) && !self_->paused)
        self_->handlers.frame(l->peer, std::move(frame), binary);
      if (!l->closed) self_->read_loop(l);
    });
  }

  void flush(const std::shared_ptr<peer_link>& l) {
    if (l->writing || l->queue.empty() || l->closed) return;
    l->writing = true;
    auto frame = l->queue.front().first;  // a structured binding cannot be captured (clang 14)
    l->ws.binary(l->queue.front().second);
    l->ws.async_write(boost::asio::buffer(*frame), [self_ = shared_from_this(), l, frame](beast::error_code ec, std::size_t) {
      l->writing = false;
      if (ec) return self_->close_link(l);
      l->queued -= frame->size();
      l->queue.pop_front();
      self_->flush(l);
    });
  }

  // ---- dialing ------------------------------------------------------------
  void schedule_dial(const std::string& id) {
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

  void dial_peer(const std::string& id) {
    auto it = peers.find(id);
    if (stopped || it == peers.end() || links.count(id) || dialing[id]) return;
    dialing[id] = true;
    dial_address(it->second, id);
  }

  void dial_address(const std::string& address, const std::string& expect) {
    auto l = std::make_shared<peer_link>(io);
    l->dialer = self;
    const auto colon = address.rfind(':');
    if (colon == std::string::npos) return;
    if (limits.tls) {
      std::string err;
      if (!start_client_tls(l->ws.next_layer(), *limits.tls, address.substr(0, colon), err)) {
        if (handlers.auth_failed) handlers.auth_failed(address, err);
        return;
      }
    }
    auto resolver = std::make_shared<tcp::resolver>(io);
    auto done = [self_ = shared_from_this(), expect](bool) {
      if (!expect.empty()) {
        self_->dialing[expect] = false;
        if (!self_->links.count(expect)) self_->schedule_dial(expect);
      }
    };
    resolver->async_resolve(
        address.substr(0, colon), address.substr(colon + 1),
        [self_ = shared_from_this(), l, resolver, address, done](beast::error_code ec, tcp::resolver::results_type r) {
          if (ec) return done(false);
          beast::get_lowest_layer(l->ws).expires_after(self_->limits.handshake_timeout);
          beast::get_lowest_layer(l->ws).async_connect(r, [self_, l, address, done](beast::error_code ec2, const tcp::endpoint&) {
            if (ec2) return done(false);
            self_->configure(*l);
            auto upgrade = [self_, l, address, done] {
              beast::get_lowest_layer(l->ws).expires_never();
              l->ws.async_handshake(address, "/raft", [self_, l, address, done](beast::error_code ec3) {
                if (ec3) return done(false);
                self_->dialer_read_challenge(l, address, done);
              });
            };
            if (!l->ws.next_layer().is_tls()) return upgrade();
            l->ws.next_layer().tls().async_handshake(
                boost::asio::ssl::stream_base::client, [self_, l, address, done, upgrade](beast::error_code ec3) {
                  if (ec3) {
                    self_->fail(l, address, "TLS handshake failed: " + ec3.message());
                    return done(false);
                  }
                  upgrade();
                });
          });
        });
  }

  template <typename Done>
  void dialer_read_challenge(const std::shared_ptr<peer_link>& l, const std::string& address, Done done) {
    l->ws.async_read(l->buf, [self_ = shared_from_this(), l, address, done](beast::error_code ec, std::size_t) {
      if (ec) return done(false);
      json::error_code jec;
      auto v = json::parse(beast::buffers_to_string(l->buf.data()), jec);
      l->buf.consume(l->buf.size());
      const std::string n1 = field(v, "nonce"), server_id = field(v, "id");
      if (jec || field(v, "type") != "challenge" || n1.empty() || server_id.empty()) {
        self_->fail(l, address, "bad challenge");
        return done(false);
      }
      const std::string n2 = nonce();
      json::object auth{{"type", "auth"}, {"id", self_->self}, {"nonce", n2},
                        {"mac", mac(self_->secret, "dial|" + n1 + "|" + self_->self)}};
      auto text = std::make_shared<std::string>(json::serialize(auth));
      l->ws.text(true);
      l->ws.async_write(boost::asio::buffer(*text), [self_, l, address, done, text, n2, server_id](beast::error_code ec2, std::size_t) {
        if (ec2) return done(false);
        l->ws.async_read(l->buf, [self_, l, address, done, n2, server_id](beast::error_code ec3, std::size_t) {
          if (ec3) {
            self_->fail(l, address, "peer closed during authentication (wrong cluster secret?)");
            return done(false);
          }
          json::error_code jec2;
          auto ok = json::parse(beast::buffers_to_string(l->buf.data()), jec2);
          l->buf.consume(l->buf.size());
          if (jec2 || field(ok, "type") != "auth_ok" ||
              !mac_equal(field(ok, "mac"), mac(self_->secret, "accept|" + n2 + "|" + server_id))) {
            self_->fail(l, address, "peer failed to prove the cluster secret");
            return done(false);
          }
          l->peer = server_id;
          done(true);
          self_->register_link(l);
        });
      });
    });
  }

  // ---- accepting ----------------------------------------------------------
  void accept(net::stream stream, boost::beast::http::request<boost::beast::http::string_body> req) {
    auto l = std::make_shared<peer_link>(std::move(stream));
    std::string remote;
    beast::error_code ec;
    auto ep = beast::get_lowest_layer(l->ws).socket().remote_endpoint(ec);
    if (!ec) remote = ep.address().to_string() + ":" + std::to_string(ep.port());
    configure(*l);
    l->ws.async_accept(req, [self_ = shared_from_this(), l, remote](beast::error_code ec1) {
      if (ec1) return self_->close_link(l);
      const std::string n1 = nonce();
      auto text = std::make_shared<std::string>(json::serialize(json::object{{"type", "challenge"}, {"nonce", n1}, {"id", self_->self}}));
      l->ws.text(true);
      l->ws.async_write(boost::asio::buffer(*text), [self_, l, remote, n1, text](beast::error_code ec2, std::size_t) {
        if (ec2) return self_->close_link(l);
        beast::get_lowest_layer(l->ws).expires_after(self_->limits.handshake_timeout);
        l->ws.async_read(l->buf, [self_, l, remote, n1](beast::error_code ec3, std::size_t) {
          beast::get_lowest_layer(l->ws).expires_never();
          if (ec3) return self_->close_link(l);
          json::error_code jec;
          auto v = json::parse(beast::buffers_to_string(l->buf.data()), jec);
          l->buf.consume(l->buf.size());
          const std::string id = field(v, "id"), n2 = field(v, "nonce");
          if (jec || field(v, "type") != "auth" || id.empty() || n2.empty() || id == self_->self ||
              !mac_equal(field(v, "mac"), mac(self_->secret, "dial|" + n1 + "|" + id)))
            return self_->fail(l, remote, "bad cluster secret (claimed id '" + id.substr(0, 64) + "')");
          auto ok = std::make_shared<std::string>(
              json::serialize(json::object{{"type", "auth_ok"}, {"mac", mac(self_->secret, "accept|" + n2 + "|" + self_->self)}}));
          l->ws.async_write(boost::asio::buffer(*ok), [self_, l, id, ok](beast::error_code ec4, std::size_t) {
            if (ec4) return self_->close_link(l);
            l->peer = id;
            l->dialer = id;
            self_->register_link(l);
          });
        });
      });
    });
  }
};

peer_transport::peer_transport(boost::asio::io_context& io, std::string self_id, std::string secret, peer_limits limits,
                               peer_handlers handlers)
    : impl_(std::make_shared<impl>(io, std::move(self_id), std::move(secret), limits, std::move(handlers))) {}

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
  if (it == impl_->links.end() || it->second->closed) return false;
  auto& l = it->second;
  if (l->queued + frame->size() > impl_->limits.max_queue_bytes) return false;
  if (impl_->paused) return true;  // lost on the way, as in a partition (pause)
  l->queued += frame->size();
  l->queue.emplace_back(std::move(frame), binary);
  impl_->flush(l);
  return true;
}

bool peer_transport::connected(const std::string& id) const {
  auto it = impl_->links.find(id);
  return it != impl_->links.end() && !it->second->closed;
}

std::vector<std::string> peer_transport::connected_peers() const {
  std::vector<std::string> out;
  for (const auto& [id, l] : impl_->links)
    if (!l->closed) out.push_back(id);
  return out;
}

std::size_t peer_transport::queued_bytes(const std::string& id) const {
  auto it = impl_->links.find(id);
  return it == impl_->links.end() ? 0 : it->second->queued;
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
  for (auto& l : reset) i.close_link(l);
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
  i.reset_links();
}

}  // namespace qc::net
