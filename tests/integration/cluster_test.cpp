// A 5-node cluster under a concurrent write load while nodes are killed,
// paused and restarted (docs/PROTOCOL.md, "Guarantees"). At the end every replica holds the
// same state and every acknowledged send appears exactly once.
#include <doctest/doctest.h>

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <thread>

#include "integration/workload.h"

using namespace qc::test;

TEST_CASE("5 nodes: kill, pause and restart under load; replicas identical; no acked write lost") {
  cluster c(5);
  c.start_all();
  auto leader = c.wait_leader(15s);
  REQUIRE(leader);
  {
    client s;
    REQUIRE(s.connect(c.nodes[0].port));
    REQUIRE(!s.signup("sink").empty());
  }

  std::vector<std::unique_ptr<resilient_writer>> writers;
  for (int i = 0; i < 4; ++i) writers.push_back(std::make_unique<resilient_writer>(c, "w" + std::to_string(i), i));
  std::vector<std::thread> threads;
  for (auto& w : writers) threads.emplace_back([&w] { w->run(); });
  auto total = [&] {
    int t = 0;
    for (auto& w : writers) t += w->count;
    return t;
  };
  auto progress_after = [&](int from, int extra, std::chrono::milliseconds timeout) {
    return eventually([&] { return total() >= from + extra; }, timeout);
  };
  REQUIRE(progress_after(0, 100, 30s));

  // 1. SIGKILL the leader; measure the time to the next acknowledged write.
  {
    auto l = c.wait_leader();
    REQUIRE(l);
    const auto t0 = resilient_writer::now_ms();
    c.node(*l).signal(SIGKILL);
    const int at_kill = total();
    REQUIRE(eventually([&] {
      for (auto& w : writers)
        if (w->last_ack_ms > t0) return true;
      return false;
    }, 10s));
    std::int64_t first = INT64_MAX;
    for (auto& w : writers)
      if (w->last_ack_ms > t0) first = std::min<std::int64_t>(first, w->last_ack_ms);
    MESSAGE("leader " << *l << " killed; next acknowledged write after " << (first - t0) << " ms");
    REQUIRE(progress_after(at_kill, 50, 20s));
    c.node(*l).start();
  }

  // 2. SIGSTOP the leader for longer than an election timeout, then SIGCONT:
  //    it must step down; the rest keeps committing meanwhile.
  {
    auto l = c.wait_leader(15s);
    REQUIRE(l);
    auto& n = c.node(*l);
    n.signal(SIGSTOP);
    const int at_stop = total();
    REQUIRE(progress_after(at_stop, 50, 20s));
    n.signal(SIGCONT);
    CHECK(eventually([&] {
      auto s = n.status();
      return s.is_object() && s.at("role") != json::value("leader");
    }, 10s));
  }

  // 3. Kill two nodes at once (the leader and another), keep going, restart both.
  {
    auto l = c.wait_leader(15s);
    REQUIRE(l);
    std::string other;
    for (auto& n : c.nodes)
      if (n.id != *l && n.pid > 0) other = n.id;
    c.node(*l).signal(SIGKILL);
    c.node(other).signal(SIGKILL);
    const int at_kill = total();
    REQUIRE(progress_after(at_kill, 50, 20s));
    c.node(*l).start();
    c.node(other).start();
    REQUIRE(progress_after(total(), 50, 20s));
  }

  for (auto& w : writers) w->stop = true;
  for (auto& t : threads) t.join();
  MESSAGE("acknowledged sends: " << total());

  auto digests = converged_digests(c);
  REQUIRE(digests.size() == 5);
  for (auto& d : digests) CHECK(d == digests[0]);
  check_exactly_once(c, writers);

  // 4. SIGKILL all five together, restart: nothing acknowledged is lost.
  for (auto& n : c.nodes) n.signal(SIGKILL);
  for (auto& n : c.nodes) n.start();
  REQUIRE(c.wait_leader(20s));
  check_exactly_once(c, writers);
  digests = converged_digests(c);
  REQUIRE(digests.size() == 5);
  for (auto& d : digests) CHECK(d == digests[0]);
}

TEST_CASE("a client whose node dies resumes elsewhere and its nonce retry does not duplicate") {
  cluster c(3);
  c.start_all();
  REQUIRE(c.wait_leader(15s));
  client a;
  REQUIRE(a.connect(c.nodes[0].port));
  const std::string token = a.signup("alice");
  REQUIRE(!token.empty());
  auto r = a.call({{"op", "send"}, {"to", "alice"}, {"body", "once"}, {"nonce", "k1"}});
  REQUIRE(client::ok(r));
  const auto id = r.at("message").at("id");
  c.nodes[0].signal(SIGKILL);
  client b;
  REQUIRE(b.connect(c.nodes[1].port));
  REQUIRE(client::ok(b.call({{"op", "resume"}, {"token", token}})));
  r = b.call({{"op", "send"}, {"to", "alice"}, {"body", "once"}, {"nonce", "k1"}});
  REQUIRE(client::ok(r));
  CHECK(r.at("message").at("id") == id);
  auto h = b.call({{"op", "history"}, {"with", "alice"}});
  CHECK(h.at("messages").as_array().size() == 1);
}

TEST_CASE("a stopped member shows as unreachable within seconds, and as reachable again once it runs") {
  cluster c(3);
  c.start_all();
  auto l = c.wait_leader(15s);
  REQUIRE(l);
  node_proc* follower = nullptr;
  node_proc* leader = nullptr;
  for (auto& n : c.nodes) (n.id == *l ? leader : follower) = &n;
  REQUIRE((leader && follower));
  const auto reachable = [&](const node_proc& from, const std::string& id) {
    auto s = from.status();
    if (!s.is_object()) return -1;
    for (const auto& m : s.at("members").as_array())
      if (m.at("id") == json::value(id)) return m.at("reachable").as_bool() ? 1 : 0;
    return -1;
  };
  REQUIRE(eventually([&] { return reachable(*leader, follower->id) == 1; }, 10s));
  // A peer link that receives nothing (not even the pong to its ping) for
  // ten election timeouts, at least 3 s, is closed.
  follower->signal(SIGSTOP);
  const auto t0 = std::chrono::steady_clock::now();
  const bool gone = eventually([&] { return reachable(*leader, follower->id) == 0; }, 15s);
  const double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  follower->signal(SIGCONT);
  MESSAGE("a stopped member became unreachable after " << took << " s");
  CHECK(gone);
  CHECK(took < 5);
  CHECK(eventually([&] { return reachable(*leader, follower->id) == 1; }, 10s));
}
