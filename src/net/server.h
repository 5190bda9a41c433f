// The node's one listening port: HTTP (/, /cluster, /status, /health,
// /metrics), client WebSockets (/ws), the event stream (/events) and peer
// WebSockets (/raft).
//
// Owned by: the loop thread (one io_context). Sessions follow Boost.Beast's
// websocket/server/chat-multi example: enable_shared_from_this, do_x/on_x
// pairs, one write in flight, a bounded send queue.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

#include "common/error.h"
#include "net/stream.h"

namespace qc::net {

/// Limits that protect the node from slow, dead or hostile clients.
/// Owned by: the loop thread (copied into the server at construction).
struct server_limits {
  std::size_t max_frame_bytes = 64 * 1024;        ///< larger frame: too_large reply, close 1009
  std::size_t max_send_queue = 4096;              ///< frames queued to a slow reader before it is dropped
  std::size_t max_send_queue_bytes = 16 << 20;    ///< bytes queued to a slow reader before it is dropped
  std::chrono::milliseconds handshake_timeout{10'000};
  std::chrono::milliseconds idle_timeout{600'000};  ///< no frame from the client at all for this long
  std::size_t max_connections = 20'000;           ///< client WebSockets per node
  std::size_t max_connections_per_ip = 20'000;
  /// Accepted connections of every kind (HTTP, /ws, /raft) held at once;
  /// beyond it a new connection gets a canned 503 and is closed at once.
  /// Sized from the descriptor limit (net::plan_descriptors).
  std::size_t max_sockets = 1'000'000;
};

/// TLS on the listener ([tls]): connections that open with a TLS
/// ClientHello get https/wss; plain ones are refused with a 400 naming the
/// fix unless `allow_plaintext`. No context: plain only.
struct server_tls {
  std::shared_ptr<boost::asio::ssl::context> context;
  bool allow_plaintext = false;
  /// /raft upgrades need a TLS client certificate that chains to the CA
  /// (mutual TLS between peers; tls.verify_peers). Refused with 403.
  bool require_peer_cert = false;
};

/// A minimal HTTP reply for GET handlers. Owned by: the loop thread.
struct http_reply {
  unsigned status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
  /// Send `Access-Control-Allow-Origin: *`: only for public, read-only
  /// data other origins may read (a dashboard polling /status).
  bool cors = false;
};

/// One client WebSocket connection (/ws). Created by the server; owned by
/// the loop thread.
class client_session {
 public:
  virtual ~client_session() = default;
  /// Queues a text frame. If the queue is over its limits the session is
  /// closed (slow reader) and false is returned. Loop thread only.
  virtual bool send(std::shared_ptr<const std::string> frame) = 0;
  /// Closes the connection with a WebSocket close code. Loop thread only.
  virtual void close(std::uint16_t code, std::string reason) = 0;
  /// Unique id of this connection within the process.
  virtual std::uint64_t conn_id() const = 0;
  /// Remote address "ip:port".
  virtual const std::string& remote() const = 0;
  /// Remote IP address alone (the key of per-address limits).
  virtual const std::string& ip() const = 0;
};

/// Callbacks from the network into the node. All run on the loop thread,
/// which owns them.
struct server_handlers {
  /// GET of any path other than /ws and /raft. The answer goes to
  /// `respond` (exactly once, on the loop thread, now or later).
  std::function<void(const std::string& target, std::function<void(http_reply)> respond)> http_get;
  /// A client connection completed its WebSocket handshake.
  std::function<void(const std::shared_ptr<client_session>&)> client_open;
  /// A text frame arrived (at most max_frame_bytes). Frames over the limit
  /// never get here: the session replies too_large itself and closes 1009.
  std::function<void(const std::shared_ptr<client_session>&, std::string frame)> client_frame;
  /// The connection is gone (any reason). Called exactly once per open.
  std::function<void(const std::shared_ptr<client_session>&)> client_close;
  /// An upgraded /raft WebSocket, handed over with the HTTP request that
  /// opened it. The peer transport takes it from here.
  std::function<void(net::stream stream, boost::beast::http::request<boost::beast::http::string_body> req)>
      peer_upgrade;
  /// An /events WebSocket upgrade (the live cluster view's event stream),
  /// handed over with its request; the events actor takes it from here.
  std::function<void(net::stream stream, boost::beast::http::request<boost::beast::http::string_body> req)>
      events_upgrade;
  /// A connection refused by the listener itself: a failed TLS handshake
  /// (e.g. a client certificate the CA did not sign) or a /raft upgrade
  /// without a verified client certificate. Remote address, reason; for
  /// the log.
  std::function<void(const std::string& remote, const std::string& why)> refused;
};

/// Accepts TCP connections and routes them. Owned by the loop thread.
///
/// Descriptor exhaustion: connections beyond limits.max_sockets get a
/// canned 503 and are closed. If accept() still fails for want of
/// descriptors (EMFILE/ENFILE: files, peer dials, a limit lowered at run
/// time), accepting pauses on a timer with backoff (10 ms doubling to 1 s)
/// instead of spinning, one line is logged per episode, and each pause
/// frees a reserve descriptor to accept-and-answer-503 pending connections,
/// so clients and health checks get an answer instead of a hang.
class server : public std::enable_shared_from_this<server> {
 public:
  server(boost::asio::io_context& io, server_limits limits, server_handlers handlers, server_tls tls = {});
  ~server();
  /// Binds and listens on "host:port"; the error names the address and cause.
  qc::error listen(const std::string& host_port);
  /// Starts accepting.
  void start();
  /// Stops accepting and closes every client session.
  void stop();
  /// Number of open client WebSocket connections.
  std::size_t client_count() const;

  /// Shared state of the listener and its sessions (defined in server.cpp).
  struct impl;

 private:
  std::shared_ptr<impl> impl_;
};

}  // namespace qc::net
