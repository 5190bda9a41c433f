// Election backoff (config::max_election_backoff): an election whose round
// trip outlasts the timeout range — slow fsyncs of the vote on both sides,
// or a long link — completes because failed campaigns widen the range, and
// the range returns to its base once a leader is heard (§5.2 timing only).
#include <doctest/doctest.h>

#include <map>

#include "raft/network.h"

using namespace qc;
using qc::test::network;

namespace {

/// Ticks `net` until a leader exists or `limit` ticks pass, checking at
/// every tick that no term has two leaders (§5.2 election safety).
int ticks_to_leader(network& net, int limit) {
  std::map<std::uint64_t, std::string> leader_of_term;
  for (int t = 1; t <= limit; ++t) {
    net.tick(1);
    for (const char* id : {"n1", "n2", "n3"}) {
      auto& c = net.core(id);
      if (c.state() != raft::role::leader) continue;
      auto [it, fresh] = leader_of_term.emplace(c.term(), id);
      REQUIRE(it->second == id);
      (void)fresh;
    }
    if (!net.leader().empty()) return t;
  }
  return -1;
}

}  // namespace

TEST_CASE("a vote round trip longer than the timeout range elects a leader only with backoff") {
  // 12 ticks each way: a vote takes 24 ticks, the timeout is [10, 20).
  network with(3, 11);
  with.set_latency(12);
  const int took = ticks_to_leader(with, 3000);
  MESSAGE("with backoff: leader after " << took << " ticks, term " << with.core(with.leader().empty() ? "n1" : with.leader()).term());
  CHECK(took > 0);
  CHECK(with.core("n1").term() < 20);

  // The same network without it: every candidate times out before its
  // votes arrive and starts a newer term — forever.
  network without(3, 11, [](raft::config& c) { c.max_election_backoff = 0; });
  without.set_latency(12);
  CHECK(ticks_to_leader(without, 3000) == -1);
  MESSAGE("without backoff: no leader after 3000 ticks, term " << without.core("n1").term());
  CHECK(without.core("n1").term() > 50);
}

TEST_CASE("the backoff is bounded and resets once a leader is heard") {
  network net(3, 5);
  net.drop(raft::msg_type::vote);  // pre-votes pass, real votes never arrive
  int widest = 0;
  for (int t = 0; t < 2000; ++t) {
    net.tick(1);
    for (const char* id : {"n1", "n2", "n3"}) widest = std::max(widest, net.core(id).election_timeout());
  }
  CHECK(net.leader().empty());
  CHECK(widest >= 160);  // 10 << 4: the cap was reached
  CHECK(widest < 320);   // and never exceeded
  net.recover();
  REQUIRE(ticks_to_leader(net, 2000) > 0);
  net.tick(5);  // heartbeats reach every follower
  for (const char* id : {"n1", "n2", "n3"}) {
    CAPTURE(id);
    CHECK(net.core(id).election_timeout() < 20);
  }
}
