// End-to-end tests of every client op against a real one-node cluster
// (docs/PROTOCOL.md), through the WebSocket client in src/net/.
#include <doctest/doctest.h>

#include <set>

#include "harness/harness.h"
#include "harness/probe.h"

using namespace qc::test;

namespace {

struct one_node {
  cluster c{1};
  one_node() {
    c.start_all();
    bool up = eventually([&] { return http_get(c.nodes[0].port, "/health").first == 200; }, 15s);
    if (!up) c.dump_logs();
    REQUIRE(up);
  }
  int port() const { return c.nodes[0].port; }
};

std::int64_t id_of(const json::object& msg) { return msg.at("id").as_int64(); }

}  // namespace

TEST_CASE("every op of the contract on one node") {
  one_node n;
  client a, a2, b;
  REQUIRE(a.connect(n.port()));
  REQUIRE(a2.connect(n.port()));
  REQUIRE(b.connect(n.port()));

  // hello needs no login.
  auto hello = a.call({{"op", "hello"}, {"id", "h1"}});
  CHECK(client::ok(hello));
  CHECK(hello.at("id") == json::value("h1"));
  CHECK(hello.at("node") == json::value("n1"));
  CHECK(hello.at("role") == json::value("leader"));
  CHECK(hello.at("leader") == json::value("n1"));
  CHECK(hello.at("term").as_int64() >= 1);
  CHECK(hello.contains("version"));

  // Ops that need a login refuse before it.
  for (const char* op : {"send", "history", "unread", "mark_read", "delete_messages", "conversations",
                         "list_accounts", "logout", "delete_account"}) {
    json::object req{{"op", op}, {"to", "x"}, {"body", "b"}, {"ids", json::array{1}}, {"password", "p"}};
    if (std::string(op) == "history") req["with"] = "x";
    auto r = a.call(req);
    CHECK_MESSAGE(client::code(r) == "unauthenticated", std::string(op));
  }

  // create_account
  auto r = a.call({{"op", "create_account"}, {"user", "alice"}, {"password", "secret-a"}});
  CHECK(client::ok(r));
  CHECK(r.at("user") == json::value("alice"));
  CHECK(client::code(a.call({{"op", "create_account"}, {"user", "alice"}, {"password", "x"}})) == "conflict");
  CHECK(client::code(a.call({{"op", "create_account"}, {"user", "bad name"}, {"password", "x"}})) == "bad_request");
  CHECK(client::code(a.call({{"op", "create_account"}, {"user", std::string(33, 'a')}, {"password", "x"}})) == "bad_request");
  CHECK(client::code(a.call({{"op", "create_account"}, {"user", "nopw"}, {"password", ""}})) == "bad_request");
  CHECK(client::ok(b.call({{"op", "create_account"}, {"user", "bob"}, {"password", "secret-b"}})));
  CHECK(client::ok(b.call({{"op", "create_account"}, {"user", "carol"}, {"password", "secret-c"}})));

  // login
  CHECK(client::code(a.call({{"op", "login"}, {"user", "alice"}, {"password", "wrong"}})) == "invalid_credentials");
  CHECK(client::code(a.call({{"op", "login"}, {"user", "nobody"}, {"password", "x"}})) == "invalid_credentials");
  r = a.call({{"op", "login"}, {"user", "alice"}, {"password", "secret-a"}});
  REQUIRE(client::ok(r));
  CHECK(r.at("user") == json::value("alice"));
  CHECK(r.at("unread").as_int64() == 0);
  const std::string alice_token(r.at("token").as_string());
  CHECK(alice_token.size() >= 32);
  // A second connection of alice, bound with resume.
  r = a2.call({{"op", "resume"}, {"token", alice_token}});
  REQUIRE(client::ok(r));
  CHECK(r.at("user") == json::value("alice"));
  CHECK(client::code(b.call({{"op", "resume"}, {"token", "deadbeef"}})) == "invalid_credentials");
  REQUIRE(client::ok(b.call({{"op", "login"}, {"user", "bob"}, {"password", "secret-b"}})));

  // send
  CHECK(client::code(a.call({{"op", "send"}, {"to", "nobody"}, {"body", "hi"}})) == "not_found");
  r = a.call({{"op", "send"}, {"to", "bob"}, {"body", "hi bob"}, {"nonce", "n-1"}});
  REQUIRE(client::ok(r));
  auto m1 = r.at("message").as_object();
  CHECK(m1.at("from") == json::value("alice"));
  CHECK(m1.at("to") == json::value("bob"));
  CHECK(m1.at("body") == json::value("hi bob"));
  CHECK(m1.at("read") == json::value(false));
  CHECK(m1.at("ts").as_int64() > 1'600'000'000'000);
  // Live events: bob (recipient) and alice's other connection, not the sender's socket.
  auto ev = b.ws.next_event(3s, b.err);
  REQUIRE(ev);
  CHECK(ev->at("event") == json::value("message"));
  CHECK(id_of(ev->at("message").as_object()) == id_of(m1));
  auto ev2 = a2.ws.next_event(3s, a2.err);
  REQUIRE(ev2);
  CHECK(id_of(ev2->at("message").as_object()) == id_of(m1));
  // Nonce replay returns the original.
  r = a.call({{"op", "send"}, {"to", "bob"}, {"body", "hi bob"}, {"nonce", "n-1"}});
  REQUIRE(client::ok(r));
  CHECK(id_of(r.at("message").as_object()) == id_of(m1));
  // Ids increase.
  r = a.call({{"op", "send"}, {"to", "bob"}, {"body", "second"}});
  auto m2 = r.at("message").as_object();
  CHECK(id_of(m2) > id_of(m1));
  r = b.call({{"op", "send"}, {"to", "alice"}, {"body", "hello alice"}});
  auto m3 = r.at("message").as_object();
  CHECK(id_of(m3) > id_of(m2));
  // Sending to oneself is allowed.
  CHECK(client::ok(a.call({{"op", "send"}, {"to", "alice"}, {"body", "note to self"}})));

  // history: oldest first, limit keeps the newest, before pages back.
  r = a.call({{"op", "history"}, {"with", "bob"}});
  REQUIRE(client::ok(r));
  auto h = r.at("messages").as_array();
  REQUIRE(h.size() == 3);
  CHECK(id_of(h[0].as_object()) == id_of(m1));
  CHECK(id_of(h[2].as_object()) == id_of(m3));
  r = a.call({{"op", "history"}, {"with", "bob"}, {"limit", 2}});
  h = r.at("messages").as_array();
  REQUIRE(h.size() == 2);
  CHECK(id_of(h[0].as_object()) == id_of(m2));
  r = a.call({{"op", "history"}, {"with", "bob"}, {"before", id_of(m3)}, {"consistency", "local"}});
  h = r.at("messages").as_array();
  REQUIRE(h.size() == 2);
  CHECK(id_of(h[1].as_object()) == id_of(m2));
  CHECK(client::code(a.call({{"op", "history"}, {"with", "bob"}, {"limit", 0}})) == "bad_request");
  CHECK(client::code(a.call({{"op", "history"}, {"with", "bob"}, {"limit", 1001}})) == "bad_request");
  CHECK(client::code(a.call({{"op", "history"}, {"with", "bob"}, {"consistency", "eventual"}})) == "bad_request");
  // A user that does not exist is not_found, read either way, and so is
  // marking their messages read.
  CHECK(client::code(a.call({{"op", "history"}, {"with", "nobody"}})) == "not_found");
  CHECK(client::code(a.call({{"op", "history"}, {"with", "nobody"}, {"consistency", "local"}})) == "not_found");
  CHECK(client::code(a.call({{"op", "mark_read"}, {"with", "nobody"}})) == "not_found");

  // unread and mark_read
  r = b.call({{"op", "unread"}});
  REQUIRE(client::ok(r));
  CHECK(r.at("messages").as_array().size() == 2);
  r = b.call({{"op", "mark_read"}, {"ids", json::array{id_of(m1), id_of(m3), 999999}}});
  REQUIRE(client::ok(r));
  CHECK(r.at("marked").as_int64() == 1);  // m3 is not addressed to bob, 999999 unknown
  std::optional<json::object> rev;  // read receipt to the sender (other events may come first)
  for (int i = 0; i < 5; ++i) {
    rev = a.ws.next_event(3s, a.err);
    if (!rev || rev->at("event") == json::value("read")) break;
  }
  REQUIRE(rev);
  CHECK(rev->at("event") == json::value("read"));
  CHECK(rev->at("by") == json::value("bob"));
  CHECK(rev->at("ids").as_array().size() == 1);
  r = b.call({{"op", "mark_read"}, {"with", "alice"}});
  CHECK(r.at("marked").as_int64() == 1);
  CHECK(b.call({{"op", "unread"}}).at("messages").as_array().empty());
  CHECK(client::code(b.call({{"op", "mark_read"}})) == "bad_request");

  // conversations: newest first with last message and unread count.
  r = a.call({{"op", "conversations"}});
  REQUIRE(client::ok(r));
  auto convs = r.at("conversations").as_array();
  REQUIRE(convs.size() == 2);  // bob and alice (self)
  CHECK(convs[0].at("with") == json::value("alice"));
  CHECK(convs[1].at("with") == json::value("bob"));
  CHECK(id_of(convs[1].at("last").as_object()) == id_of(m3));
  CHECK(convs[1].at("unread").as_int64() == 1);

  // delete_messages: only one's own; all-or-nothing.
  client c;
  REQUIRE(c.connect(n.port()));
  REQUIRE(client::ok(c.call({{"op", "login"}, {"user", "carol"}, {"password", "secret-c"}})));
  CHECK(client::code(c.call({{"op", "delete_messages"}, {"ids", json::array{id_of(m1)}}})) == "forbidden");
  r = b.call({{"op", "delete_messages"}, {"ids", json::array{id_of(m1), 424242}}});
  REQUIRE(client::ok(r));
  CHECK(r.at("deleted").as_int64() == 1);
  bool saw_deleted = false;
  for (int i = 0; i < 5 && !saw_deleted; ++i) {
    auto e = a.ws.next_event(2s, a.err);
    if (!e) break;
    saw_deleted = e->at("event") == json::value("deleted");
  }
  CHECK(saw_deleted);
  CHECK(a.call({{"op", "history"}, {"with", "bob"}}).at("messages").as_array().size() == 2);

  // list_accounts: glob, sorted, paginated.
  r = a.call({{"op", "list_accounts"}});
  REQUIRE(client::ok(r));
  CHECK(r.at("accounts").as_array().size() == 3);
  r = a.call({{"op", "list_accounts"}, {"pattern", "?o*"}});
  CHECK(r.at("accounts").as_array() == json::array{"bob"});
  r = a.call({{"op", "list_accounts"}, {"limit", 2}});
  CHECK(r.at("accounts").as_array() == json::array{"alice", "bob"});
  CHECK(r.at("next") == json::value("bob"));
  r = a.call({{"op", "list_accounts"}, {"limit", 2}, {"after", "bob"}});
  CHECK(r.at("accounts").as_array() == json::array{"carol"});
  CHECK(r.at("next").is_null());

  // status over the socket and over HTTP.
  r = a.call({{"op", "status"}});
  REQUIRE(client::ok(r));
  CHECK(r.at("node") == json::value("n1"));
  CHECK(r.at("members").as_array().size() == 1);
  auto [code, body] = http_get(n.port(), "/status");
  CHECK(code == 200);
  auto st = json::parse(body).as_object();
  for (const char* k : {"node", "role", "term", "leader", "commit_index", "applied_index", "snapshot_index", "members"})
    CHECK_MESSAGE(st.contains(k), k);
  auto mem = st.at("members").as_array()[0].as_object();
  for (const char* k : {"id", "address", "voter", "reachable", "match_index"}) CHECK_MESSAGE(mem.contains(k), k);
  CHECK(http_get(n.port(), "/health").first == 200);
  auto metrics = http_get(n.port(), "/metrics");
  CHECK(metrics.first == 200);
  for (const char* k : {"qc_role", "qc_term", "qc_commit_index", "qc_applied_index", "qc_proposals_total",
                        "qc_commit_latency_seconds_bucket", "qc_peers_reachable", "qc_clients_connected"})
    CHECK_MESSAGE(metrics.second.find(k) != std::string::npos, k);
  auto page = http_get(n.port(), "/");
  CHECK(page.first == 200);
  CHECK(page.second.find("<html") != std::string::npos);

  // logout invalidates the token.
  CHECK(client::ok(a2.call({{"op", "logout"}})));
  CHECK(client::code(a2.call({{"op", "unread"}})) == "unauthenticated");
  client a3;
  REQUIRE(a3.connect(n.port()));
  CHECK(client::code(a3.call({{"op", "resume"}, {"token", alice_token}})) == "invalid_credentials");

  // delete_account: password checked; messages gone for the other side.
  CHECK(client::code(b.call({{"op", "delete_account"}, {"password", "nope"}})) == "invalid_credentials");
  CHECK(client::ok(b.call({{"op", "delete_account"}, {"password", "secret-b"}})));
  CHECK(client::code(b.call({{"op", "unread"}})) == "unauthenticated");
  CHECK(client::code(b.call({{"op", "login"}, {"user", "bob"}, {"password", "secret-b"}})) == "invalid_credentials");
  CHECK(client::code(a.call({{"op", "history"}, {"with", "bob"}})) == "not_found");  // bob is gone
  CHECK(client::code(a.call({{"op", "send"}, {"to", "bob"}, {"body", "x"}})) == "not_found");
}

TEST_CASE("malformed frames get errors and the connection stays open") {
  one_node n;
  client a;
  REQUIRE(a.connect(n.port()));
  std::string err;
  auto raw = [&](const std::string& frame) {
    REQUIRE_FALSE(a.ws.send_raw(frame));
    auto v = a.ws.recv(3s, err);
    REQUIRE(v);
    return v->as_object();
  };
  CHECK(client::code(raw("not json")) == "bad_request");
  CHECK(client::code(raw("[1,2]")) == "bad_request");
  CHECK(client::code(raw("{\"op\":42}")) == "unknown_op");
  auto r = raw("{\"op\":\"frobnicate\",\"id\":{\"x\":[1]}}");
  CHECK(client::code(r) == "unknown_op");
  CHECK(r.at("id") == json::parse("{\"x\":[1]}"));
  CHECK(client::code(raw("{\"op\":\"send\",\"to\":\"bob\",\"body\":\"" + std::string(5000, 'x') + "\"}")).size() > 0);
  CHECK(client::ok(a.call({{"op", "hello"}})));
  // A frame over 64 KiB: an error reply, then close 1009.
  check_oversized_frame_closes(a);
  // The node lives on.
  client b;
  REQUIRE(b.connect(n.port()));
  CHECK(client::ok(b.call({{"op", "hello"}})));
}

TEST_CASE("body over the limit is too_large") {
  one_node n;
  client a;
  REQUIRE(a.connect(n.port()));
  a.signup("alice");
  auto r = a.call({{"op", "send"}, {"to", "alice"}, {"body", std::string(4097, 'x')}});
  CHECK(client::code(r) == "too_large");
  r = a.call({{"op", "send"}, {"to", "alice"}, {"body", std::string(4096, 'x')}});
  CHECK(client::ok(r));
}
