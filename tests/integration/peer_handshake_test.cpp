// /raft links that have not proven the cluster secret, against the real
// binary: they may send only small frames, they get one deadline for the
// whole handshake, and only max_peer_handshakes of them are held at once.
#include <doctest/doctest.h>

#include "harness/harness.h"
#include "harness/probe.h"

using namespace qc::test;
namespace websocket = boost::beast::websocket;

namespace {

/// Reads the challenge the acceptor sends first; its "type" ("" on error).
std::string read_challenge(raw_ws& ws) {
  boost::beast::flat_buffer buf;
  boost::beast::error_code ec;
  ws.read(buf, ec);
  if (ec) return {};
  json::error_code jec;
  auto v = json::parse(boost::beast::buffers_to_string(buf.data()), jec);
  if (jec || !v.is_object() || !v.as_object().contains("type")) return {};
  return std::string(v.at("type").as_string());
}

/// Waits (up to `limit`) for the node to close `ws`; how long that took,
/// or -1 ms if it stayed open.
std::chrono::milliseconds time_to_close(boost::asio::io_context& io, raw_ws& ws, std::chrono::milliseconds limit) {
  const auto t0 = std::chrono::steady_clock::now();
  bool closed = false;
  boost::beast::flat_buffer buf;
  ws.async_read(buf, [&](boost::beast::error_code ec, std::size_t) { closed = static_cast<bool>(ec); });
  io.restart();
  io.run_for(limit);
  if (!closed) {
    boost::beast::error_code ignored;
    ws.next_layer().close(ignored);
    io.restart();
    io.run_for(100ms);
    return -1ms;
  }
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0);
}

}  // namespace

TEST_CASE("unauthenticated /raft links: a place in the limits, one deadline, small frames only") {
  cluster c(1, "[limits]\nmax_peer_handshakes = 4\n");
  REQUIRE(c.start_healthy());
  auto& n = c.nodes[0];
  boost::asio::io_context io;

  // Four silent links are held (each got its challenge)...
  std::vector<std::unique_ptr<raw_ws>> held;
  for (int i = 0; i < 4; ++i) {
    held.push_back(ws_from(io, "127.0.0.5", n.port, "/raft"));
    REQUIRE(held.back());
    CHECK(read_challenge(*held.back()) == "challenge");
  }
  // ...the fifth is closed on arrival, and the node says so once.
  auto fifth = ws_from(io, "127.0.0.5", n.port, "/raft");
  if (fifth) CHECK(time_to_close(io, *fifth, 2s) >= 0ms);
  CHECK(eventually([&] { return n.log_text().find("unauthenticated /raft links already (limit 4)") != std::string::npos; },
                   5s));
  // Clients and health checks are unaffected.
  CHECK(http_get(n.port, "/health").first == 200);

  // The held links never answer: the handshake deadline (3 s from the
  // upgrade) closes them, though WebSocket pings would keep them alive.
  const auto waited = time_to_close(io, *held[0], 10s);
  MESSAGE("silent /raft link closed after " << waited.count() << " ms");
  CHECK(waited >= 1500ms);  // already ~0.1 s into its 3 s when we started waiting
  CHECK(waited <= 4500ms);
  for (std::size_t i = 1; i < held.size(); ++i) CHECK(time_to_close(io, *held[i], 3s) >= 0ms);
  CHECK(n.log_text().find("no authenticated link within 3000 ms") != std::string::npos);
  CHECK(eventually([&] { return n.log_text().find("below the limit again") != std::string::npos; }, 5s));

  // Before authenticating, a frame over 4 KiB ends the link (close 1009)
  // without being read: a well-formed auth padded to 100 KiB is never even
  // checked against the secret.
  auto big = ws_from(io, "127.0.0.6", n.port, "/raft");
  REQUIRE(big);
  REQUIRE(read_challenge(*big) == "challenge");
  json::object auth{{"type", "auth"}, {"id", "intruder"}, {"nonce", "00"}, {"mac", "00"},
                    {"pad", std::string(100 * 1024, 'x')}};
  boost::beast::error_code ec;
  big->text(true);
  big->write(boost::asio::buffer(json::serialize(auth)), ec);
  boost::beast::flat_buffer buf;
  if (!ec) big->read(buf, ec);
  // The node reads the frame header, refuses it and closes with 1009 at
  // once: this side sees the close frame, or a reset while still writing.
  CHECK(ec);
  if (ec == websocket::error::closed) CHECK(big->reason().code == websocket::close_code::too_big);
  CHECK(eventually([&] { return n.log_text().find("exceeded the locally configured limit") != std::string::npos; }, 5s));
  CHECK(n.log_text().find("claimed id 'intruder'") == std::string::npos);

  // A small frame is read and refused for what it is.
  auto small = ws_from(io, "127.0.0.6", n.port, "/raft");
  REQUIRE(small);
  REQUIRE(read_challenge(*small) == "challenge");
  auth.erase("pad");
  small->write(boost::asio::buffer(json::serialize(auth)), ec);
  CHECK(time_to_close(io, *small, 2s) >= 0ms);
  CHECK(eventually([&] { return n.log_text().find("claimed id 'intruder'") != std::string::npos; }, 5s));
  CHECK(n.alive());
}

TEST_CASE("a 3-node cluster still forms and replicates with the bounded handshake") {
  cluster c(3, "[limits]\nmax_peer_handshakes = 1\n");
  c.start_all();
  REQUIRE(c.wait_leader(15s));
  client a;
  REQUIRE(a.connect(c.nodes[2].port));
  CHECK(!a.signup("carol").empty());
}
