// Unit tests of the Raft core's rules, stepped by hand through an in-memory
// network (tests/raft/network.h), in the style of etcd's raft_test.
#include <doctest/doctest.h>

#include "raft/network.h"

using namespace qc;
using qc::test::network;

namespace {
std::size_t count_data(const std::vector<raft::entry>& es, const std::string& d) {
  std::size_t n = 0;
  for (auto& e : es) n += e.data == d;
  return n;
}
}  // namespace

TEST_CASE("a single voter elects itself and commits at once") {
  network net(1);
  net.elect("n1");
  CHECK(net.core("n1").state() == raft::role::leader);
  auto p = net.core("n1").propose("x");
  CHECK(!p.ec);
  net.settle();
  CHECK(net.core("n1").commit_index() == p.index);
  CHECK(count_data(net.at("n1").applied, "x") == 1);
}

TEST_CASE("election by timeout: one leader, its no-op commits, proposals reach every node") {
  for (int n : {3, 5}) {
    network net(n);
    net.tick(40);
    const auto l = net.leader();
    REQUIRE(!l.empty());
    int leaders = 0;
    for (int i = 1; i <= n; ++i) leaders += net.core("n" + std::to_string(i)).state() == raft::role::leader;
    CHECK(leaders == 1);
    auto p = net.core(l).propose("hello");
    REQUIRE(!p.ec);
    net.settle();
    for (int i = 1; i <= n; ++i) CHECK(count_data(net.at("n" + std::to_string(i)).applied, "hello") == 1);
  }
}

TEST_CASE("proposals on a follower are refused with the leader's id") {
  network net(3);
  net.elect("n1");
  auto p = net.core("n2").propose("x");
  CHECK(p.ec == raft::errc::not_leader);
  CHECK(p.leader == "n1");
}

TEST_CASE("persistence contract: who may speak before the fsync") {
  network net(3);
  net.elect("n1");
  // The candidate's vote requests waited for the durable term and vote.
  bool votes_early = false, votes_late = false;
  for (auto& rd : net.at("n1").readies) {
    for (auto& m : rd.early_messages) votes_early |= m.type == raft::msg_type::pre_vote || m.type == raft::msg_type::vote;
    for (auto& m : rd.messages) votes_late |= m.type == raft::msg_type::vote;
  }
  CHECK(!votes_early);
  CHECK(votes_late);
  // A follower's append responses and vote grants are never early.
  for (auto& rd : net.at("n2").readies)
    for (auto& m : rd.early_messages)
      CHECK(m.type != raft::msg_type::append_resp);
  // The leader's appends may go before its own fsync.
  net.core("n1").propose("y");
  auto rd = net.core("n1").get_ready();
  bool append_early = false;
  for (auto& m : rd.early_messages) append_early |= m.type == raft::msg_type::append && !m.entries.empty();
  CHECK(append_early);
  CHECK(!rd.entries.empty());
  // Not yet durable on the leader: even with both followers' acks the
  // leader counts only itself after advance(); here the acks cannot have
  // arrived, and commit must not include the new entry.
  CHECK(net.core("n1").commit_index() < rd.entries.back().index);
  net.core("n1").advance(rd);
}

TEST_CASE("pre-vote: a partitioned node does not inflate terms or depose the leader") {
  network net(3);
  net.elect("n1");
  const auto term = net.core("n1").term();
  net.isolate("n3");
  net.tick(100);
  CHECK(net.core("n3").term() == term);  // pre-votes never won, term unchanged
  net.recover();
  net.tick(5);
  CHECK(net.leader() == "n1");
  CHECK(net.core("n1").term() == term);
}

TEST_CASE("check-quorum: an isolated leader steps down; the majority elects another") {
  network net(3);
  net.elect("n1");
  net.isolate("n1");
  net.tick(50);
  CHECK(net.core("n1").state() != raft::role::leader);
  const auto l = net.leader();
  CHECK((l == "n2" || l == "n3"));
}

TEST_CASE("lease: a node that heard from a live leader ignores a disruptive vote") {
  network net(3);
  net.elect("n1");
  raft::message v;
  v.type = raft::msg_type::vote;
  v.from = "n3";
  v.to = "n2";
  v.term = net.core("n2").term() + 5;
  v.index = 100;
  v.log_term = 100;
  net.core("n2").step(v);
  CHECK(net.core("n2").term() < v.term);
  CHECK(net.core("n2").leader() == "n1");
}

TEST_CASE("log conflicts are resolved: a minority leader's entries are replaced") {
  network net(3);
  net.elect("n1");
  net.isolate("n1");
  for (int i = 0; i < 5; ++i) net.core("n1").propose("lost" + std::to_string(i));  // never commit
  net.settle();
  net.tick(50);
  const auto l = net.leader();
  REQUIRE((l == "n2" || l == "n3"));
  net.core(l).propose("kept");
  net.settle();
  net.recover();
  net.tick(20);
  for (auto id : {"n1", "n2", "n3"}) {
    CHECK(count_data(net.at(id).applied, "kept") == 1);
    CHECK(count_data(net.at(id).applied, "lost0") == 0);
    CHECK(net.core(id).last_index() == net.core(l).last_index());
  }
}

TEST_CASE("ReadIndex: leader and follower get a read point at the commit index") {
  network net(3);
  net.elect("n1");
  net.core("n1").propose("w");
  net.settle();
  const auto commit = net.core("n1").commit_index();
  CHECK(!net.core("n1").read_index("a"));
  net.settle();
  REQUIRE(net.at("n1").reads.size() == 1);
  CHECK(net.at("n1").reads[0].index == commit);
  CHECK(net.at("n1").reads[0].context == "a");
  CHECK(!net.core("n2").read_index("b"));
  net.settle();
  REQUIRE(net.at("n2").reads.size() == 1);
  CHECK(net.at("n2").reads[0].index == commit);
  // A leader cut off from everyone cannot confirm a read.
  net.isolate("n1");
  net.core("n1").read_index("c");
  net.settle();
  CHECK(net.at("n1").reads.size() == 1);
}

TEST_CASE("leadership transfer hands over to a caught-up voter") {
  network net(3);
  net.elect("n1");
  CHECK(!net.core("n1").transfer_leadership("n3"));
  net.settle();
  CHECK(net.leader() == "n3");
  CHECK(net.core("n1").state() == raft::role::follower);
}

TEST_CASE("membership: learner added, promoted, one change at a time, leader removal") {
  network net(3);
  net.elect("n1");
  net.start("n4", {});
  auto p = net.core("n1").propose_conf_change({raft::conf_change_type::add_learner, "n4", "a4"});
  REQUIRE(!p.ec);
  // A second change while the first is uncommitted is refused.
  CHECK(net.core("n1").propose_conf_change({raft::conf_change_type::remove, "n2", ""}).ec ==
        raft::errc::conf_change_in_progress);
  net.settle();
  CHECK(net.core("n4").is_learner());
  CHECK(net.core("n4").last_index() == net.core("n1").last_index());
  CHECK(!net.core("n1").propose_conf_change({raft::conf_change_type::promote, "n4", ""}).ec);
  net.settle();
  CHECK(raft::is_voter(net.core("n2").config(), "n4"));
  // Removing the leader: it leads until the removal commits, then steps down.
  CHECK(!net.core("n1").propose_conf_change({raft::conf_change_type::remove, "n1", ""}).ec);
  net.settle();
  CHECK(net.core("n1").state() != raft::role::leader);
  net.tick(50);
  const auto l = net.leader();
  CHECK((l == "n2" || l == "n3" || l == "n4"));
  CHECK(!raft::find_member(net.core(l).config(), "n1"));
}

TEST_CASE("snapshot: a follower behind the compacted log catches up through InstallSnapshot") {
  network net(3);
  net.elect("n1");
  net.isolate("n3");
  for (int i = 0; i < 20; ++i) net.core("n1").propose("e" + std::to_string(i));
  net.settle();
  const auto idx = net.core("n1").applied_index();
  REQUIRE(!net.core("n1").compact(idx, "snap-h"));
  net.recover();
  net.tick(5);
  CHECK(net.at("n3").snap.index == idx);
  CHECK(net.core("n3").commit_index() == net.core("n1").commit_index());
}

TEST_CASE("restart keeps term, vote and log") {
  network net(3);
  net.elect("n1");
  net.core("n1").propose("x");
  net.settle();
  const auto term = net.core("n2").term();
  const auto vote = net.core("n2").vote();
  const auto last = net.core("n2").last_index();
  net.crash("n2");
  net.start("n2", {});
  CHECK(net.core("n2").term() == term);
  CHECK(net.core("n2").vote() == vote);
  CHECK(net.core("n2").last_index() == last);
}

TEST_CASE("conf entries encode deterministically and garbage never decodes") {
  raft::conf_entry e{{raft::conf_change_type::add_learner, "n9", "10.0.0.9:7001"},
                     {{{"n1", "a:1", true}, {"n9", "10.0.0.9:7001", false}}}};
  auto text = raft::encode_conf_entry(e);
  CHECK(raft::decode_conf_entry(text) == e);
  for (const char* bad : {"", "conf1", "conf9 0 a b\n", "conf1 7 a b\n", "conf1 0 a b\nx y 2\n", "conf1 0 a b\nb x 1\na y 1\n"})
    CHECK(!raft::decode_conf_entry(bad));
  CHECK(!raft::apply_conf_change({{{"n1", "a", true}}}, {raft::conf_change_type::remove, "n1", ""}));
}
