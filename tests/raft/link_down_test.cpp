// report_link_down: a closed link to the leader shortens failover without
// weakening the vote rules (dissertation §4.2.3).
#include <doctest/doctest.h>

#include "raft/network.h"

using namespace qc;
using qc::test::network;

TEST_CASE("followers that lost their link to a dead leader elect a new one within one minimum timeout") {
  network net(5);
  net.elect("n1");
  REQUIRE(net.leader() == "n1");
  net.crash("n1");
  for (auto id : {"n2", "n3", "n4", "n5"}) net.core(id).report_link_down("n1");
  // Every follower's timer now stands at the minimum timeout (10 ticks); the
  // random remainder is below 10 ticks, so a leader emerges within 10 ticks
  // barring a split vote (not with these fixed seeds); without the
  // hint no follower even starts a pre-vote before 10 ticks.
  int ticks = 0;
  while (ticks < 10 && (net.leader().empty() || net.leader() == "n1")) net.tick(1), ++ticks;
  REQUIRE(!net.leader().empty());
  CHECK(net.leader() != "n1");
  CHECK(ticks < 10);
}

TEST_CASE("one follower's lost link cannot depose a live leader") {
  network net(3);
  net.elect("n1");
  const auto term = net.core("n1").term();
  // n2's link to n1 closed, but n3 still hears n1: n2's pre-votes are refused
  // by n3 (lease) and n1 keeps leading; with n2 cut off from n1 entirely.
  net.cut("n1", "n2");
  net.core("n2").report_link_down("n1");
  net.tick(30);
  CHECK(net.leader() == "n1");
  CHECK(net.core("n1").term() == term);
  CHECK(net.core("n3").term() == term);
  net.recover();
  net.tick(5);
  CHECK(net.leader() == "n1");
}

TEST_CASE("a link-down hint about a non-leader changes nothing") {
  network net(3);
  net.elect("n1");
  net.core("n2").report_link_down("n3");
  net.core("n2").report_link_down("");
  net.tick(3);
  CHECK(net.leader() == "n1");
  CHECK(net.core("n2").state() == raft::role::follower);
}
