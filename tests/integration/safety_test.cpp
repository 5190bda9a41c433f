// Safety with real processes: removing the leader through the leader itself
// is answered; a member that comes back with an empty data directory is
// refused and never votes; linearizable reads on followers stay correct
// while leadership moves every few hundred milliseconds and followers are
// SIGKILLed and restarted.
#include <doctest/doctest.h>

#include <atomic>
#include <memory>
#include <mutex>
#include <random>
#include <thread>

#include "integration/workload.h"

using namespace qc::test;

namespace {

json::object with_token(cluster& c, json::object req) {
  req["admin_token"] = c.admin_token;
  return req;
}

std::string role_of(const node_proc& n) {
  auto s = n.status();
  if (!s.is_object()) return {};
  auto* r = s.as_object().if_contains("role");
  return r && r->is_string() ? std::string(r->as_string()) : std::string();
}

/// Logs in `user` (creating it) on a fresh connection to `port`.
bool login(client& cl, int port, const std::string& user) {
  if (!cl.connect(port)) return false;
  cl.call({{"op", "create_account"}, {"user", user}, {"password", "pw"}});
  return client::ok(cl.call({{"op", "login"}, {"user", user}, {"password", "pw"}}));
}

}  // namespace

TEST_CASE("removing the leader through the leader itself gets one answer, and the removed node says so") {
  cluster c(3);
  c.start_all();
  auto l = c.wait_leader(15s);
  REQUIRE(l);
  client cl;
  REQUIRE(cl.connect(c.node(*l).port));
  const auto t0 = std::chrono::steady_clock::now();
  auto r = cl.call(with_token(c, {{"op", "admin.remove_node"}, {"id", *l}}), 35s);
  const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0);
  MESSAGE("admin.remove_node of the leader, sent to it: " << json::serialize(r) << " after " << took.count() << " ms");
  REQUIRE(!r.empty());  // an answer, within the admin bound
  CHECK(took < 30s);
  CHECK(client::ok(r));
  if (client::ok(r)) {
    bool listed = false;
    for (auto& m : r.at("members").as_array()) listed = listed || m.at("id").as_string() == *l;
    CHECK(!listed);
  }
  // Exactly one reply: nothing else arrives for that request.
  std::string err;
  auto extra = cl.ws.recv(1s, err);
  CHECK((!extra || extra->as_object().contains("event")));
  // The others elect among themselves; the removed node reports it.
  CHECK(eventually([&] {
    for (auto& n : c.nodes)
      if (n.id != *l && role_of(n) == "leader") return true;
    return false;
  }, 15s));
  CHECK(eventually([&] { return role_of(c.node(*l)) == "removed"; }, 10s));
}

TEST_CASE("a member that comes back with an empty data directory is refused and never votes") {
  cluster c(3);
  c.start_all();
  auto l = c.wait_leader(15s);
  REQUIRE(l);
  std::vector<std::string> followers;
  for (auto& n : c.nodes)
    if (n.id != *l) followers.push_back(n.id);
  auto& lead = c.node(*l);
  auto& f = c.node(followers[0]);   // down while writes are acknowledged
  auto& w = c.node(followers[1]);   // acknowledges them, then loses its disk
  client writer;
  REQUIRE(login(writer, lead.port, "alice"));
  REQUIRE(client::ok(writer.call({{"op", "send"}, {"to", "alice"}, {"body", "before"}})));
  f.signal(SIGKILL);
  std::vector<std::int64_t> acked;
  for (int i = 0; i < 100; ++i) {
    auto r = writer.call({{"op", "send"}, {"to", "alice"}, {"body", "w" + std::to_string(i)}});
    REQUIRE(client::ok(r));
    acked.push_back(r.at("message").at("id").as_int64());
  }
  // w loses its disk and is started again with the same id and config.
  w.signal(SIGKILL);
  fs::remove_all(w.dir);
  w.start();
  CHECK(eventually([&] { return !w.alive(); }, 15s));  // refused by the leader, which knew it
  CHECK(w.log_text().find("another data directory") != std::string::npos);
  int status = 0;
  if (w.alive()) w.signal(SIGKILL);  // (the check above failed: do not hang)
  if (w.pid > 0) ::waitpid(w.pid, &status, 0), w.pid = -1;
  CHECK((WIFEXITED(status) && WEXITSTATUS(status) != 0));
  // The schedule: now the leader dies and the stale follower comes
  // back, together with the blank member. The blank one must not help the
  // stale one win: it stops again (the follower knew it too).
  lead.signal(SIGKILL);
  fs::remove_all(w.dir);
  w.start();
  f.start();
  CHECK(eventually([&] { return !w.alive(); }, 15s));
  if (w.alive()) w.signal(SIGKILL);
  std::this_thread::sleep_for(2s);
  CHECK(role_of(f) != "leader");  // one of two voters left: no quorum
  // The old leader returns: the two that hold every acknowledged write elect,
  // and every write is there.
  lead.start();
  auto l2 = c.wait_leader(20s);
  REQUIRE(l2);
  CHECK(*l2 != w.id);
  client reader;
  REQUIRE(reader.connect(c.node(*l2).port));
  REQUIRE(client::ok(reader.call({{"op", "login"}, {"user", "alice"}, {"password", "pw"}})));
  auto h = reader.call({{"op", "history"}, {"with", "alice"}, {"limit", 1000}}, 15s);
  REQUIRE(client::ok(h));
  std::set<std::int64_t> seen;
  for (auto& m : h.at("messages").as_array()) seen.insert(m.at("id").as_int64());
  for (auto id : acked) CHECK(seen.count(id) == 1);
  // The remedy the message names: remove it, then add it back with --join.
  client admin;
  REQUIRE(admin.connect(c.node(*l2).port));
  auto rm = admin.call(with_token(c, {{"op", "admin.remove_node"}, {"id", w.id}}), 30s);
  CHECK(client::ok(rm));
  fs::remove_all(w.dir);
  c.write_config(w, false, "");
  w.start({"--join", c.node(*l2).address()});
  CHECK(eventually([&] { return role_of(w) == "follower"; }, 30s));
}

TEST_CASE("linearizable reads on followers stay correct while leadership moves and followers are killed") {
  cluster c(3, "[raft]\nheartbeat_ms = 30\nelection_timeout_ms = 300\n");
  c.start_all();
  REQUIRE(c.wait_leader(15s));
  {
    client setup;
    REQUIRE(login(setup, c.nodes[0].port, "w"));
  }
  const auto run_for = std::chrono::seconds(std::getenv("QC_SLOW") && std::string(std::getenv("QC_SLOW")) == "1" ? 60 : 20);
  const auto end = std::chrono::steady_clock::now() + run_for;
  std::atomic<bool> stop{false};
  std::mutex mu;
  std::int64_t acked_max = 0;  // highest message id acknowledged so far
  std::atomic<int> writes{0}, reads{0}, stale{0}, transfers{0}, kills{0};
  std::vector<std::string> failures;

  // One writer: sends to itself, remembering the highest acknowledged id.
  std::thread writer([&] {
    std::unique_ptr<client> cl;
    std::size_t next = 0;
    while (!stop) {
      if (!cl) {
        auto& n = c.nodes[next++ % c.nodes.size()];
        cl = std::make_unique<client>();
        if (n.pid <= 0 || !login(*cl, n.port, "w")) cl.reset();
        continue;
      }
      auto r = cl->call({{"op", "send"}, {"to", "w"}, {"body", "x"}}, 5s);
      if (!client::ok(r)) {
        if (r.empty()) cl.reset();  // no answer: the node went away
        continue;
      }
      std::lock_guard g(mu);
      acked_max = std::max(acked_max, r.at("message").at("id").as_int64());
      ++writes;
    }
  });
  // Readers on every node: a read that starts after a write was acknowledged
  // must see it (the newest message is at least that write).
  std::vector<std::thread> readers;
  for (std::size_t k = 0; k < c.nodes.size(); ++k)
    readers.emplace_back([&, k] {
      std::unique_ptr<client> cl;
      while (!stop) {
        if (!cl) {
          cl = std::make_unique<client>();
          if (c.nodes[k].pid <= 0 || !login(*cl, c.nodes[k].port, "w")) {
            cl.reset();
            std::this_thread::sleep_for(50ms);
          }
          continue;
        }
        std::int64_t floor;
        {
          std::lock_guard g(mu);
          floor = acked_max;
        }
        auto r = cl->call({{"op", "history"}, {"with", "w"}, {"limit", 1}}, 5s);
        if (!client::ok(r)) {
          if (r.empty()) cl.reset();
          continue;
        }
        ++reads;
        auto& ms = r.at("messages").as_array();
        const std::int64_t newest = ms.empty() ? 0 : ms.back().at("id").as_int64();
        if (newest < floor) {
          ++stale;
          std::lock_guard g(mu);
          failures.push_back("node " + c.nodes[k].id + " read newest id " + std::to_string(newest) +
                             " after id " + std::to_string(floor) + " was acknowledged");
        }
      }
    });
  // Chaos: transfer leadership every ~300 ms; every ~3 s SIGKILL a follower
  // and start it again a second later.
  std::mt19937 rng(7);
  auto next_kill = std::chrono::steady_clock::now() + 3s;
  while (std::chrono::steady_clock::now() < end) {
    std::this_thread::sleep_for(300ms);
    auto l = c.leader();
    if (!l) continue;
    std::vector<node_proc*> others;
    for (auto& n : c.nodes)
      if (n.id != *l && n.pid > 0) others.push_back(&n);
    if (others.empty()) continue;
    if (std::chrono::steady_clock::now() >= next_kill) {
      auto* victim = others[rng() % others.size()];
      victim->signal(SIGKILL);
      ++kills;
      std::this_thread::sleep_for(1s);
      victim->start();
      next_kill = std::chrono::steady_clock::now() + 3s;
      continue;
    }
    client admin;
    if (!admin.connect(c.node(*l).port)) continue;
    auto to = others[rng() % others.size()]->id;
    if (client::ok(admin.call(with_token(c, {{"op", "admin.transfer_leader"}, {"to", to}}), 5s))) ++transfers;
  }
  stop = true;
  writer.join();
  for (auto& t : readers) t.join();
  MESSAGE(writes.load() << " writes, " << reads.load() << " linearizable reads, " << transfers.load()
                        << " leadership transfers, " << kills.load() << " follower kills, " << stale.load()
                        << " stale reads");
  for (auto& f : failures) FAIL_CHECK(f);
  CHECK(writes > 50);
  CHECK(reads > 100);
  CHECK(transfers > 10);
  CHECK(kills >= 3);
}
