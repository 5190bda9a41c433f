// Session idle expiry against the real binary: a token unused for
// [security] session_idle_timeout_ms is refused (`unauthenticated`) on every
// node; use keeps it alive, recorded through the log at most once per
// refresh interval rather than per request.
#include <doctest/doctest.h>

#include "harness/harness.h"

using namespace qc::test;

namespace {

std::int64_t commit_index(const node_proc& n) {
  auto s = n.status();
  return s.is_object() ? s.at("commit_index").as_int64() : -1;
}

std::string login(client& c, const std::string& user) {
  auto r = c.call({{"op", "login"}, {"user", user}, {"password", "pw"}});
  return client::ok(r) ? std::string(r.at("token").as_string()) : std::string();
}

}  // namespace

TEST_CASE("idle sessions expire on every node; used ones live on") {
  // 3 s idle timeout: use is written through the log every 100 ms at most.
  cluster c(3, "", "session_idle_timeout_ms = 3000\n");
  c.start_all();
  REQUIRE(c.wait_leader(15s));
  client a;
  REQUIRE(a.connect(c.nodes[0].port));
  REQUIRE(client::ok(a.call({{"op", "create_account"}, {"user", "ivy"}, {"password", "pw"}})));
  const std::string busy = login(a, "ivy");  // bound to `a`, used every 500 ms
  client idle_c;
  REQUIRE(idle_c.connect(c.nodes[0].port));
  const std::string idle = login(idle_c, "ivy");  // never used again
  idle_c.ws.close();
  REQUIRE(!busy.empty());
  REQUIRE(!idle.empty());

  // 4.5 s of use on one connection: well past the idle timeout.
  for (int i = 0; i < 9; ++i) {
    std::this_thread::sleep_for(500ms);
    CHECK(client::ok(a.call({{"op", "unread"}})));
  }
  // The used token resumes on another node; the idle one is refused there
  // and on the node that issued it.
  client r1, r2, r3;
  REQUIRE(r1.connect(c.nodes[1].port));
  REQUIRE(r2.connect(c.nodes[2].port));
  REQUIRE(r3.connect(c.nodes[0].port));
  CHECK(client::ok(r1.call({{"op", "resume"}, {"token", busy}})));
  auto expired = r2.call({{"op", "resume"}, {"token", idle}});
  CHECK(client::code(expired) == "unauthenticated");
  CHECK(std::string(expired.at("error").at("message").as_string()).find("expired") != std::string::npos);
  CHECK(client::code(r3.call({{"op", "resume"}, {"token", idle}})) == "unauthenticated");
  // An unknown token is still just wrong credentials.
  CHECK(client::code(r3.call({{"op", "resume"}, {"token", std::string(64, 'b')}})) == "invalid_credentials");

  // A connection left idle past the timeout is unbound at its next request.
  std::this_thread::sleep_for(3500ms);
  auto late = r1.call({{"op", "unread"}});
  CHECK(client::code(late) == "unauthenticated");
  CHECK(client::code(r1.call({{"op", "unread"}})) == "unauthenticated");  // stays logged out
  CHECK(client::code(r2.call({{"op", "resume"}, {"token", busy}})) == "unauthenticated");
  // Logging in again works and cleans up: the new session's entry drops
  // the expired ones.
  client fresh;
  REQUIRE(fresh.connect(c.nodes[2].port));
  CHECK(!login(fresh, "ivy").empty());
  CHECK(client::ok(fresh.call({{"op", "unread"}})));
}

TEST_CASE("using a session is not a Raft write per request") {
  // Default 30-day timeout: use is recorded at most once a day per session.
  cluster c(1);
  REQUIRE(c.start_healthy());
  auto& n = c.nodes[0];
  client a;
  REQUIRE(a.connect(n.port));
  REQUIRE(!a.signup("reader").empty());
  const auto before = commit_index(n);
  for (int i = 0; i < 200; ++i) REQUIRE(client::ok(a.call({{"op", "unread"}})));
  CHECK(commit_index(n) == before);
  // And with a short timeout, a burst of requests costs one touch, not one
  // per request (refresh every 2 s here).
  cluster c2(1, "", "session_idle_timeout_ms = 60000\n");
  REQUIRE(c2.start_healthy());
  auto& n2 = c2.nodes[0];
  client b;
  REQUIRE(b.connect(n2.port));
  REQUIRE(!b.signup("reader").empty());
  std::this_thread::sleep_for(2100ms);  // past the refresh interval
  const auto before2 = commit_index(n2);
  for (int i = 0; i < 200; ++i) REQUIRE(client::ok(b.call({{"op", "unread"}})));
  CHECK(eventually([&] { return commit_index(n2) == before2 + 1; }, 2s));
  std::this_thread::sleep_for(300ms);
  CHECK(commit_index(n2) == before2 + 1);
}

TEST_CASE("delete_account ends the user's sessions on every node, not only the one that took it") {
  cluster c(3);
  c.start_all();
  REQUIRE(c.wait_leader(15s));
  client a, b1, b2, b3, b4;
  const std::pair<client*, int> on[] = {{&a, 0}, {&b1, 0}, {&b2, 1}, {&b3, 2}, {&b4, 1}};
  for (auto [cl, n] : on) REQUIRE(cl->connect(c.nodes[n].port));
  REQUIRE(client::ok(a.call({{"op", "create_account"}, {"user", "amy"}, {"password", "pw"}})));
  REQUIRE(!login(a, "amy").empty());
  REQUIRE(client::ok(b1.call({{"op", "create_account"}, {"user", "bo"}, {"password", "pw"}})));
  const std::string t1 = login(b1, "bo");  // on n1, resumed on n2 (b2)
  REQUIRE(!t1.empty());
  REQUIRE(client::ok(b2.call({{"op", "resume"}, {"token", t1}})));
  REQUIRE(!login(b3, "bo").empty());  // sessions of their own, on n3 and n2
  REQUIRE(!login(b4, "bo").empty());
  const auto logged_out = [](client& cl) { return client::code(cl.call({{"op", "unread"}})) == "unauthenticated"; };

  // logout ends this connection and the token's future resumes; the
  // connection that resumed with it on n2 goes on, as do bo's others.
  REQUIRE(client::ok(b1.call({{"op", "logout"}})));
  CHECK(logged_out(b1));
  client late;
  REQUIRE(late.connect(c.nodes[2].port));
  CHECK(eventually([&] { return client::code(late.call({{"op", "resume"}, {"token", t1}})) == "invalid_credentials"; }, 5s));
  CHECK(client::ok(b2.call({{"op", "unread"}})));
  CHECK(client::ok(b3.call({{"op", "unread"}})));

  // delete_account on n3 ends every session of bo, on n2 too.
  REQUIRE(client::ok(b3.call({{"op", "delete_account"}, {"password", "pw"}})));
  CHECK(logged_out(b3));
  CHECK(eventually([&] { return logged_out(b4) && logged_out(b2); }, 5s));

  // A new account of the same name: the old connections are not it. They
  // get none of its events and cannot read its conversations.
  client fresh;
  REQUIRE(fresh.connect(c.nodes[1].port));
  REQUIRE(client::ok(fresh.call({{"op", "create_account"}, {"user", "bo"}, {"password", "other"}})));
  REQUIRE(client::ok(fresh.call({{"op", "login"}, {"user", "bo"}, {"password", "other"}})));
  REQUIRE(client::ok(a.call({{"op", "send"}, {"to", "bo"}, {"body", "for the new bo"}})));
  std::string err;
  auto ev = fresh.ws.next_event(5s, err);
  REQUIRE(ev);
  CHECK(ev->at("event").as_string() == "message");
  for (auto* old : {&b2, &b4}) {
    CHECK_FALSE(old->ws.next_event(300ms, err));
    CHECK(client::code(old->call({{"op", "history"}, {"with", "amy"}})) == "unauthenticated");
  }
}
