// A small blocking JSON-over-WebSocket client for tests, tools (chatctl) and
// benchmarks (chatbench). Speaks the client protocol of docs/PROTOCOL.md.
//
// Owned by: one thread at a time (it owns its own io_context).
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>

#include <boost/json/value.hpp>

#include "common/error.h"

namespace qc::net {

/// A connected client. Not thread-safe; one per thread.
class ws_client {
 public:
  ws_client();
  ~ws_client();
  ws_client(const ws_client&) = delete;
  ws_client& operator=(const ws_client&) = delete;

  /// Connects to ws://host:port/path; "wss://host:port" connects over TLS
  /// (net::tool_client_context: $QC_TLS_CA). The error names the address
  /// and the cause (std::errc::timed_out past `timeout`).
  qc::error connect(const std::string& address, const std::string& path = "/ws",
                    std::chrono::milliseconds timeout = std::chrono::milliseconds(3000));
  bool is_open() const;
  void close();

  /// Sends one text frame as is (may be invalid JSON: for bad-input tests).
  qc::error send_raw(const std::string& frame);
  /// Sends `req` (an object); if it has no "id", assigns a fresh integer id.
  /// Returns the id used.
  boost::json::value send(boost::json::object req, std::string& err);
  /// Reads the next frame of any kind (reply or event), up to `timeout`.
  std::optional<boost::json::value> recv(std::chrono::milliseconds timeout, std::string& err);
  /// send() then waits for the reply with the same id; events that arrive
  /// meanwhile are kept for next_event(). nullopt on timeout/close (`err`).
  std::optional<boost::json::object> request(boost::json::object req, std::string& err,
                                             std::chrono::milliseconds timeout =
                                                 std::chrono::milliseconds(10000));
  /// The next event (a frame with "event"), from the buffer or the socket.
  std::optional<boost::json::object> next_event(std::chrono::milliseconds timeout, std::string& err);
  /// WebSocket close code received, if the server closed.
  std::optional<std::uint16_t> close_code() const;

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace qc::net
