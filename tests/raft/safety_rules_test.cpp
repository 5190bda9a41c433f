// Safety rules found missing by review, each shown with the rule planted
// back (raft::config::planted_bugs): the test fails the way the product did.
//   - a leader's messages wait for its term and vote to be durable;
//   - read rounds are confirmed only by acks to their own heartbeats, and a
//     duplicate read context is refused;
//   - a leader that removed itself neither answers reads alone nor skips
//     check-quorum, and still campaigns while its removal is uncommitted;
//   - a follower that holds a snapshot's last entry acks its commit index;
//   - campaign() on a leader or a non-voter changes nothing.
#include <doctest/doctest.h>

#include <algorithm>

#include "raft/network.h"

using namespace qc;
using qc::test::network;
using raft::msg_type;

namespace {

/// Adds `id` as a learner through the leader and starts it empty.
void add_learner(network& net, const std::string& leader, const std::string& id) {
  REQUIRE(!net.core(leader).propose_conf_change({raft::conf_change_type::add_learner, id, "a-" + id}).ec);
  net.start(id, {});
  net.settle();
  net.tick(2);
}

}  // namespace

TEST_CASE("no leader message leaves before the term it carries is durable (types.h ready, etcd's rule)") {
  for (const bool planted : {false, true}) {
    CAPTURE(planted);
    network net(1, 1, [&](raft::config& c) { c.testing_bugs.early_messages_before_durable = planted; });
    net.elect("n1");
    add_learner(net, "n1", "n2");
    // A single voter that restarts wins a new term at once; its no-op
    // append to the learner depends on that term being on disk.
    net.crash("n1");
    net.start("n1", {});
    auto& n1 = net.core("n1");
    const auto term_before = n1.term();
    REQUIRE(!n1.campaign());
    REQUIRE(n1.state() == raft::role::leader);
    auto rd = n1.get_ready();
    REQUIRE(rd.hard);
    CHECK(rd.hard->term == term_before + 1);
    const bool early_append = std::any_of(rd.early_messages.begin(), rd.early_messages.end(),
                                          [](auto& m) { return m.type == msg_type::append; });
    const bool held_append = std::any_of(rd.messages.begin(), rd.messages.end(),
                                         [](auto& m) { return m.type == msg_type::append; });
    CHECK(early_append == planted);
    CHECK(held_append == !planted);
    // While that batch is being persisted, new proposals go nowhere early either.
    REQUIRE(!n1.propose("during the fsync").ec);
    if (!planted) CHECK(n1.take_early_messages().empty());
  }
}

TEST_CASE("a read round is confirmed only by acks to its own heartbeats; duplicate contexts are refused (diss. §6.4)") {
  for (const bool planted : {false, true}) {
    CAPTURE(planted);
    network net(3, 1, [&](raft::config& c) { c.testing_bugs.read_acks_by_context = planted; });
    net.elect("n1");
    net.tick(1);
    // n2's read "1": hold back n3's ack of that round.
    std::vector<raft::message> held;
    net.on_send = [&](const raft::message& m) {
      if (m.type == msg_type::heartbeat_resp && m.from == "n3" && !m.context.empty()) held.push_back(m);
    };
    net.cut_one_way("n3", "n1");
    REQUIRE(!net.core("n2").read_index("1"));
    net.settle();
    REQUIRE(net.at("n2").reads.size() == 1);
    REQUIRE(held.size() == 1);
    net.on_send = {};
    // n1 is cut off from everyone now (a new leader may have committed
    // writes since): n3 asks for its own read "1", as a restarted or
    // different process numbering from 1 would.
    net.isolate("n1");
    const auto before = net.core("n1").commit_index();
    raft::message req;
    req.type = msg_type::read_index;
    req.from = "n3";
    req.to = "n1";
    req.term = net.core("n1").term();
    req.context = "1";
    net.core("n1").step(req);
    // The late ack of n2's round arrives: it must not confirm n3's read.
    net.core("n1").step(held.front());
    auto out = net.core("n1").get_ready();
    const bool answered = std::any_of(out.early_messages.begin(), out.early_messages.end(), [&](auto& m) {
      return m.type == msg_type::read_index_resp && m.to == "n3";
    });
    net.core("n1").advance(out);
    CHECK(answered == planted);
    CHECK(net.core("n1").commit_index() == before);
  }
  // And a context still pending is refused, locally and from a peer.
  network net(3);
  net.elect("n1");
  net.tick(1);
  net.isolate("n1");
  REQUIRE(!net.core("n1").read_index("same"));
  CHECK(net.core("n1").read_index("same") == raft::errc::duplicate_read);
  raft::message req;
  req.type = msg_type::read_index;
  req.from = "n2";
  req.to = "n1";
  req.term = net.core("n1").term();
  req.context = "same";
  CHECK(net.core("n1").step(req) == raft::errc::duplicate_read);
}

TEST_CASE("a leader that removed itself needs the remaining voters for reads and for staying leader (diss. §4.2.2, §6.2)") {
  for (const bool planted : {false, true}) {
    CAPTURE(planted);
    network net(2, 1, [&](raft::config& c) { c.testing_bugs.removed_leader_serves = planted; });
    net.elect("n1");
    net.tick(1);
    // n1 removes itself while cut off from n2: the change cannot commit,
    // and the configuration in force, {n2}, has one vote for a quorum.
    net.isolate("n1");
    REQUIRE(!net.core("n1").propose_conf_change({raft::conf_change_type::remove, "n1", ""}).ec);
    net.settle();
    REQUIRE(raft::voter_count(net.core("n1").config()) == 1);
    REQUIRE(!net.core("n1").read_index("r"));
    net.settle();
    CHECK(net.at("n1").reads.empty() == !planted);  // no read answered from a minority
    net.tick(30);
    CHECK((net.core("n1").state() == raft::role::leader) == planted);  // check-quorum
    // Healed: the node that holds the removal campaigns although it is not
    // in its own configuration, wins with n2's vote, commits the removal
    // and steps down; n2 leads alone.
    net.recover();
    net.tick(60);
    CHECK(net.leader() == "n2");
    CHECK(!raft::find_member(net.core("n2").config(), "n1"));
    CHECK(net.core("n1").state() == raft::role::follower);
  }
}

TEST_CASE("a follower that already holds a snapshot's last entry acknowledges its commit index, not its log (§7)") {
  for (const bool planted : {false, true}) {
    CAPTURE(planted);
    raft::config c;
    c.id = "n2";
    c.check_invariants = true;
    c.testing_bugs.snapshot_ack_last_index = planted;
    raft::initial_state st;
    st.hard = {3, "", 1};
    st.snapshot.config = {{{"n1", "a1", true}, {"n2", "a2", true}, {"n3", "a3", true}}};
    // Entries 1-2 of term 1 match the leader; 3-4 of term 2 were never committed
    // and conflict with the leader's log.
    st.entries = {{1, 1, raft::entry_type::normal, "a"},
                  {1, 2, raft::entry_type::normal, "b"},
                  {2, 3, raft::entry_type::normal, "x"},
                  {2, 4, raft::entry_type::normal, "y"}};
    st.applied = 1;
    raft::raft_node n(c, st);
    raft::message m;
    m.type = msg_type::snapshot;
    m.from = "n1";
    m.to = "n2";
    m.term = 3;
    m.snapshot = raft::snapshot_meta{2, 1, st.snapshot.config, "snap-2"};
    REQUIRE(!n.step(m));
    auto rd = n.get_ready();
    const auto ack = std::find_if(rd.messages.begin(), rd.messages.end(), [](auto& r) { return r.type == msg_type::append_resp; });
    REQUIRE(ack != rd.messages.end());
    CHECK(!ack->reject);
    CHECK(ack->index == (planted ? 4u : 2u));  // 4 would claim the conflicting entries match
    n.advance(rd);
  }
}

TEST_CASE("campaign() on a leader or on a node that cannot be elected changes nothing") {
  network net(1);
  net.elect("n1");
  auto& n1 = net.core("n1");
  REQUIRE(n1.state() == raft::role::leader);
  const auto term = n1.term();
  CHECK(n1.campaign() == raft::errc::already_leader);
  CHECK(n1.state() == raft::role::leader);
  CHECK(n1.term() == term);
  add_learner(net, "n1", "n2");
  CHECK(net.core("n2").campaign() == raft::errc::not_voter);
  CHECK(net.core("n2").state() == raft::role::follower);
  CHECK(net.core("n2").term() == term);
}
