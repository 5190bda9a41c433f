// The [testing] peer fault filter (admin.net_filter) that the fault suite
// (tests/faults) uses for partitions: refused unless [testing] enabled =
// true (as admin.disk_stall is); when on, a leader that drops every peer's frames loses its
// majority and the others elect a new leader; healing brings it back.
#include <doctest/doctest.h>

#include "harness/harness.h"

using namespace qc::test;

namespace {
json::object filter(client& c, const std::string& token, json::array drop) {
  return c.call({{"op", "admin.net_filter"}, {"admin_token", token}, {"drop_from", std::move(drop)}});
}
}  // namespace

TEST_CASE("net_filter: forbidden without [testing] enabled, and with a bad token") {
  cluster c(1);
  c.start_all();
  REQUIRE(eventually([&] { return http_get(c.nodes[0].port, "/health").first == 200; }, 15s));
  client a;
  REQUIRE(a.connect(c.nodes[0].port));
  auto r = filter(a, c.admin_token, {});
  CHECK(client::code(r) == "forbidden");
  r = a.call({{"op", "admin.net_filter"}, {"admin_token", "wrong"}, {"drop_from", json::array{}}});
  CHECK(client::code(r) == "forbidden");
  // The log-write stall (catchup_test.cpp) is refused the same way.
  r = a.call({{"op", "admin.disk_stall"}, {"admin_token", c.admin_token}, {"delay_ms", 100}});
  CHECK(client::code(r) == "forbidden");
}

TEST_CASE("net_filter: an isolated leader is replaced; healing reunites the cluster") {
  cluster c(3, "\n[testing]\nenabled = true\n");
  c.start_all();
  auto leader = c.wait_leader(20s);
  REQUIRE(leader);
  client a;
  REQUIRE(a.connect(c.node(*leader).port));
  CHECK(client::code(a.call({{"op", "admin.net_filter"}, {"admin_token", "wrong"}, {"drop_from", json::array{}}})) ==
        "forbidden");
  // Cut the leader off both ways: it drops everyone, everyone drops it.
  json::array others;
  for (auto& p : c.nodes)
    if (p.id != *leader) {
      others.emplace_back(p.id);
      client o;
      REQUIRE(o.connect(p.port));
      REQUIRE(client::ok(filter(o, c.admin_token, {json::value(*leader)})));
    }
  auto r = filter(a, c.admin_token, others);
  REQUIRE(client::ok(r));
  CHECK(r.at("drop_from").as_array().size() == 2);
  // The other two elect a leader among themselves.
  auto other_leader = [&]() -> std::string {
    for (auto& p : c.nodes) {
      if (p.id == *leader) continue;
      auto s = p.status();
      if (s.is_object() && s.at("role") == json::value("leader")) return p.id;
    }
    return {};
  };
  bool moved = eventually([&] { return !other_leader().empty(); }, 30s);
  if (!moved) c.dump_logs();
  REQUIRE(moved);
  const std::string new_leader = other_leader();
  // Heal: everyone follows the new leader (the old one learns the higher term).
  for (auto& p : c.nodes) {
    client o;
    REQUIRE(o.connect(p.port));
    REQUIRE(client::ok(filter(o, c.admin_token, {})));
  }
  bool reunited = eventually(
      [&] {
        auto s = c.node(*leader).status();
        return s.is_object() && s.at("role") == json::value("follower") && s.at("leader").is_string() &&
               s.at("leader").as_string() != *leader;
      },
      30s);
  if (!reunited) c.dump_logs();
  CHECK(reunited);
}
