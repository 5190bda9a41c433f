// Password storage and password-op floods against the real binary: new
// hashes are argon2id with the configured cost, written into the log by
// the node that took the request; old PBKDF2 hashes keep working and are
// replaced at the next login; a full hashing queue answers rate_limited
// with retry_after_ms; create_account is budgeted per connection and per
// address; spraying user names does not lock anyone out.
#include <doctest/doctest.h>

#include <algorithm>
#include <cstdio>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

#include "harness/harness.h"
#include "harness/probe.h"

using namespace qc::test;

namespace {

/// The stored hash of `user` in a node's chat.db (the node keeps running).
std::string stored_hash(const node_proc& n, const std::string& user) {
  return sqlite_shell(n.dir / "chat.db", "SELECT pw_hash FROM accounts WHERE name = '" + user + "'");
}

std::int64_t retry_after(const json::object& r) {
  auto* e = r.if_contains("error");
  if (!e || !e->is_object()) return -1;
  auto* ms = e->as_object().if_contains("retry_after_ms");
  return ms && ms->is_int64() ? ms->as_int64() : -1;
}

}  // namespace

TEST_CASE("hashes: argon2id at the configured cost on every replica; PBKDF2 ones upgraded at login") {
  // Start as an older node would have been configured: PBKDF2.
  cluster c(3, "", "password_hash = \"pbkdf2-sha256\"\n");
  c.start_all();
  REQUIRE(c.wait_leader(15s));
  REQUIRE(c.nodes[1].wait_healthy());  // on a loaded machine its listener may still be starting
  client a;
  REQUIRE(a.connect(c.nodes[1].port));  // a follower hashes, the leader commits
  REQUIRE(client::ok(a.call({{"op", "create_account"}, {"user", "olga"}, {"password", "old-pw"}})));
  CHECK(eventually([&] { return stored_hash(c.nodes[2], "olga").rfind("pbkdf2-sha256$1000$", 0) == 0; }, 5s));

  // Every node restarts with argon2id: the PBKDF2 hash still verifies...
  for (auto& n : c.nodes) {
    n.signal(SIGTERM);
    c.security_toml = "password_hash = \"argon2id\"\nargon2id_passes = 2\nargon2id_memory_kib = 256\n";
    c.write_config(n, true, "");
    n.start();
  }
  REQUIRE(c.wait_leader(15s));
  client b;
  REQUIRE(b.connect(c.nodes[0].port));
  CHECK(client::code(b.call({{"op", "login"}, {"user", "olga"}, {"password", "wrong"}})) == "invalid_credentials");
  REQUIRE(client::ok(b.call({{"op", "login"}, {"user", "olga"}, {"password", "old-pw"}})));
  // ...and that login replaced it, on every replica, with the same string.
  std::string h0;
  CHECK(eventually(
      [&] {
        h0 = stored_hash(c.nodes[0], "olga");
        return h0.rfind("$argon2id$v=19$m=256,t=2,p=1$", 0) == 0 && stored_hash(c.nodes[1], "olga") == h0 &&
               stored_hash(c.nodes[2], "olga") == h0;
      },
      5s));
  // The new hash works, the old password still is the password.
  client d;
  REQUIRE(d.connect(c.nodes[2].port));
  CHECK(client::ok(d.call({{"op", "login"}, {"user", "olga"}, {"password", "old-pw"}})));
  CHECK(client::code(d.call({{"op", "login"}, {"user", "olga"}, {"password", "wrong"}})) == "invalid_credentials");
  CHECK(stored_hash(c.nodes[0], "olga") == h0);  // current parameters: not rewritten again
  // New accounts are argon2id straight away.
  REQUIRE(client::ok(d.call({{"op", "create_account"}, {"user", "nina"}, {"password", "pw"}})));
  CHECK(eventually([&] { return stored_hash(c.nodes[1], "nina").rfind("$argon2id$v=19$m=256,t=2,p=1$", 0) == 0; }, 5s));
}

TEST_CASE("a full hashing queue answers rate_limited with retry_after_ms; retrying then works") {
  // One worker, two slots, and a hash slow enough (~100 ms) to fill them.
  cluster c(1, "[limits]\ncreate_account_per_connection = 1000\ncreate_account_per_address = 1000\n",
            "hash_threads = 1\nhash_queue = 2\nargon2id_passes = 3\nargon2id_memory_kib = 32768\n");
  REQUIRE(c.start_healthy());
  auto& n = c.nodes[0];
  client a;
  REQUIRE(a.connect(n.port));
  std::string err;
  constexpr int burst = 12;
  for (int i = 0; i < burst; ++i)
    REQUIRE(!a.ws.send({{"op", "create_account"}, {"user", "q" + std::to_string(i)}, {"password", "pw"}}, err).is_null());
  int ok = 0, limited = 0;
  std::int64_t max_wait = 0;
  std::vector<std::string> refused;
  for (int i = 0; i < burst; ++i) {
    auto v = a.ws.recv(20s, err);
    REQUIRE_MESSAGE(v, err);
    auto& r = v->as_object();
    if (client::ok(r)) ++ok;
    if (client::code(r) == "rate_limited") {
      ++limited;
      CHECK(retry_after(r) > 0);
      max_wait = std::max(max_wait, retry_after(r));
      CHECK(std::string(r.at("error").at("message").as_string()).find("busy hashing passwords") != std::string::npos);
    }
  }
  MESSAGE(ok << " created, " << limited << " refused, longest retry_after_ms " << max_wait);
  CHECK(ok >= 2);
  CHECK(limited >= 1);
  CHECK(ok + limited == burst);
  CHECK(max_wait <= 5000);
  auto [code, metrics] = http_get(n.port, "/metrics");
  CHECK(metrics.find("qc_password_hashes_refused_total " + std::to_string(limited)) != std::string::npos);
  // A client that waits as told gets in, one at a time.
  int created_later = 0;
  for (int i = 0; i < burst; ++i) {
    auto r = a.call({{"op", "create_account"}, {"user", "q" + std::to_string(i)}, {"password", "pw"}});
    if (client::code(r) == "rate_limited") std::this_thread::sleep_for(std::chrono::milliseconds(retry_after(r)));
    else if (client::ok(r)) ++created_later;
  }
  CHECK(created_later == limited);
}

TEST_CASE("create_account budgets: per connection and per source address") {
  cluster c(1, "[limits]\ncreate_account_per_connection = 2\ncreate_account_per_address = 3\n"
               "create_account_window_ms = 600000\n");
  REQUIRE(c.start_healthy());
  auto& n = c.nodes[0];
  boost::asio::io_context io;
  auto create = [](raw_ws& ws, const std::string& user) {
    return raw_call(ws, {{"op", "create_account"}, {"user", user}, {"password", "pw"}});
  };
  auto a = ws_from(io, "127.0.0.7", n.port);
  auto b = ws_from(io, "127.0.0.7", n.port);
  auto other = ws_from(io, "127.0.0.8", n.port);
  REQUIRE((a && b && other));
  CHECK(client::ok(create(*a, "u1")));
  CHECK(client::ok(create(*a, "u2")));
  auto r = create(*a, "u3");  // the connection's budget is spent
  CHECK(client::code(r) == "rate_limited");
  CHECK(std::string(r.at("error").at("message").as_string()).find("from this connection") != std::string::npos);
  CHECK(client::ok(create(*b, "u3")));  // same address, new connection: the address has 1 left
  r = create(*b, "u4");
  CHECK(client::code(r) == "rate_limited");
  CHECK(std::string(r.at("error").at("message").as_string()).find("from this address") != std::string::npos);
  CHECK(retry_after(r) > 0);
  CHECK(retry_after(r) <= 600'000);
  CHECK(client::ok(create(*other, "u4")));  // another address is not affected
  // Logging in is not account creation: still fine from the spent address.
  CHECK(client::ok(raw_call(*b, {{"op", "login"}, {"user", "u1"}, {"password", "pw"}})));
}

TEST_CASE("spraying user names does not lock out users the limiter has never seen") {
  // A small table (50 names), 3 wrong passwords per name per window.
  cluster c(1, "[limits]\nlogin_failures_per_user = 3\nlogin_failures_per_connection = 100000\n"
               "login_window_ms = 600000\nlogin_tracked_keys = 50\n");
  REQUIRE(c.start_healthy());
  auto& n = c.nodes[0];
  client setup;
  REQUIRE(setup.connect(n.port));
  for (const char* u : {"victim", "alice"})
    REQUIRE(client::ok(setup.call({{"op", "create_account"}, {"user", u}, {"password", std::string("pw-") + u}})));
  client attacker;
  REQUIRE(attacker.connect(n.port));
  for (int i = 0; i < 3; ++i)
    CHECK(client::code(attacker.call({{"op", "login"}, {"user", "victim"}, {"password", "guess"}})) ==
          "invalid_credentials");
  // 500 sprayed names, ten times the table, pipelined.
  std::string err;
  for (int i = 0; i < 500; ++i)
    REQUIRE(!attacker.ws.send({{"op", "login"}, {"user", "spray" + std::to_string(i)}, {"password", "x"}}, err).is_null());
  int refused = 0;
  for (int i = 0; i < 500; ++i) {
    auto v = attacker.ws.recv(20s, err);
    REQUIRE_MESSAGE(v, err);
    if (client::code(v->as_object()) == "rate_limited") ++refused;
  }
  CHECK(refused == 0);
  // alice, never seen by the limiter, logs in; the attacked name stays locked.
  client alice;
  REQUIRE(alice.connect(n.port));
  CHECK(client::ok(alice.call({{"op", "login"}, {"user", "alice"}, {"password", "pw-alice"}})));
  CHECK(client::code(alice.call({{"op", "login"}, {"user", "victim"}, {"password", "pw-victim"}})) == "rate_limited");
}

TEST_CASE("100 clients signing up and logging in at once on one node all succeed, at the default hash cost") {
  // The protocol lists no error for a valid sign-up: with the default
  // budgets and the default argon2id cost, a burst is queued, not refused.
  cluster c(1, "", "argon2id_memory_kib = 19456\nargon2id_passes = 2\n");
  REQUIRE(c.start_healthy());
  const int port = c.nodes[0].port;
  constexpr int clients = 100;
  std::mutex mu;
  std::map<std::string, int> outcomes;
  double slowest = 0;
  std::vector<std::thread> threads;
  for (int i = 0; i < clients; ++i)
    threads.emplace_back([&, i] {
      const auto t0 = std::chrono::steady_clock::now();
      client cl;
      std::string got = "no connection";
      if (cl.connect(port)) {
        const std::string user = "burst" + std::to_string(i);
        auto r = cl.call({{"op", "create_account"}, {"user", user}, {"password", "pw"}}, 60s);
        if (client::ok(r)) r = cl.call({{"op", "login"}, {"user", user}, {"password", "pw"}}, 60s);
        got = client::ok(r) ? "ok" : client::code(r).empty() ? "no reply" : client::code(r);
      }
      const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      std::lock_guard lk(mu);
      ++outcomes[got];
      slowest = std::max(slowest, s);
    });
  for (auto& t : threads) t.join();
  std::string seen;
  for (const auto& [k, n] : outcomes) seen += k + " x" + std::to_string(n) + " ";
  MESSAGE("outcomes: " << seen << "; slowest client " << slowest << " s");
  CHECK(outcomes["ok"] == clients);
}
