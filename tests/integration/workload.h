// Shared workload pieces of the integration tests: a resilient writer that
// sends with nonces and fails over between nodes, convergence of replicas
// (applied index + admin.digest), and the exactly-once check of every
// acknowledged send.
//
// Owned by: the test thread (each writer runs on its own thread).
#pragma once

#include <doctest/doctest.h>

#include <atomic>
#include <map>
#include <memory>
#include <set>
#include <thread>

#include "harness/harness.h"

namespace qc::test {

/// Sends `n` messages of `bytes` bytes (after a nonce `tag` + i) to `to`,
/// pipelined on one connection with at most `window` in flight, and
/// requires every reply (each within `reply_timeout`) to be ok.
inline void bulk_send(client& cl, const std::string& to, int n, std::size_t bytes, const std::string& tag,
                      int window, std::chrono::seconds reply_timeout) {
  std::string err;
  const std::string pad(bytes, 'x');
  int sent = 0, got = 0, ok = 0;
  while (got < n) {
    while (sent < n && sent - got < window) {
      const std::string nonce = tag + std::to_string(sent++);
      cl.ws.send({{"op", "send"}, {"to", to}, {"body", nonce + pad}, {"nonce", nonce}}, err);
    }
    auto v = cl.ws.recv(reply_timeout, err);
    REQUIRE(v);
    if (!v->is_object() || v->as_object().contains("event")) continue;
    ++got;
    ok += client::ok(v->as_object());
  }
  REQUIRE(ok == n);
}

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

/// Writers on their own threads; stopped and joined on scope exit, so a
/// failed REQUIRE never leaves a joinable thread behind (std::terminate).
struct writer_pool {
  std::vector<std::unique_ptr<resilient_writer>> writers;
  std::vector<std::thread> threads;
  writer_pool(cluster& c, int n) {
    for (int i = 0; i < n; ++i) writers.push_back(std::make_unique<resilient_writer>(c, "w" + std::to_string(i), i));
    for (auto& w : writers) threads.emplace_back([p = w.get()] { p->run(); });
  }
  ~writer_pool() { stop(); }
  void stop() {
    for (auto& w : writers) w->stop = true;
    for (auto& t : threads)
      if (t.joinable()) t.join();
  }
  int total() const {
    int t = 0;
    for (auto& w : writers) t += w->count;
    return t;
  }
};

inline std::int64_t applied_of(const node_proc& n) {
  auto s = n.status();
  return s.is_object() ? s.at("applied_index").as_int64() : -1;
}

/// Waits until every live node has applied the same index and returns the
/// state digests (admin.digest) of all of them. A digest whose reply gives
/// another applied index than the one converged on comes back as an
/// "error:" entry, so that equal digests mean equal states at that index.
inline std::vector<std::string> converged_digests(cluster& c) {
  std::vector<std::string> out;
  std::set<std::int64_t> applied;
  bool same = eventually([&] {
    applied.clear();
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
    if (!client::ok(r)) {
      out.push_back("error:" + client::code(r));
      continue;
    }
    const auto at = r.at("applied_index").to_number<std::int64_t>();
    out.push_back(at == *applied.begin() ? std::string(r.at("digest").as_string())
                                         : "error: " + n.id + "'s digest is at applied index " + std::to_string(at) +
                                               ", not " + std::to_string(*applied.begin()));
  }
  return out;
}

template <class Writer>  // resilient_writer, or any writer with `user` and `acked` (nonce -> id)
void check_exactly_once(cluster& c, std::vector<std::unique_ptr<Writer>>& ws) {
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


}  // namespace qc::test
