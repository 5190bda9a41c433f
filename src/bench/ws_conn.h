// One asynchronous client WebSocket for chatbench (Boost.Beast over Asio):
// many requests pipelined on one socket, matched to replies by id; events
// go to a callback. Thousands of these share one io_context thread, so the
// benchmark scales to 10k idle connections without a thread each.
//
// Owned by: the io_context thread that runs it (never touched elsewhere).
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/json/object.hpp>

namespace qc::bench {

using clock = std::chrono::steady_clock;

/// An async WebSocket connection. Create with std::make_shared; io thread only.
class ws_conn : public std::enable_shared_from_this<ws_conn> {
 public:
  /// A reply (ok or not). Connection loss and timeouts arrive as
  /// {"ok": false, "error": {"code": "closed" | "timeout"}}.
  using reply_cb = std::function<void(boost::json::object& reply)>;
  using event_cb = std::function<void(boost::json::object& event)>;

  /// A connection to `address` (host:port, resolved numerically).
  ws_conn(boost::asio::io_context& io, std::string address);

  /// TCP connect + WebSocket upgrade of /ws; `done` gets an empty string or the error.
  void connect(std::function<void(const std::string& err)> done);
  /// Sends `req` with a fresh integer id; `cb` runs once with the reply.
  void request(boost::json::object req, reply_cb cb);
  /// Called for every frame carrying "event".
  void on_event(event_cb cb) { on_event_ = std::move(cb); }
  /// Called once when the socket fails or closes (after pending replies got "closed").
  void on_close(std::function<void()> cb) { on_close_ = std::move(cb); }
  /// Fails every request older than `timeout` with code "timeout"; a late
  /// reply to it is then ignored.
  void expire(clock::time_point now, std::chrono::milliseconds timeout);
  /// Closes the socket (pending requests get "closed").
  void close();

  bool open() const { return open_; }
  std::size_t in_flight() const { return pending_.size(); }
  const std::string& address() const { return address_; }

 private:
  struct pending {
    reply_cb cb;
    clock::time_point sent;
  };
  void do_read();
  void do_write();
  void fail_all(const char* code);
  void finish();

  boost::asio::io_context& io_;
  std::string address_;
  boost::beast::websocket::stream<boost::beast::tcp_stream> ws_;
  boost::beast::flat_buffer buf_;
  std::deque<std::string> out_;
  std::unordered_map<std::int64_t, pending> pending_;
  std::int64_t next_id_ = 1;
  bool open_ = false;
  bool closed_ = false;
  event_cb on_event_;
  std::function<void()> on_close_;
};

/// A reply object for a request that never got one.
boost::json::object synthetic_error(const char* code);

}  // namespace qc::bench
