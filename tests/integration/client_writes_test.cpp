// A client session writes its frames itself, several in one system call
// (net/ws_frame.h, net/write_batch.h), while Beast still answers pings and
// closes on the same socket. These tests read the node's frames with
// Beast's own client, which refuses any frame that breaks RFC 6455: a pong
// written into the middle of a batch, a wrong length, a masked frame.
#include <doctest/doctest.h>

#include <set>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>

#include "harness/harness.h"

using namespace qc::test;

namespace {

namespace beast = boost::beast;
namespace websocket = beast::websocket;
using tcp = boost::asio::ip::tcp;

/// A blocking WebSocket client that writes and reads when told to (so it
/// can leave the node's replies unread while it pings).
struct raw_client {
  boost::asio::io_context io;
  websocket::stream<tcp::socket> ws{io};
  int pongs = 0;

  explicit raw_client(int port) {
    tcp::resolver r(io);
    boost::asio::connect(ws.next_layer(), r.resolve("127.0.0.1", std::to_string(port)));
    ws.handshake("127.0.0.1:" + std::to_string(port), "/ws");
    ws.control_callback([this](websocket::frame_type kind, beast::string_view) {
      if (kind == websocket::frame_type::pong) ++pongs;
    });
    ws.read_message_max(64 << 20);
  }
  void write(const json::object& req) {
    ws.text(true);
    ws.write(boost::asio::buffer(json::serialize(req)));
  }
  json::object read() {
    beast::flat_buffer b;
    ws.read(b);
    REQUIRE(ws.got_text());
    return json::parse(beast::buffers_to_string(b.data())).as_object();
  }
};

/// A one-node cluster with accounts alice (pw-a) and bob (pw-b); `alice`
/// is a connection logged in as alice.
struct alice_and_bob {
  cluster c{1};
  int port = 0;
  client alice, bob;
  alice_and_bob() {
    c.start_all();
    REQUIRE(c.nodes[0].wait_healthy(15s));
    port = c.nodes[0].port;
    REQUIRE(alice.connect(port));
    REQUIRE(bob.connect(port));
    REQUIRE(client::ok(alice.call({{"op", "create_account"}, {"user", "alice"}, {"password", "pw-a"}})));
    REQUIRE(client::ok(bob.call({{"op", "create_account"}, {"user", "bob"}, {"password", "pw-b"}})));
    REQUIRE(client::ok(alice.call({{"op", "login"}, {"user", "alice"}, {"password", "pw-a"}})));
  }
};

}  // namespace

TEST_CASE("pipelined replies of every frame length arrive whole, with pongs between them") {
  alice_and_bob n;
  const int port = n.port;
  auto& alice = n.alice;
  // 300 messages of 4,000 bytes: a page of all of them is a reply of about
  // 1.2 MB (a 64-bit length), of 10 about 40 KB (16-bit), of 1 under 4 KB.
  for (int i = 0; i < 300; ++i)
    REQUIRE(client::ok(alice.call({{"op", "send"}, {"to", "bob"}, {"body", std::string(4000, 'a' + i % 26)}})));

  raw_client r(port);
  r.write({{"op", "login"}, {"user", "bob"}, {"password", "pw-b"}, {"id", 0}});
  REQUIRE(r.read().at("ok") == json::value(true));

  // Requests whose replies span every header length: `hello` (under 126
  // bytes), one message (126–65,535), and pages past 65,535 bytes.
  struct ask {
    const char* op;
    int limit;
  };
  const ask asks[] = {{"hello", 0}, {"history", 1}, {"history", 10}, {"history", 300}, {"hello", 0}, {"history", 100}};
  const int rounds = 6;  // ~10 MB queued in all, under the node's 16 MiB bound for a slow reader
  int sent = 0;
  for (int k = 0; k < rounds; ++k)
    for (const auto& a : asks) {
      json::object req{{"op", a.op}, {"id", ++sent}};
      if (a.limit) {
        req["with"] = "alice";
        req["limit"] = a.limit;
      }
      r.write(req);
    }
  // Not reading: the node's writes stop on a full socket, part-way through
  // a batch. Pings now make Beast send pongs on that socket meanwhile.
  std::this_thread::sleep_for(300ms);
  for (int i = 0; i < 5; ++i) r.ws.ping({});
  std::this_thread::sleep_for(300ms);

  // Replies match their requests by id: a `hello` may overtake a read
  // that waits for its ReadIndex round.
  std::set<std::int64_t> seen;
  for (int k = 0; k < sent; ++k) {
    auto reply = r.read();
    const auto id = reply.at("id").as_int64();
    REQUIRE(id >= 1);
    REQUIRE(id <= sent);
    CHECK(seen.insert(id).second);
    CHECK(reply.at("ok") == json::value(true));
    const ask& a = asks[(id - 1) % std::size(asks)];
    if (a.limit) {
      const auto& msgs = reply.at("messages").as_array();
      REQUIRE(msgs.size() == static_cast<std::size_t>(a.limit));
      // Newest `limit`, oldest first: the last is message 300's body.
      CHECK(msgs.back().as_object().at("body").as_string() == std::string(4000, 'a' + 299 % 26));
    } else {
      CHECK(reply.at("node") == json::value("n1"));
    }
  }
  // Every ping was answered (the pongs come between frames, never inside one).
  r.write({{"op", "hello"}, {"id", "last"}});
  CHECK(r.read().at("id") == json::value("last"));
  CHECK(r.pongs == 5);
}

TEST_CASE("a reply and the events of the same entries reach every connection, in commit order") {
  alice_and_bob users;
  const int port = users.port;

  // Bob pipelines sends to alice while alice pipelines sends to bob: each
  // node turn applies both kinds, so each socket gets replies and events
  // of the same turn together.
  raw_client b(port), a(port);
  b.write({{"op", "login"}, {"user", "bob"}, {"password", "pw-b"}, {"id", 0}});
  REQUIRE(b.read().at("ok") == json::value(true));
  a.write({{"op", "login"}, {"user", "alice"}, {"password", "pw-a"}, {"id", 0}});
  REQUIRE(a.read().at("ok") == json::value(true));
  const int n = 400;
  for (int i = 1; i <= n; ++i) {
    b.write({{"op", "send"}, {"to", "alice"}, {"body", "from bob " + std::to_string(i)}, {"id", i}});
    a.write({{"op", "send"}, {"to", "bob"}, {"body", "from alice " + std::to_string(i)}, {"id", i}});
  }
  // Each socket: its n replies in id order and the other's n messages in
  // increasing message id, however the two interleave. (The other
  // connection of alice sends nothing, so it adds no events here.)
  for (raw_client* s : {&a, &b}) {
    int replies = 0, events = 0;
    std::int64_t last_event = 0, last_reply = 0;
    while (replies < n || events < n) {
      auto f = s->read();
      if (f.contains("event")) {
        REQUIRE(f.at("event") == json::value("message"));
        const auto id = f.at("message").as_object().at("id").as_int64();
        CHECK(id > last_event);
        last_event = id;
        ++events;
      } else {
        REQUIRE(f.at("ok") == json::value(true));
        CHECK(f.at("id").as_int64() == ++replies);  // sends are answered in commit order
        const auto id = f.at("message").as_object().at("id").as_int64();
        CHECK(id > last_reply);
        last_reply = id;
      }
    }
    CHECK(replies == n);
    CHECK(events == n);
  }
}
