// The live cluster view's timeline events, derived from two successive
// raft_views (actors/cluster_event.h): each kind appears exactly when its
// change happens, and a view that changes nothing yields nothing.
//
// Owned by: the test thread.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "actors/cluster_event.h"

using namespace qc;
using actors::events_between;
using actors::raft_view;

namespace {
raft_view follower(std::uint64_t term, std::string leader) {
  raft_view v;
  v.id = "n1";
  v.member = true;
  v.term = term;
  v.leader = std::move(leader);
  v.config.members = {{"n1", "127.0.0.1:7001", true}, {"n2", "127.0.0.1:7002", true}, {"n3", "127.0.0.1:7003", true}};
  return v;
}

std::vector<std::string> kinds(const raft_view& a, const raft_view& b) {
  std::vector<std::string> k;
  for (const auto& e : events_between(a, b)) k.push_back(e.kind);
  return k;
}
using list = std::vector<std::string>;
}  // namespace

TEST_CASE("cluster events: the first view is the start, an unchanged view is nothing") {
  const auto v = follower(1, "n2");
  CHECK(kinds(raft_view{}, v) == list{"start"});
  CHECK(events_between(raft_view{}, v)[0].text == "started as follower in term 1");
  CHECK(kinds(v, v).empty());
}

TEST_CASE("cluster events: an election from pre-vote to won, then the leader seen by a follower") {
  auto a = follower(3, "n2");
  auto pre = a;
  pre.state = raft::role::pre_candidate;
  pre.leader.clear();
  CHECK(kinds(a, pre) == list{"pre_vote", "leader"});
  CHECK(events_between(a, pre)[0].text == "election timeout: pre-vote for term 4");
  auto cand = pre;
  cand.state = raft::role::candidate;
  cand.term = 4;
  CHECK(kinds(pre, cand) == list{"vote"});
  auto won = cand;
  won.state = raft::role::leader;
  won.leader = "n1";
  const auto e = events_between(cand, won);
  REQUIRE(e.size() == 1);  // no separate "leader" event for itself
  CHECK(e[0].kind == "won");
  CHECK(e[0].term == 4);
  // A follower learning of a new leader in a higher term: leader and term.
  auto f2 = follower(5, "n3");
  CHECK(kinds(follower(4, "n2"), f2) == list{"term", "leader"});
  CHECK(events_between(follower(4, "n2"), f2)[1].extra.at("leader").as_string() == "n3");
  // Stepping down is a role change.
  CHECK(kinds(won, follower(5, "n3")) == list{"role", "leader"});
}

TEST_CASE("cluster events: membership and snapshots") {
  auto a = follower(2, "n2");
  a.commit_index = 100;
  auto b = a;
  b.config.members.push_back({"n4", "127.0.0.1:7004", false});
  b.conf_change_pending = true;
  const auto m = events_between(a, b);
  REQUIRE(m.size() == 1);
  CHECK(m[0].kind == "membership");
  CHECK(m[0].text == "membership n1 n2 n3 n4 (learner) (not yet committed)");
  CHECK(m[0].extra.at("members").as_array().size() == 4);
  // A snapshot at or below the known commit index is this node's own.
  auto taken = a;
  taken.snapshot_index = 100;
  CHECK(kinds(a, taken) == list{"snapshot_taken"});
  // One beyond it came from the leader.
  auto installed = a;
  installed.snapshot_index = 500;
  installed.commit_index = 500;
  CHECK(kinds(a, installed) == list{"snapshot_installed"});
}

TEST_CASE("cluster events: a leader starts and finishes a snapshot stream to a follower") {
  auto l = follower(2, "n1");
  l.state = raft::role::leader;
  l.snapshot_index = 40;
  l.progress = {{"n2", true, 50, 51, raft::progress_state::replicate, true},
                {"n3", true, 10, 11, raft::progress_state::probe, true}};
  auto sending = l;
  sending.progress[1].state = raft::progress_state::snapshot;
  const auto s = events_between(l, sending);
  REQUIRE(s.size() == 1);
  CHECK(s[0].kind == "snapshot_sent");
  CHECK(s[0].extra.at("peer").as_string() == "n3");
  CHECK(s[0].text == "sending snapshot at index 40 to n3");
  auto done = sending;
  done.progress[1] = {"n3", true, 40, 41, raft::progress_state::replicate, true};
  CHECK(kinds(sending, done) == list{"snapshot_delivered"});
  // A follower's progress means nothing: only a leader streams snapshots.
  auto f1 = l, f2 = sending;
  f1.state = f2.state = raft::role::follower;
  CHECK(kinds(f1, f2).empty());
}
