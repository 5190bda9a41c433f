// SIGKILL a node in the middle of a write load, restart it, and find every
// acknowledged write; retries with the same nonce never duplicate.
#include <doctest/doctest.h>

#include <atomic>
#include <map>
#include <mutex>
#include <thread>

#include "harness/harness.h"

using namespace qc::test;

TEST_CASE("SIGKILL under load loses no acknowledged write (one node)") {
  cluster c(1);
  c.start_all();
  auto& n = c.nodes[0];
  REQUIRE(eventually([&] { return http_get(n.port, "/health").first == 200; }, 15s));

  constexpr int writers = 4;
  {
    client setup;
    REQUIRE(setup.connect(n.port));
    REQUIRE(!setup.signup("sink").empty());
    for (int w = 0; w < writers; ++w) REQUIRE(!setup.signup("w" + std::to_string(w)).empty());
  }

  struct record {
    std::map<std::string, std::int64_t> acked;  // nonce -> message id
    std::vector<std::string> unknown;           // sent, no reply before the crash
  };
  std::vector<record> recs(writers);
  std::atomic<int> total_acked{0};
  std::vector<std::thread> threads;
  for (int w = 0; w < writers; ++w) {
    threads.emplace_back([&, w] {
      client cl;
      if (!cl.connect(n.port)) return;
      const std::string me = "w" + std::to_string(w);
      if (!client::ok(cl.call({{"op", "login"}, {"user", me}, {"password", "pw"}}))) return;
      for (int i = 0;; ++i) {
        const std::string nonce = me + "-" + std::to_string(i);
        auto r = cl.call({{"op", "send"}, {"to", "sink"}, {"body", nonce}, {"nonce", nonce}}, 3s);
        if (!client::ok(r)) {
          recs[w].unknown.push_back(nonce);
          return;
        }
        recs[w].acked[nonce] = r.at("message").as_object().at("id").as_int64();
        ++total_acked;
      }
    });
  }
  REQUIRE(eventually([&] { return total_acked.load() >= 300; }, 30s));
  n.signal(SIGKILL);
  for (auto& t : threads) t.join();
  MESSAGE("acknowledged before SIGKILL: " << total_acked.load());

  n.start();
  REQUIRE(eventually([&] { return http_get(n.port, "/health").first == 200; }, 15s));
  client sink;
  REQUIRE(sink.connect(n.port));
  REQUIRE(client::ok(sink.call({{"op", "login"}, {"user", "sink"}, {"password", "pw"}})));
  for (int w = 0; w < writers; ++w) {
    const std::string me = "w" + std::to_string(w);
    // Retrying an unknown outcome with the same nonce yields exactly one message.
    client cl;
    REQUIRE(cl.connect(n.port));
    REQUIRE(client::ok(cl.call({{"op", "login"}, {"user", me}, {"password", "pw"}})));
    for (const auto& nonce : recs[w].unknown) {
      auto r = cl.call({{"op", "send"}, {"to", "sink"}, {"body", nonce}, {"nonce", nonce}});
      REQUIRE(client::ok(r));
      auto again = cl.call({{"op", "send"}, {"to", "sink"}, {"body", nonce}, {"nonce", nonce}});
      CHECK(again.at("message").at("id") == r.at("message").at("id"));
      recs[w].acked[nonce] = r.at("message").as_object().at("id").as_int64();
    }
    auto h = sink.call({{"op", "history"}, {"with", me}, {"limit", 1000}});
    REQUIRE(client::ok(h));
    std::map<std::string, int> seen;
    std::map<std::string, std::int64_t> ids;
    for (auto& m : h.at("messages").as_array()) {
      std::string body(m.at("body").as_string());
      ++seen[body];
      ids[body] = m.at("id").as_int64();
    }
    for (const auto& [nonce, id] : recs[w].acked) {
      CHECK_MESSAGE(seen[nonce] == 1, nonce);
      CHECK_MESSAGE(ids[nonce] == id, nonce);
    }
    CHECK(seen.size() == recs[w].acked.size());
  }
}
