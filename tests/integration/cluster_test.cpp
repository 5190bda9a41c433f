// A 5-node cluster under a concurrent write load while nodes are killed,
// paused and restarted (contract §3). At the end every replica holds the
// same state and every acknowledged send appears exactly once.
#include <doctest/doctest.h>

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <thread>

#include "integration/harness.h"

using namespace qc::test;

namespace {

/// A writer that keeps sending with nonces, and on any failure reconnects
/// to another node, resumes with its token and retries the same nonce.
struct resilient_writer {
  cluster& c;
  std::string user;
  std::size_t start_node;
  std::map<std::string, std::int64_t> acked;  // nonce -> id
  std::atomic<bool> stop{false};
  std::atomic<int> count{0};
  std::atomic<std::int64_t> last_ack_ms{0};
  std::string token;

  resilient_writer(cluster& cl, std::string u, std::size_t start) : c(cl), user(std::move(u)), start_node(start) {}

  static std::int64_t now_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch()).count();
  }

  bool connect(std::unique_ptr<client>& cl, std::size_t& k) {
    for (int attempt = 0; attempt < 200 && !stop; ++attempt) {
      auto& n = c.nodes[(start_node + k++) % c.nodes.size()];
      if (n.pid <= 0) continue;
      auto fresh = std::make_unique<client>();
      if (!fresh->connect(n.port)) continue;
      auto r = fresh->call({{"op", "resume"}, {"token", token}}, 6s);
      if (client::ok(r)) {
        cl = std::move(fresh);
        return true;
      }
      std::this_thread::sleep_for(50ms);
    }
    return false;
  }

  void run() {
    auto cl = std::make_unique<client>();
    std::size_t k = 0;
    // Sign up through the first live node.
    for (; k < 50 && token.empty(); ++k) {
      auto& n = c.nodes[(start_node + k) % c.nodes.size()];
      cl = std::make_unique<client>();
      if (!cl->connect(n.port)) continue;
      token = cl->signup(user);
    }
    if (token.empty()) return;
    for (int i = 0; !stop; ++i) {
      const std::string nonce = user + "-" + std::to_string(i);
      for (;;) {
        auto r = cl->call({{"op", "send"}, {"to", "sink"}, {"body", nonce}, {"nonce", nonce}}, 6s);
        if (client::ok(r)) {
          acked[nonce] = r.at("message").as_object().at("id").as_int64();
          ++count;
          last_ack_ms = now_ms();
          break;
        }
        if (stop && client::code(r) != "") break;  // give up only on a definite answer
        if (!connect(cl, k)) return;
      }
    }
  }
};

std::int64_t applied_of(const node_proc& n) {
  auto s = n.status();
  return s.is_object() ? s.at("applied_index").as_int64() : -1;
}

/// Waits until every live node has applied the same index and returns the
/// state digests (admin.digest) of all of them.
std::vector<std::string> converged_digests(cluster& c) {
  std::vector<std::string> out;
  bool same = eventually([&] {
    std::set<std::int64_t> applied;
    for (auto& n : c.nodes)
      if (n.pid > 0) applied.insert(applied_of(n));
    return applied.size() == 1 && *applied.begin() > 0;
  }, 30s);
  if (!same) return out;
  for (auto& n : c.nodes) {
    if (n.pid <= 0) continue;
    client cl;
    if (!cl.connect(n.port)) continue;
    auto r = cl.call({{"op", "admin.digest"}, {"admin_token", c.admin_token}, {"consistency", "local"}});
    out.push_back(client::ok(r) ? std::string(r.at("digest").as_string()) : "error:" + client::code(r));
  }
  return out;
}

void check_exactly_once(cluster& c, std::vector<std::unique_ptr<resilient_writer>>& ws) {
  auto l = c.wait_leader(15s);
  REQUIRE(l);
  client sink;
  REQUIRE(sink.connect(c.node(*l).port));
  REQUIRE(client::ok(sink.call({{"op", "login"}, {"user", "sink"}, {"password", "pw"}})));
  for (auto& w : ws) {
    std::map<std::string, int> seen;
    std::map<std::string, std::int64_t> ids;
    std::optional<std::int64_t> before;
    for (;;) {  // page back through the whole conversation
      json::object q{{"op", "history"}, {"with", w->user}, {"limit", 1000}};
      if (before) q["before"] = *before;
      auto h = sink.call(q);
      REQUIRE(client::ok(h));
      auto& msgs = h.at("messages").as_array();
      for (auto& m : msgs) {
        std::string b(m.at("body").as_string());
        ++seen[b];
        ids[b] = m.at("id").as_int64();
      }
      if (msgs.size() < 1000) break;
      before = msgs.front().at("id").as_int64();
    }
    for (const auto& [nonce, id] : w->acked) {
      CHECK_MESSAGE(seen[nonce] == 1, "acked " << nonce << " seen " << seen[nonce] << " times");
      CHECK_MESSAGE(ids[nonce] == id, nonce);
    }
    for (const auto& [body, n] : seen) CHECK_MESSAGE(n == 1, body << " applied " << n << " times");
  }
}

}  // namespace

TEST_CASE("5 nodes: kill, pause and restart under load; replicas identical; no acked write lost") {
  cluster c(5);
  c.start_all();
  auto leader = c.wait_leader(15s);
  if (!leader) c.dump_logs();
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
