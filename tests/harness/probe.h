// Low-level probes for integration tests of the network edge: raw
// WebSockets from a chosen source address, HTTP responses with their
// headers, raw TCP floods, a process's CPU time from /proc, and the check
// of a node's answer to an oversized frame. The Beast probes' bodies are in
// probe.cpp, compiled once.
//
// Owned by: the test thread.
#pragma once

#include <doctest/doctest.h>

#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/json.hpp>

#include "harness/harness.h"

namespace qc::test {

using raw_ws = boost::beast::websocket::stream<boost::asio::ip::tcp::socket>;

/// A raw WebSocket handshake to 127.0.0.1:port`path` from source address
/// `from` (any 127.x.y.z works on Linux loopback). Null if refused.
std::unique_ptr<raw_ws> ws_from(boost::asio::io_context& io, const std::string& from, int port,
                                const std::string& path = "/ws");

/// Sends one request on a raw WebSocket and reads the next frame (the
/// reply when nothing else is in flight). Empty object on error.
boost::json::object raw_call(raw_ws& ws, const boost::json::object& req);

/// An HTTP response's status and headers (lower-case names).
struct http_head {
  int status = 0;
  std::map<std::string, std::string> headers;
};

/// GET http://127.0.0.1:port/path, keeping the headers. status 0 if down.
http_head http_get_head(int port, const std::string& path);

/// User plus system CPU seconds of process `pid` so far (/proc/PID/stat).
inline double cpu_seconds(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(in)), {});
  // Fields after the command name (which may hold spaces) start after ')'.
  std::istringstream ss(text.substr(text.rfind(')') + 2));
  std::string f;
  std::vector<std::string> fields;
  while (ss >> f) fields.push_back(f);
  // state is field 3 of the full line, i.e. index 0 here; utime/stime are 14/15.
  if (fields.size() < 13) return -1;
  return (std::stod(fields[11]) + std::stod(fields[12])) / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

/// Open file descriptors of process `pid` (/proc/PID/fd).
inline int open_fds(pid_t pid) {
  int n = 0;
  std::error_code ec;
  for (auto it = std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/fd", ec);
       !ec && it != std::filesystem::directory_iterator(); it.increment(ec))
    ++n;
  return n;
}

/// Raw TCP connections to 127.0.0.1:port that send nothing (a descriptor
/// flood). Non-blocking connects; the kernel completes them into the
/// node's accept backlog whether or not the node accepts them.
struct tcp_flood {
  std::vector<int> fds;
  tcp_flood(int port, int n) {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<unsigned short>(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    for (int i = 0; i < n; ++i) {
      const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
      if (fd < 0) break;
      ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
      fds.push_back(fd);
    }
  }
  ~tcp_flood() { release(); }
  /// How many connections already received the node's canned 503.
  int answered_503() {
    int n = 0;
    for (int fd : fds) {
      char buf[64];
      const auto got = ::recv(fd, buf, sizeof buf - 1, MSG_DONTWAIT | MSG_PEEK);
      if (got > 0 && std::string(buf, static_cast<std::size_t>(got)).rfind("HTTP/1.1 503", 0) == 0) ++n;
    }
    return n;
  }
  void release() {
    for (int fd : fds) ::close(fd);
    fds.clear();
  }
};

/// Sends a frame over the 64 KiB limit on `c` and checks the node's answer:
/// a `too_large` error reply, then the close with code 1009.
inline void check_oversized_frame_closes(client& c) {
  REQUIRE_FALSE(c.ws.send_raw("{\"op\":\"hello\",\"pad\":\"" + std::string(70 * 1024, 'x') + "\"}"));
  auto refused = c.ws.recv(3s, c.err);
  REQUIRE_MESSAGE(refused, c.err);
  CHECK(client::code(refused->as_object()) == "too_large");
  CHECK(!c.ws.recv(3s, c.err));
  CHECK(c.ws.close_code() == std::optional<std::uint16_t>(1009));
}

}  // namespace qc::test
