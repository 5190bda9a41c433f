// One TCP connection that carries either plain bytes or TLS ([tls] in the
// TOML, docs/SECURITY.md). Every WebSocket and HTTP session of the node —
// client (/ws), peer (/raft) and plain GETs — runs over this type, so one
// listener can serve ws:// and wss:// and one peer link type covers both.
//
// A connection starts plain; start_tls() switches it to TLS before the
// first TLS byte (the server after detecting a ClientHello, a dialer right
// after connecting). Plain connections hold no SSL object at all, so idle
// clients cost nothing extra when TLS is off.
//
// Owned by: whoever owns the session (the loop thread for the node; the
// calling thread for ws_client).
#pragma once

#include <cstddef>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/role.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

#include "net/short_read.h"

namespace qc::net {

/// A plain-or-TLS AsyncStream over a beast::tcp_stream. Beast's lowest
/// layer (get_lowest_layer) is always the tcp_stream, for timeouts and
/// socket options.
class stream {
 public:
  using tcp_type = boost::beast::tcp_stream;
  using tls_type = boost::beast::ssl_stream<tcp_type>;
  using executor_type = tcp_type::executor_type;

  explicit stream(tcp_type tcp) : tcp_(std::in_place, std::move(tcp)) {}
  explicit stream(boost::asio::ip::tcp::socket s) : tcp_(std::in_place, std::move(s)) {}
  explicit stream(boost::asio::io_context& io) : tcp_(std::in_place, io) {}
  stream(stream&&) = default;
  stream& operator=(stream&&) = delete;  // a live stream stays where it is

  /// Switches to TLS with `ctx` (which must outlive the stream). Call it
  /// before any TLS byte is read or written.
  void start_tls(boost::asio::ssl::context& ctx) {
    tls_ = std::make_unique<tls_type>(std::move(*tcp_), ctx);
    tcp_.reset();
  }
  bool is_tls() const { return tls_ != nullptr; }
  /// The TLS layer; only when is_tls().
  tls_type& tls() { return *tls_; }

  /// Ties `token` to this connection's lifetime: it is released when the
  /// stream is destroyed, wherever the stream has moved to by then (the
  /// listener counts accepted connections this way, peer links included).
  void hold(std::shared_ptr<void> token) { token_ = std::move(token); }

  tcp_type& next_layer() { return tls_ ? tls_->next_layer() : *tcp_; }
  const tcp_type& next_layer() const { return tls_ ? tls_->next_layer() : *tcp_; }
  executor_type get_executor() { return next_layer().get_executor(); }

  /// A plain read hands its buffers over as short_read_buffers: a short
  /// read leaves the socket to epoll instead of a recvmsg into EAGAIN
  /// (net/short_read.h). A TLS read is the SSL engine's own, which fills
  /// the first non-empty buffer of a sequence, so only that one is passed.
  template <class MutableBuffers, class Handler>
  void async_read_some(const MutableBuffers& b, Handler&& h) {
    if (tls_) {
      executor_type ex = boost::asio::get_associated_executor(h, get_executor());  // before h moves
      tls_read_some(first_buffer<boost::asio::mutable_buffer>(b), std::move(ex), io_handler(std::forward<Handler>(h)));
    } else tcp_->async_read_some(short_read_buffers<MutableBuffers>(b), std::forward<Handler>(h));
  }

  /// Writes all of `b` (never a part), after every write begun before it
  /// has finished, then calls h(ec, bytes). Beast's own writes (handshake
  /// replies, pings, pongs, close frames) come here, and so do a session's
  /// frames that it writes itself, several in one call (ws_frame.h):
  /// since no write starts while another is under way, a pong that Beast
  /// sends while a batch waits for the socket lands between frames, never
  /// inside one. The stream must not move while a write is under way.
  template <class ConstBuffers, class Handler>
  void async_write_some(const ConstBuffers& b, Handler&& h) {
    if (writing_) {
      auto held = std::make_shared<std::decay_t<Handler>>(std::forward<Handler>(h));
      waiting_writes_.push_back([this, b, held] { start_write(b, std::move(*held)); });
      return;
    }
    start_write(b, std::forward<Handler>(h));
  }

 private:
  /// The completion of a read or write, whatever operation waits for it.
  using io_handler = boost::asio::any_completion_handler<void(boost::system::error_code, std::size_t)>;

  // The TLS side's reads and writes, compiled once (stream.cpp) instead of
  // once per handler type: every WebSocket and HTTP operation of every
  // session type would otherwise carry its own copy of the SSL engine's
  // operations, about half of the code the net sources compile to. `ex` is
  // the handler's own executor: Asio 1.81's erased handler has one that
  // cannot be asked for a non-blocking post, which the SSL operations do,
  // so the handler runs bound to `ex` again.
  void tls_read_some(boost::asio::mutable_buffer b, executor_type ex, io_handler h);
  void tls_write(std::vector<boost::asio::const_buffer> b, executor_type ex, io_handler h);

  /// The first non-empty buffer of `b` (an empty one if none).
  template <class Buffer, class Buffers>
  static Buffer first_buffer(const Buffers& b) {
    for (auto it = boost::asio::buffer_sequence_begin(b); it != boost::asio::buffer_sequence_end(b); ++it)
      if (Buffer x(*it); x.size() != 0) return x;
    return Buffer{};
  }

  template <class ConstBuffers, class Handler>
  void start_write(const ConstBuffers& b, Handler&& h) {
    writing_ = true;
    auto done = [this, h = std::forward<Handler>(h)](const boost::system::error_code& ec, std::size_t n) mutable {
      writing_ = false;
      if (!waiting_writes_.empty()) {
        auto next = std::move(waiting_writes_.front());
        waiting_writes_.pop_front();
        next();
      }
      std::move(h)(ec, n);
    };
    if (tls_)
      tls_write({boost::asio::buffer_sequence_begin(b), boost::asio::buffer_sequence_end(b)}, get_executor(),
                io_handler(std::move(done)));
    else boost::asio::async_write(*tcp_, b, std::move(done));
  }

  std::shared_ptr<void> token_;    ///< see hold(); declared first, so released after the socket closes
  std::optional<tcp_type> tcp_;     ///< set while plain
  std::unique_ptr<tls_type> tls_;  ///< set once TLS (owns the tcp_stream)
  bool writing_ = false;                              ///< a write is under way
  std::deque<std::function<void()>> waiting_writes_;  ///< writes asked for meanwhile, in order
};

/// The TLS close of async_teardown, compiled once (stream.cpp); `ex` as
/// for the stream's TLS reads.
void async_tls_teardown(boost::beast::role_type role, stream& s, stream::executor_type ex,
                        boost::asio::any_completion_handler<void(boost::system::error_code)> h);

/// WebSocket close over a plain-or-TLS stream: a TLS close_notify first
/// when encrypted, then the TCP teardown (found by ADL from Beast).
template <class Handler>
void async_teardown(boost::beast::role_type role, stream& s, Handler&& h) {
  if (s.is_tls()) {
    stream::executor_type ex = boost::asio::get_associated_executor(h, s.get_executor());  // before h moves
    async_tls_teardown(role, s, std::move(ex),
                       boost::asio::any_completion_handler<void(boost::system::error_code)>(std::forward<Handler>(h)));
  } else async_teardown(role, s.next_layer(), std::forward<Handler>(h));
}

/// Synchronous form of async_teardown (Beast requires both).
void teardown(boost::beast::role_type role, stream& s, boost::beast::error_code& ec);

}  // namespace qc::net
