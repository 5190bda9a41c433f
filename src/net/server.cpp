#include "net/server.h"

#include <deque>
#include <map>
#include <set>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/core/detect_ssl.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>

#include "net/tls.h"

namespace qc::net {

namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using tcp = boost::asio::ip::tcp;

namespace {
/// "ip:port" of the other end ("" if unknown); `ip` gets the address alone.
std::string remote_of(net::stream& s, std::string* ip = nullptr) {
  beast::error_code ec;
  auto ep = s.next_layer().socket().remote_endpoint(ec);
  if (ec) return {};
  if (ip) *ip = ep.address().to_string();
  return ep.address().to_string() + ":" + std::to_string(ep.port());
}

std::string error_frame(const char* code, const std::string& message) {
  return std::string("{\"ok\":false,\"error\":{\"code\":\"") + code + "\",\"message\":\"" + message + "\"}}";
}
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
  bool stopped = false;

  impl(boost::asio::io_context& i, server_limits l, server_handlers h, server_tls t)
      : io(i), limits(l), handlers(std::move(h)), tls(std::move(t)), acceptor(i) {}

  void do_accept();
};

namespace {

/// One client WebSocket (/ws): chat-multi style, one write in flight and a
/// bounded queue; a slow reader is cut off instead of growing memory.
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
    websocket::stream_base::timeout t{};
    t.handshake_timeout = srv_->limits.handshake_timeout;
    t.idle_timeout = srv_->limits.idle_timeout;
    t.keep_alive_pings = true;
    ws_.set_option(t);
    // Read up to a hard cap so an over-limit frame can still get our reply.
    ws_.read_message_max(std::max<std::size_t>(srv_->limits.max_frame_bytes * 4, 1 << 20));
    ws_.async_accept(req, [self = shared_from_this()](beast::error_code ec) { self->on_accept(ec); });
  }

  bool send(std::shared_ptr<const std::string> frame) override {
    if (closed_) return false;
    if (queue_.size() >= srv_->limits.max_send_queue || queued_bytes_ + frame->size() > srv_->limits.max_send_queue_bytes) {
      close(1008, "slow reader: send queue full");
      return false;
    }
    queued_bytes_ += frame->size();
    queue_.push_back(std::move(frame));
    if (queue_.size() == 1 && !closing_) do_write();
    return true;
  }

  void close(std::uint16_t code, std::string reason) override {
    if (closing_ || closed_) return;
    closing_ = true;
    websocket::close_reason cr(static_cast<websocket::close_code>(code), reason);
    beast::get_lowest_layer(ws_).expires_after(std::chrono::seconds(2));
    ws_.async_close(cr, [self = shared_from_this()](beast::error_code) { self->finish(); });
  }

  std::uint64_t conn_id() const override { return id_; }
  const std::string& remote() const override { return remote_; }

 private:
  void on_accept(beast::error_code ec) {
    if (ec) return finish();
    srv_->sessions[id_] = weak_from_this();
    opened_ = true;
    if (srv_->handlers.client_open) srv_->handlers.client_open(shared_from_this());
    do_read();
  }

  void do_read() {
    ws_.async_read(buffer_, [self = shared_from_this()](beast::error_code ec, std::size_t n) { self->on_read(ec, n); });
  }

  void on_read(beast::error_code ec, std::size_t n) {
    if (ec) {
      if (ec == websocket::error::message_too_big) close(1009, "frame too large");
      return finish();
    }
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

  void do_write() {
    ws_.text(true);
    ws_.async_write(boost::asio::buffer(*queue_.front()),
                    [self = shared_from_this()](beast::error_code ec, std::size_t) { self->on_write(ec); });
  }

  void on_write(beast::error_code ec) {
    if (ec) return finish();
    queued_bytes_ -= queue_.front()->size();
    queue_.pop_front();
    if (!queue_.empty()) return do_write();
    if (close_after_flush_) close(close_code_, "frame too large");
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
  std::uint64_t id_;
  std::string remote_, ip_;
  bool opened_ = false, closing_ = false, closed_ = false, close_after_flush_ = false;
  std::uint16_t close_code_ = 1000;
};

/// One HTTP connection: GET routes, or the upgrade to /ws or /raft.
class http_session : public std::enable_shared_from_this<http_session> {
 public:
  http_session(std::shared_ptr<server::impl> srv, tcp::socket s) : srv_(std::move(srv)), stream_(std::move(s)) {}

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
                            [self = shared_from_this()](beast::error_code ec, bool tls) { self->on_detect(ec, tls); });
  }

  void on_detect(beast::error_code ec, bool tls) {
    if (ec) return close();
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
      if (srv_->handlers.refused) srv_->handlers.refused(remote_of(stream_), "TLS handshake failed: " + ec.message());
      return close();
    }
    buffer_.consume(used);
    do_read();
  }

  void do_read() {
    parser_.emplace();
    parser_->body_limit(16 * 1024);
    stream_.next_layer().expires_after(srv_->limits.handshake_timeout);
    http::async_read(stream_, buffer_, *parser_,
                     [self = shared_from_this()](beast::error_code ec, std::size_t) { self->on_read(ec); });
  }

  void on_read(beast::error_code ec) {
    if (ec) return close();
    auto req = parser_->release();
    if (plaintext_refused_) {
      req.keep_alive(false);
      respond(req, {400, "text/plain", "this node requires TLS: connect with https:// or wss://\n"});
      return;
    }
    const std::string target(req.target());
    const std::string path = target.substr(0, target.find('?'));
    if (websocket::is_upgrade(req)) {
      stream_.next_layer().expires_never();
      if (path == "/raft" && srv_->handlers.peer_upgrade) {
        if (srv_->tls.require_peer_cert && !peer_cert_verified(stream_)) {
          if (srv_->handlers.refused)
            srv_->handlers.refused(remote_of(stream_), "peer link without a TLS client certificate signed by tls.ca_file");
          req.keep_alive(false);
          respond(req, {403, "text/plain", "peer links need a TLS client certificate signed by the cluster CA\n"});
          return;
        }
        srv_->handlers.peer_upgrade(std::move(stream_), std::move(req));
        return;
      }
      if (path == "/events" && srv_->handlers.events_upgrade) {
        srv_->handlers.events_upgrade(std::move(stream_), std::move(req));
        return;
      }
      if (path == "/ws") {
        std::string ip;
        const std::string remote = remote_of(stream_, &ip);
        // Counted from the upgrade on, so a burst of handshakes cannot
        // overshoot the limit before any of them completes.
        auto pit = srv_->per_ip.find(ip);
        const std::size_t from_ip = pit == srv_->per_ip.end() ? 0 : pit->second;
        if (srv_->ws_count >= srv_->limits.max_connections || from_ip >= srv_->limits.max_connections_per_ip) {
          respond(req, {503, "text/plain", "too many connections\n"});
          return;
        }
        ++srv_->per_ip[ip];
        ++srv_->ws_count;
        auto s = std::make_shared<ws_session>(srv_, std::move(stream_), srv_->next_conn++, remote, ip);
        s->run(std::move(req));
        return;
      }
      respond(req, {404, "text/plain", "not found\n"});
      return;
    }
    if (req.method() != http::verb::get && req.method() != http::verb::head) {
      respond(req, {405, "text/plain", "method not allowed\n"});
      return;
    }
    respond(req, srv_->handlers.http_get ? srv_->handlers.http_get(target) : http_reply{404, "text/plain", ""});
  }

  void respond(const http::request<http::string_body>& req, http_reply r) {
    auto res = std::make_shared<http::response<http::string_body>>(static_cast<http::status>(r.status), req.version());
    res->set(http::field::server, "quorum-chat");
    res->set(http::field::content_type, r.content_type);
    res->set(http::field::access_control_allow_origin, "*");
    res->set(http::field::cache_control, "no-store");
    res->keep_alive(req.keep_alive());
    if (req.method() != http::verb::head) res->body() = std::move(r.body);
    res->prepare_payload();
    http::async_write(stream_, *res, [self = shared_from_this(), res](beast::error_code ec, std::size_t) {
      if (ec || !res->keep_alive()) return self->close();
      self->do_read();
    });
  }

  void close() {
    beast::error_code ec;
    stream_.next_layer().socket().shutdown(tcp::socket::shutdown_send, ec);
  }

  std::shared_ptr<server::impl> srv_;
  net::stream stream_;
  bool plaintext_refused_ = false;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
};

}  // namespace

void server::impl::do_accept() {
  acceptor.async_accept(io, [self = shared_from_this()](beast::error_code ec, tcp::socket s) {
    if (self->stopped) return;
    if (!ec) {
      // Small request/reply frames: no Nagle (with delayed ACKs it stalls
      // a lone frame for ~40 ms).
      beast::error_code ignored;
      s.set_option(tcp::no_delay(true), ignored);
      std::make_shared<http_session>(self, std::move(s))->run();
    }
    self->do_accept();
  });
}

server::server(boost::asio::io_context& io, server_limits limits, server_handlers handlers, server_tls tls)
    : impl_(std::make_shared<impl>(io, limits, std::move(handlers), std::move(tls))) {}

server::~server() = default;

bool server::listen(const std::string& host_port, std::string& err) {
  const auto colon = host_port.rfind(':');
  if (colon == std::string::npos) {
    err = "expected host:port";
    return false;
  }
  beast::error_code ec;
  std::string host = host_port.substr(0, colon);
  if (host.size() > 2 && host.front() == '[') host = host.substr(1, host.size() - 2);
  tcp::resolver resolver(impl_->io);
  auto results = resolver.resolve(host, host_port.substr(colon + 1), ec);
  if (ec || results.empty()) {
    err = "cannot resolve " + host_port + ": " + ec.message();
    return false;
  }
  const tcp::endpoint ep = results.begin()->endpoint();
  impl_->acceptor.open(ep.protocol(), ec);
  if (!ec) impl_->acceptor.set_option(boost::asio::socket_base::reuse_address(true), ec);
  if (!ec) impl_->acceptor.bind(ep, ec);
  if (!ec) impl_->acceptor.listen(boost::asio::socket_base::max_listen_connections, ec);
  if (ec) {
    err = ec.message();
    return false;
  }
  return true;
}

void server::start() { impl_->do_accept(); }

void server::stop() {
  impl_->stopped = true;
  beast::error_code ec;
  impl_->acceptor.close(ec);
  auto sessions = impl_->sessions;
  for (auto& [id, w] : sessions)
    if (auto s = w.lock()) s->close(1001, "server shutting down");
}

std::size_t server::client_count() const { return impl_->sessions.size(); }

}  // namespace qc::net
