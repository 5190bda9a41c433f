// A push-only WebSocket: the server writes text frames, the browser only
// listens (what it sends is read and discarded, so pings and the close
// handshake still work). Used by the live cluster view's event stream
// (GET /events, docs/PROTOCOL.md).
//
// Style of Boost.Beast's websocket/server/chat-multi: enable_shared_from_this,
// do_x/on_x pairs, one write in flight, a bounded send queue. A reader too
// slow for the queue loses frames instead of growing memory: they are
// dropped and counted, and once the queue drains the reader is told how
// many with {"type":"dropped","count":N}.
//
// Owned by: the loop thread; the events actor keeps its subscribers.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>

#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/websocket/stream.hpp>

#include "net/stream.h"

namespace qc::net {

/// Bounds of one subscriber's send queue.
struct push_limits {
  std::size_t max_frames = 64;          ///< frames queued before new ones are dropped
  std::size_t max_bytes = 1 << 20;      ///< bytes queued before new ones are dropped
  std::size_t max_read_bytes = 4096;    ///< what the reader may send (ignored anyway)
};

/// One push-only WebSocket connection. Owned by the events actor (shared
/// with its pending asynchronous operations).
class push_session : public std::enable_shared_from_this<push_session> {
 public:
  using request = boost::beast::http::request<boost::beast::http::string_body>;
  /// Called once the handshake completed (`open`) and once the connection
  /// is gone after that (`closed`). Loop thread.
  using callback = std::function<void(const std::shared_ptr<push_session>&)>;

  push_session(net::stream stream, push_limits limits);

  /// Accepts the WebSocket upgrade in `req`; `open` runs on success.
  void run(request req, callback open, callback closed);
  /// Queues a text frame. False (and the frame counted as dropped) when the
  /// queue is over its bounds or the connection is closing.
  bool push(std::shared_ptr<const std::string> frame);
  /// Closes with a WebSocket close code and reason.
  void close(std::uint16_t code, const std::string& reason);
  /// Frames dropped so far because the queue was full.
  std::uint64_t dropped() const { return dropped_total_; }

 private:
  void on_accept(boost::beast::error_code ec);
  void do_read();
  void on_read(boost::beast::error_code ec);
  void do_write();
  void on_write(boost::beast::error_code ec);
  /// Logs why the session ends (session_failure.h), then finishes it.
  void fail(boost::beast::error_code ec, const char* what);
  void finish();

  boost::beast::websocket::stream<net::stream> ws_;
  push_limits limits_;
  boost::beast::flat_buffer in_;
  std::deque<std::shared_ptr<const std::string>> queue_;
  std::size_t queued_bytes_ = 0;
  std::uint64_t dropped_ = 0;        ///< since the reader was last told
  std::uint64_t dropped_total_ = 0;
  callback open_, closed_;
  bool opened_ = false, closing_ = false, finished_ = false;
};

}  // namespace qc::net
