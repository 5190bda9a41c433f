// The Raft paper's Figure 8 (§5.4.2), played by hand on five cores: an entry
// from an earlier term that sits on a majority is still not committed, and a
// leader must not commit it by counting replicas. The scenario is run with
// the rule intact (the entry is never lost) and with the test-only rule
// breaker on (the same scenario then loses a committed entry), so the test
// is known to be able to fail.
#include <doctest/doctest.h>

#include <algorithm>
#include <vector>

#include "raft/network.h"

using namespace qc;
using qc::test::network;

namespace {

const std::vector<std::string> all = {"n1", "n2", "n3", "n4", "n5"};

/// Ticks the live nodes one at a time, settling one round at a time, until
/// `done` holds (checked after every round) or `max_ticks` pass.
template <class Pred>
bool run_until(network& net, const std::vector<std::string>& live, Pred done, int max_ticks = 400) {
  for (int t = 0; t < max_ticks; ++t) {
    for (auto& id : live) net.core(id).tick();
    for (int r = 0; r < 50; ++r) {
      if (done()) return true;
      net.settle(1);
    }
    if (done()) return true;
  }
  return false;
}

std::string leader_among(network& net, const std::vector<std::string>& live, std::uint64_t above_term) {
  for (auto& id : live)
    if (net.core(id).state() == raft::role::leader && net.core(id).term() > above_term) return id;
  return "";
}

struct outcome {
  bool committed_old_entry = false;  ///< the term-3 leader counted index i as committed
  bool lost = false;                 ///< ... and a later leader committed another entry at i
};

outcome figure8(bool break_rule) {
  network net(5, 1, [&](raft::config& c) {
    c.max_entries_per_msg = 1;  // one entry per append and one in flight: the
    c.max_inflight = 1;         // old entry reaches a follower before the no-op
    c.testing_bugs.commit_by_counting = break_rule;
  });
  net.elect("n1");
  REQUIRE(net.leader() == "n1");
  // (a) n1 replicates entry i of its term only to n2.
  for (auto id : {"n3", "n4", "n5"}) net.cut("n1", id), net.cut("n2", id);
  const auto p = net.core("n1").propose("A");
  REQUIRE(!p.ec);
  const std::uint64_t i = p.index;
  net.settle();
  REQUIRE(net.core("n2").last_index() == i);
  // (b) n3..n5 elect one of them, X, whose new term's no-op lands at index i
  // on X alone (appends are dropped), then X crashes.
  net.drop(raft::msg_type::append);
  const std::vector<std::string> right = {"n3", "n4", "n5"};
  REQUIRE(run_until(net, {"n1", "n2", "n3", "n4", "n5"}, [&] { return !leader_among(net, right, p.term).empty(); }));
  const auto x = leader_among(net, right, p.term);
  net.settle();  // X persists its no-op (the appends carrying it are dropped)
  const auto x_term = net.core(x).term();
  REQUIRE(net.core(x).term_at(i) == x_term);
  net.crash(x);
  net.recover();
  // (c) the left side (n1, n2 hold entry i) wins the next term with a vote
  // from the right, and replicates entry i then its no-op. The moment it
  // counts entry i as committed, it is cut off, and so is its partner.
  std::vector<std::string> live;
  for (auto& id : all)
    if (id != x) live.push_back(id);
  std::string l;
  REQUIRE(run_until(net, live, [&] {
    l = leader_among(net, {"n1", "n2"}, x_term);
    return !l.empty() && net.core(l).commit_index() >= i;
  }));
  outcome out;
  out.committed_old_entry = net.core(l).term_at(i) == p.term;
  const auto m = l == "n1" ? "n2" : "n1";
  net.isolate(l);
  net.crash(m);
  // (d) X comes back; the three live nodes elect a leader and commit.
  net.start(x, {});
  std::vector<std::string> rest;
  for (auto& id : all)
    if (id != l && id != m) rest.push_back(id);
  std::string final_leader;
  REQUIRE(run_until(net, rest, [&] {
    final_leader = leader_among(net, rest, net.core(l).term());
    return !final_leader.empty() && net.core(final_leader).commit_index() > i;
  }));
  out.lost = out.committed_old_entry && net.core(final_leader).term_at(i) != p.term;
  return out;
}

}  // namespace

TEST_CASE("Figure 8: an old-term entry on a majority is committed only through an entry of the current term") {
  const auto ok = figure8(false);
  CHECK(!ok.lost);
  const auto broken = figure8(true);
  CHECK(broken.committed_old_entry);
  CHECK(broken.lost);  // the scenario catches a leader that commits by counting
}
