// Authorization matrix (docs/SECURITY.md): every client and admin op of
// docs/PROTOCOL.md against every role — an anonymous connection, another logged-in user,
// the owner, an admin (right admin_token) and a caller with a wrong
// admin_token — asserting the exact outcome of each cell on one real node.
// Plus the login rate limits ([limits] login_*), the connection limits
// ([limits] max_connections, max_connections_per_ip), admin ops without a
// configured token, and peers without the cluster secret.
#include <doctest/doctest.h>

#include <array>
#include <functional>
#include <map>
#include <memory>

#include <boost/beast/websocket.hpp>

#include "harness/harness.h"
#include "harness/probe.h"

using namespace qc::test;

namespace {

enum role : int { anon, other, owner, admin, bad_admin };
constexpr std::array<const char*, 5> role_names = {"anonymous", "other user", "owner", "admin", "bad admin token"};
constexpr const char* ok = "";  // expected outcome: ok:true

/// One node with three users: alice (the default owner), bob (her
/// correspondent) and mallory (the "other user"), plus "doomed" whose
/// account the owner deletes.
struct fixture {
  cluster c{1};
  client alice, bob;  ///< long-lived sessions used to set up and verify
  std::string alice_token;
  std::map<std::string, std::string> passwords = {
      {"alice", "pw-alice"}, {"bob", "pw-bob"}, {"mallory", "pw-mallory"}, {"doomed", "pw-doomed"}};

  fixture() {
    c.start_all();
    bool up = eventually([&] { return http_get(port(), "/health").first == 200; }, 15s);
    if (!up) c.dump_logs();
    REQUIRE(up);
    REQUIRE(alice.connect(port()));
    REQUIRE(bob.connect(port()));
    for (auto& [u, pw] : passwords)
      REQUIRE(client::ok(alice.call({{"op", "create_account"}, {"user", u}, {"password", pw}})));
    alice_token = login(alice, "alice");
    REQUIRE(!alice_token.empty());
    REQUIRE(!login(bob, "bob").empty());
    REQUIRE(bob_to_alice("setup") > 0);
  }
  int port() const { return c.nodes[0].port; }
  std::string login(client& cl, const std::string& user) {
    auto r = cl.call({{"op", "login"}, {"user", user}, {"password", passwords.at(user)}});
    return client::ok(r) ? std::string(r.at("token").as_string()) : std::string();
  }
  /// Sends bob -> alice; returns the message id (0 on failure).
  std::int64_t bob_to_alice(const std::string& body) {
    auto r = bob.call({{"op", "send"}, {"to", "alice"}, {"body", body}});
    return client::ok(r) ? r.at("message").at("id").as_int64() : 0;
  }
  bool in_alice_history(std::int64_t id) {
    auto r = alice.call({{"op", "history"}, {"with", "bob"}, {"limit", 1000}});
    for (auto& m : r.at("messages").as_array())
      if (m.at("id").as_int64() == id) return true;
    return false;
  }
};

/// What a cell sees: its connection, role, the user it is logged in as
/// (empty for anonymous/admin roles) and that session's token.
struct cell {
  fixture& f;
  client& cl;
  role r;
  std::string user;
  std::string token;
};

struct row {
  const char* op;
  std::function<json::object(cell&)> make;  ///< the request (admin_token is added per role)
  std::array<const char*, 5> expect;        ///< error code per role; ok = ""
  std::function<void(cell&, const json::object&)> check = {};  ///< extra assertions
  const char* owner = "alice";
};

const char* U = "unauthenticated";
const char* F = "forbidden";
const char* B = "bad_request";
const char* IC = "invalid_credentials";

bool involves(const json::value& msg, const std::string& user) {
  return msg.at("from").as_string() == user || msg.at("to").as_string() == user;
}

}  // namespace

TEST_CASE("authorization matrix: every op x every role") {
  fixture f;
  const std::string node_addr = f.c.nodes[0].address();

  const std::vector<row> rows = {
      {"hello", [](cell&) { return json::object{{"op", "hello"}}; }, {ok, ok, ok, ok, ok},
       [](cell&, const json::object& r) { CHECK(r.at("node") == json::value("n1")); }},
      {"status", [](cell&) { return json::object{{"op", "status"}}; }, {ok, ok, ok, ok, ok},
       [](cell& c, const json::object& r) {
         const std::string text = json::serialize(r);
         CHECK(text.find(c.f.c.secret) == std::string::npos);
         CHECK(text.find(c.f.c.admin_token) == std::string::npos);
       }},
      {"create_account",
       [](cell& c) {
         return json::object{{"op", "create_account"}, {"user", "new" + std::to_string(c.r)}, {"password", "x"}};
       },
       {ok, ok, ok, ok, ok}},
      {"login",
       [](cell& c) { return json::object{{"op", "login"}, {"user", "alice"}, {"password", c.f.passwords["alice"]}}; },
       {ok, ok, ok, ok, ok},
       [](cell&, const json::object& r) {
         CHECK(r.at("user") == json::value("alice"));
         CHECK(r.at("token").as_string().size() == 64);
       }},
      {"login (wrong password)",
       [](cell&) { return json::object{{"op", "login"}, {"user", "alice"}, {"password", "guess"}}; },
       {IC, IC, IC, IC, IC}},
      {"resume",
       [](cell& c) {
         client t;
         REQUIRE(t.connect(c.f.port()));
         return json::object{{"op", "resume"}, {"token", c.f.login(t, "alice")}};
       },
       {ok, ok, ok, ok, ok}, [](cell&, const json::object& r) { CHECK(r.at("user") == json::value("alice")); }},
      {"resume (unknown token)",
       [](cell&) { return json::object{{"op", "resume"}, {"token", std::string(64, 'a')}}; }, {IC, IC, IC, IC, IC}},
      {"logout", [](cell&) { return json::object{{"op", "logout"}}; }, {U, ok, ok, U, U},
       [](cell& c, const json::object&) {
         // Only this session's token died: alice's other session lives on.
         client t;
         REQUIRE(t.connect(c.f.port()));
         CHECK(client::code(t.call({{"op", "resume"}, {"token", c.token}})) == IC);
         CHECK(client::ok(t.call({{"op", "resume"}, {"token", c.f.alice_token}})));
       }},
      {"list_accounts", [](cell&) { return json::object{{"op", "list_accounts"}}; }, {U, ok, ok, U, U},
       [](cell&, const json::object& r) { CHECK(r.at("accounts").as_array().size() >= 4); }},
      {"send", [](cell&) { return json::object{{"op", "send"}, {"to", "bob"}, {"body", "matrix"}}; },
       {U, ok, ok, U, U},
       [](cell& c, const json::object& r) { CHECK(r.at("message").at("from").as_string() == c.user); }},
      {"history", [](cell&) { return json::object{{"op", "history"}, {"with", "bob"}}; }, {U, ok, ok, U, U},
       [](cell& c, const json::object& r) {
         // Only the caller's own conversation with bob, never alice's.
         for (auto& m : r.at("messages").as_array()) CHECK(involves(m, c.user));
         if (c.r == owner) CHECK(!r.at("messages").as_array().empty());
       }},
      {"unread", [](cell&) { return json::object{{"op", "unread"}}; }, {U, ok, ok, U, U},
       [](cell& c, const json::object& r) {
         for (auto& m : r.at("messages").as_array()) CHECK(m.at("to").as_string() == c.user);
         if (c.r == owner) CHECK(!r.at("messages").as_array().empty());
       }},
      {"conversations", [](cell&) { return json::object{{"op", "conversations"}}; }, {U, ok, ok, U, U},
       [](cell& c, const json::object& r) {
         for (auto& cv : r.at("conversations").as_array()) CHECK(involves(cv.at("last"), c.user));
       }},
      {"mark_read",
       [](cell& c) {
         return json::object{{"op", "mark_read"}, {"ids", json::array{c.f.bob_to_alice("to mark")}}};
       },
       {U, ok, ok, U, U},
       [](cell& c, const json::object& r) {
         // Ids addressed to someone else are ignored, not counted.
         CHECK(r.at("marked").as_int64() == (c.r == owner ? 1 : 0));
       }},
      {"delete_messages",
       [](cell& c) {
         return json::object{{"op", "delete_messages"}, {"ids", json::array{c.f.bob_to_alice("to delete")}}};
       },
       {U, F, ok, U, U},
       [](cell& c, const json::object& r) {
         if (c.r == owner) CHECK(r.at("deleted").as_int64() == 1);
       }},
      {"delete_account",
       [](cell& c) {
         // Everyone offers the owner's password; it only ever applies to
         // the caller's own account.
         return json::object{{"op", "delete_account"}, {"password", c.f.passwords["doomed"]}};
       },
       {U, IC, ok, U, U},
       [](cell& c, const json::object&) {
         client t;
         REQUIRE(t.connect(c.f.port()));
         CHECK(c.f.login(t, "mallory").size() == 64);  // the other user's account is untouched
         CHECK(c.f.login(t, "doomed").empty() == (c.r >= owner));  // gone once the owner deleted it
       },
       "doomed"},
      {"admin.add_node",
       [&node_addr](cell&) { return json::object{{"op", "admin.add_node"}, {"id", "n1"}, {"address", node_addr}}; },
       {B, B, B, ok, F},
       [](cell&, const json::object& r) { CHECK(r.at("members").as_array().size() == 1); }},
      {"admin.remove_node",
       [](cell& c) {
         // Everyone but the admin asks to remove the only node; the admin
         // names a node that does not exist, which proves the token passed.
         return json::object{{"op", "admin.remove_node"}, {"id", c.r == admin ? "ghost" : "n1"}};
       },
       {B, B, B, "not_found", F}},
      {"admin.transfer_leader", [](cell&) { return json::object{{"op", "admin.transfer_leader"}, {"to", "n1"}}; },
       {B, B, B, ok, F}, [](cell&, const json::object& r) { CHECK(r.at("leader") == json::value("n1")); }},
      {"admin.digest", [](cell&) { return json::object{{"op", "admin.digest"}}; }, {B, B, B, ok, F},
       [](cell&, const json::object& r) { CHECK(r.contains("digest")); }},
  };

  int cells = 0;
  for (const auto& rw : rows) {
    for (int ri = anon; ri <= bad_admin; ++ri) {
      const role r = static_cast<role>(ri);
      CAPTURE(rw.op);
      CAPTURE(role_names[ri]);
      client cl;
      REQUIRE(cl.connect(f.port()));
      cell cx{f, cl, r, {}, {}};
      if (r == other) cx.user = "mallory";
      if (r == owner) cx.user = rw.owner;
      if (!cx.user.empty()) {
        cx.token = f.login(cl, cx.user);
        REQUIRE(!cx.token.empty());
      }
      json::object req = rw.make(cx);
      // Admin credentials ride on every request of those roles: they must
      // never stand in for a login.
      if (r == admin) req["admin_token"] = f.c.admin_token;
      if (r == bad_admin) req["admin_token"] = "not-the-admin-token";
      const auto reply = cl.call(req);
      REQUIRE_MESSAGE(reply.contains("ok"), "no reply: " << cl.err);
      const std::string want = rw.expect[ri];
      CHECK_MESSAGE(client::code(reply) == want, json::serialize(reply));
      if (want.empty() && client::ok(reply) && rw.check) rw.check(cx, reply);
      if (!want.empty() && rw.check && std::string(rw.op) == "delete_account") rw.check(cx, reply);
      ++cells;
    }
  }
  CHECK(cells == 20 * 5);

  // Nothing the non-admins tried changed the cluster.
  auto st = f.c.nodes[0].status();
  CHECK(st.at("role") == json::value("leader"));
  CHECK(st.at("members").as_array().size() == 1);
  // The other user's delete attempt (forbidden) removed nothing: every
  // message bob sent for it is still in alice's history.
  int still_there = 0;
  const auto hist = f.alice.call({{"op", "history"}, {"with", "bob"}, {"limit", 1000}});
  REQUIRE(client::ok(hist));
  for (auto& m : hist.at("messages").as_array())
    if (m.at("body") == json::value("to delete")) ++still_there;
  CHECK(still_there == 4);  // 5 created, only the owner's was deleted
}

TEST_CASE("admin ops are refused when no admin_token is configured, even with an empty token") {
  cluster c(1);
  c.admin_token = "";
  c.write_config(c.nodes[0], true, "");
  c.start_all();
  REQUIRE(eventually([&] { return http_get(c.nodes[0].port, "/health").first == 200; }, 15s));
  client a;
  REQUIRE(a.connect(c.nodes[0].port));
  for (const char* tok : {"", "anything"}) {
    auto r = a.call({{"op", "admin.digest"}, {"admin_token", tok}});
    CHECK(client::code(r) == F);
    auto r2 = a.call({{"op", "admin.transfer_leader"}, {"to", "n1"}, {"admin_token", tok}});
    CHECK(client::code(r2) == F);
  }
}

namespace {
std::string error_message(const json::object& r) {
  return std::string(r.at("error").at("message").as_string());
}
}  // namespace

TEST_CASE("login rate limits: per user, per connection, pipelined, reset on success") {
  // A long window so nothing expires during the test (no timing in asserts).
  cluster c(1, "[limits]\nlogin_failures_per_user = 3\nlogin_failures_per_connection = 5\n"
               "login_window_ms = 600000\n");
  c.start_all();
  const int port = c.nodes[0].port;
  REQUIRE(eventually([&] { return http_get(port, "/health").first == 200; }, 15s));
  client setup;
  REQUIRE(setup.connect(port));
  for (const char* u : {"alice", "bob", "carol", "dave", "erin"})
    REQUIRE(client::ok(setup.call({{"op", "create_account"}, {"user", u}, {"password", std::string("pw-") + u}})));

  SUBCASE("per user: after 3 wrong passwords even the right one waits, from any connection") {
    client a;
    REQUIRE(a.connect(port));
    for (int i = 0; i < 3; ++i)
      CHECK(client::code(a.call({{"op", "login"}, {"user", "alice"}, {"password", "guess"}})) == IC);
    auto r = a.call({{"op", "login"}, {"user", "alice"}, {"password", "pw-alice"}});
    CHECK(client::code(r) == "rate_limited");
    CHECK(error_message(r).find("too many login attempts; retry in ") == 0);
    const auto wait = r.at("error").at("retry_after_ms").as_int64();
    CHECK(wait > 0);
    CHECK(wait <= 600'000);
    client a2;
    REQUIRE(a2.connect(port));
    CHECK(client::code(a2.call({{"op", "login"}, {"user", "alice"}, {"password", "pw-alice"}})) == "rate_limited");
    // Other users are not affected.
    CHECK(client::ok(a2.call({{"op", "login"}, {"user", "bob"}, {"password", "pw-bob"}})));
    // Refusals are counted in /metrics.
    auto [code, body] = http_get(port, "/metrics");
    CHECK(code == 200);
    CHECK(body.find("qc_logins_rate_limited_total 2") != std::string::npos);
  }

  SUBCASE("per connection: 5 wrong logins over many user names, then the connection waits") {
    client a;
    REQUIRE(a.connect(port));
    for (int i = 0; i < 5; ++i)
      CHECK(client::code(a.call({{"op", "login"}, {"user", "nobody" + std::to_string(i)}, {"password", "x"}})) ==
            IC);
    CHECK(client::code(a.call({{"op", "login"}, {"user", "bob"}, {"password", "pw-bob"}})) == "rate_limited");
    // bob himself is not locked: a fresh connection logs him in.
    client b;
    REQUIRE(b.connect(port));
    CHECK(client::ok(b.call({{"op", "login"}, {"user", "bob"}, {"password", "pw-bob"}})));
  }

  SUBCASE("the right password gives the budget back") {
    client a;
    REQUIRE(a.connect(port));
    for (int i = 0; i < 2; ++i)
      CHECK(client::code(a.call({{"op", "login"}, {"user", "carol"}, {"password", "guess"}})) == IC);
    CHECK(client::ok(a.call({{"op", "login"}, {"user", "carol"}, {"password", "pw-carol"}})));
    for (int i = 0; i < 3; ++i)
      CHECK(client::code(a.call({{"op", "login"}, {"user", "carol"}, {"password", "guess"}})) == IC);
    CHECK(client::code(a.call({{"op", "login"}, {"user", "carol"}, {"password", "guess"}})) == "rate_limited");
  }

  SUBCASE("delete_account password guesses count too") {
    client a;
    REQUIRE(a.connect(port));
    REQUIRE(client::ok(a.call({{"op", "login"}, {"user", "dave"}, {"password", "pw-dave"}})));
    for (int i = 0; i < 3; ++i)
      CHECK(client::code(a.call({{"op", "delete_account"}, {"password", "guess"}})) == IC);
    CHECK(client::code(a.call({{"op", "delete_account"}, {"password", "pw-dave"}})) == "rate_limited");
    client b;  // dave still exists (nothing was deleted), but is locked for now
    REQUIRE(b.connect(port));
    CHECK(client::code(b.call({{"op", "login"}, {"user", "dave"}, {"password", "pw-dave"}})) == "rate_limited");
  }

  SUBCASE("pipelined guesses cannot outrun the limit") {
    client a;
    REQUIRE(a.connect(port));
    std::string err;
    for (int i = 0; i < 10; ++i)
      REQUIRE(!a.ws.send({{"op", "login"}, {"user", "erin"}, {"password", "guess"}}, err).is_null());
    int wrong = 0, limited = 0;
    for (int i = 0; i < 10; ++i) {
      auto v = a.ws.recv(10s, err);
      REQUIRE_MESSAGE(v, err);
      const auto code = client::code(v->as_object());
      if (code == IC) ++wrong;
      if (code == "rate_limited") ++limited;
    }
    CHECK(wrong == 3);
    CHECK(limited == 7);
  }
}


TEST_CASE("connection limits hold per IP and per node, and free up on close") {
  cluster c(1, "[limits]\nmax_connections = 3\nmax_connections_per_ip = 2\n");
  c.start_all();
  const int port = c.nodes[0].port;
  REQUIRE(eventually([&] { return http_get(port, "/health").first == 200; }, 15s));
  boost::asio::io_context io;
  auto a1 = ws_from(io, "127.0.0.2", port);
  auto a2 = ws_from(io, "127.0.0.2", port);
  CHECK(a1);
  CHECK(a2);
  CHECK_FALSE(ws_from(io, "127.0.0.2", port));  // third from the same IP
  auto b1 = ws_from(io, "127.0.0.3", port);
  CHECK(b1);                                    // another IP still gets in
  CHECK_FALSE(ws_from(io, "127.0.0.4", port));  // node total reached
  // Plain HTTP (status, health) is not a client WebSocket and still works.
  CHECK(http_get(port, "/health").first == 200);
  // Closing one frees a slot (the server notices the close asynchronously).
  a1->close(boost::beast::websocket::close_code::normal);
  a1.reset();
  std::unique_ptr<boost::beast::websocket::stream<boost::asio::ip::tcp::socket>> again;
  CHECK(eventually([&] { return (again = ws_from(io, "127.0.0.4", port)) != nullptr; }, 10s));
  CHECK(c.nodes[0].alive());
}

TEST_CASE("a node without the cluster secret can neither join, vote nor receive entries") {
  cluster c(3);
  // n3 is a founding member on paper, but holds the wrong secret.
  c.secret = "not-the-cluster-secret";
  c.write_config(c.node("n3"), true, "");
  c.secret = "test-secret";
  c.start_all();
  auto& n1 = c.node("n1");
  auto& n3 = c.node("n3");
  // n1 and n2 form a majority and elect a leader without n3.
  std::string leader;
  REQUIRE(eventually(
      [&] {
        auto s = n1.status();
        if (!s.is_object() || !s.at("leader").is_string()) return false;
        leader = std::string(s.at("leader").as_string());
        return true;
      },
      15s));
  CHECK(leader != "n3");
  client a;
  REQUIRE(a.connect(n1.port));
  REQUIRE(!a.signup("alice").empty());
  // Both sides refuse the handshake and say why.
  CHECK(eventually([&] { return n1.log_text().find("bad cluster secret") != std::string::npos ||
                                c.node("n2").log_text().find("bad cluster secret") != std::string::npos; },
                   15s));
  // n3 never learned a leader nor received an entry.
  auto s3 = n3.status();
  REQUIRE(s3.is_object());
  CHECK(s3.at("leader").is_null());
  const auto n1_commit = n1.status().at("commit_index").as_int64();
  CHECK(n1_commit >= 2);  // alice's account and session
  CHECK(s3.at("commit_index").as_int64() < n1_commit);
  CHECK(s3.at("applied_index").as_int64() < n1_commit);

  // A new node with the wrong secret asking to join is refused too.
  c.secret = "not-the-cluster-secret";
  auto& j = c.add_joiner("n4");
  c.secret = "test-secret";
  j.start({"--join", n1.address()});
  CHECK(eventually([&] { return j.log_text().find("bad cluster secret") != std::string::npos ||
                                n1.log_text().find("claimed id 'n4'") != std::string::npos; },
                   15s));
  auto s1 = n1.status();
  REQUIRE(s1.is_object());
  CHECK(s1.at("members").as_array().size() == 3);
  auto s4 = j.status();
  REQUIRE(s4.is_object());
  CHECK(s4.at("commit_index").as_int64() < n1_commit);
  CHECK(s4.at("leader").is_null());
}
