// More rules of the Raft core, table-driven where a table fits (etcd raft_test
// style): the lease against disruptive votes, check-quorum, the leader's
// no-op, ReadIndex confirmation rounds, snapshots with opaque handles,
// configuration reverting on truncation, leadership transfer to a lagging
// voter, and proposals refused on non-leaders.
#include <doctest/doctest.h>

#include <algorithm>

#include "raft/network.h"

using namespace qc;
using qc::test::network;
using raft::msg_type;

namespace {

raft::membership three() { return {{{"n1", "a1", true}, {"n2", "a2", true}, {"n3", "a3", true}}}; }

std::vector<raft::message> drain(raft::raft_node& n) {
  std::vector<raft::message> out;
  while (n.has_ready()) {
    auto rd = n.get_ready();
    out.insert(out.end(), rd.early_messages.begin(), rd.early_messages.end());
    out.insert(out.end(), rd.messages.begin(), rd.messages.end());
    n.advance(rd);
  }
  return out;
}

std::size_t count_data(const std::vector<raft::entry>& es, const std::string& d) {
  return static_cast<std::size_t>(std::count_if(es.begin(), es.end(), [&](auto& e) { return e.data == d; }));
}

}  // namespace

TEST_CASE("lease (diss. §4.2.3): within the minimum timeout of hearing a leader, votes are ignored") {
  struct row {
    const char* name;
    msg_type type;
    bool transfer_flag;
    int ticks_since_leader;  ///< election ticks after the leader's heartbeat
    bool check_quorum;
    bool processed;  ///< answered (term may move) rather than ignored
  };
  const row rows[] = {
      {"vote inside the lease", msg_type::vote, false, 0, true, false},
      {"pre-vote inside the lease", msg_type::pre_vote, false, 0, true, false},
      {"vote late inside the lease", msg_type::vote, false, 9, true, false},
      {"vote carrying the transfer flag", msg_type::vote, true, 0, true, true},
      {"vote after the minimum timeout", msg_type::vote, false, 10, true, true},
      {"pre-vote after the minimum timeout", msg_type::pre_vote, false, 10, true, true},
      {"no lease without check-quorum", msg_type::vote, false, 0, false, true},
  };
  for (const auto& r : rows) {
    CAPTURE(std::string(r.name));
    raft::config c;
    c.id = "n2";
    c.election_ticks = 10;
    c.check_quorum = r.check_quorum;
    c.seed = 99;
    raft::initial_state st;
    st.hard = {2, "", 0};
    st.snapshot.config = three();
    st.entries = {{1, 1, raft::entry_type::normal, ""}};  // a node that has held an entry
    raft::raft_node n(c, st);
    raft::message hb;
    hb.type = msg_type::heartbeat;
    hb.from = "n1";
    hb.to = "n2";
    hb.term = 2;
    REQUIRE(!n.step(hb));
    drain(n);
    REQUIRE(n.leader() == "n1");
    for (int t = 0; t < r.ticks_since_leader; ++t) n.tick_election();
    drain(n);  // a campaign of n2's own at tick 10 only clears the lease sooner
    const auto term_before = n.term();
    raft::message v;
    v.type = r.type;
    v.from = "n3";
    v.to = "n2";
    v.term = term_before + 1;
    v.index = 5;
    v.log_term = 5;
    if (r.transfer_flag) v.context = "transfer";
    const auto ec = n.step(v);
    auto out = drain(n);
    const bool answered = std::any_of(out.begin(), out.end(), [&](auto& m) {
      return m.to == "n3" && (m.type == msg_type::vote_resp || m.type == msg_type::pre_vote_resp);
    });
    CHECK(answered == r.processed);
    if (!r.processed) {
      CHECK(ec == raft::errc::stale_message);
      CHECK(n.term() == term_before);  // a disruptive vote does not even move the term
      CHECK(n.leader() == "n1");
    } else if (r.type == msg_type::vote) {
      CHECK(n.term() == v.term);
      CHECK(n.vote() == "n3");  // up-to-date candidate, fresh term: granted
    } else {
      CHECK(n.term() == term_before);  // a pre-vote never moves the term
    }
  }
}

TEST_CASE("check-quorum (diss. §6.2): a leader stays while a voter majority answers, steps down when not") {
  struct row {
    int nodes;
    std::vector<std::string> isolated;
    bool check_quorum;
    bool stays;
  };
  const row rows[] = {
      {5, {"n4", "n5"}, true, true},         // 3 of 5 answer
      {5, {"n3", "n4", "n5"}, true, false},  // 2 of 5
      {3, {"n3"}, true, true},
      {3, {"n2", "n3"}, true, false},
      {3, {"n2", "n3"}, false, true},  // without check-quorum it never notices
  };
  for (const auto& r : rows) {
    CAPTURE(r.nodes);
    CAPTURE(r.isolated.size());
    CAPTURE(r.check_quorum);
    network net(r.nodes, 1, [&](raft::config& c) { c.check_quorum = r.check_quorum; });
    net.elect("n1");
    REQUIRE(net.leader() == "n1");
    const auto term = net.core("n1").term();
    for (auto& id : r.isolated) net.isolate(id);
    // only the leader ticks: nobody else may campaign and depose it by term
    for (int t = 0; t < 40; ++t) {
      net.core("n1").tick();
      net.settle();
    }
    CHECK((net.core("n1").state() == raft::role::leader) == r.stays);
    CHECK(net.core("n1").term() == term);  // stepping down does not bump the term
  }
}

TEST_CASE("a new leader appends a no-op entry of its term at once (§8)") {
  for (int n : {1, 3, 5}) {
    CAPTURE(n);
    network net(n);
    net.elect("n1");
    auto p = net.core("n1").propose("before");  // term-1 entry, then a new leader
    REQUIRE(!p.ec);
    net.settle();
    const auto other = n == 1 ? std::string("n1") : std::string("n2");
    if (n > 1) {
      REQUIRE(!net.core("n1").transfer_leadership(other));
      net.settle();
    } else {
      net.crash("n1");
      net.start("n1", {});
      net.elect("n1");
    }
    REQUIRE(net.leader() == other);
    auto& l = net.core(other);
    const auto last = l.last_index();
    REQUIRE(last == p.index + 1);
    const auto noop = l.entry_at(last);
    REQUIRE(noop);
    CHECK(noop->type == raft::entry_type::normal);
    CHECK(noop->data.empty());
    CHECK(noop->term == l.term());
    CHECK(l.term_at(p.index) < l.term());
    CHECK(l.commit_index() == last);  // and the no-op committed the old entry with it
  }
}

TEST_CASE("ReadIndex: a read point needs a heartbeat round answered by a majority (diss. §6.4)") {
  network net(3);
  net.elect("n1");
  net.core("n1").propose("w1");
  net.settle();
  const auto c1 = net.core("n1").commit_index();
  net.drop(msg_type::heartbeat_resp);
  REQUIRE(!net.core("n1").read_index("a"));
  net.settle();
  CHECK(net.at("n1").reads.empty());  // not confirmed: no answers came back
  // A later write does not move the pending read's point; a later confirmed
  // round releases the earlier one too, each at its own point.
  net.recover();
  net.core("n1").propose("w2");
  net.settle();
  const auto c2 = net.core("n1").commit_index();
  REQUIRE(c2 > c1);
  REQUIRE(!net.core("n1").read_index("b"));
  net.settle();
  REQUIRE(net.at("n1").reads.size() == 2);
  CHECK(net.at("n1").reads[0].context == "a");
  CHECK(net.at("n1").reads[0].index == c1);
  CHECK(net.at("n1").reads[1].context == "b");
  CHECK(net.at("n1").reads[1].index == c2);
  // No log entry is written for reads.
  CHECK(net.core("n1").last_index() == c2);
  // Five voters: one answer besides the leader's own is not a majority.
  network five(5);
  five.elect("n1");
  for (auto id : {"n3", "n4", "n5"}) five.cut("n1", id);
  REQUIRE(!five.core("n1").read_index("m"));
  five.settle();
  CHECK(five.at("n1").reads.empty());
  five.recover();
  REQUIRE(!five.core("n1").read_index("m2"));
  five.settle();
  CHECK(five.at("n1").reads.size() == 2);
  // A follower with no known leader cannot ask anyone.
  network fresh(3);
  CHECK(fresh.core("n2").read_index("x") == raft::errc::not_leader);
  // A single voter answers at once (no round needed).
  network one(1);
  one.elect("n1");
  REQUIRE(!one.core("n1").read_index("s"));
  one.settle();
  REQUIRE(one.at("n1").reads.size() == 1);
  CHECK(one.at("n1").reads[0].index == one.core("n1").commit_index());
}

TEST_CASE("snapshots: compaction bounds, the handle travels opaque, the follower resumes after it (§7)") {
  network net(3);
  net.elect("n1");
  net.isolate("n3");
  for (int i = 0; i < 12; ++i) net.core("n1").propose("e" + std::to_string(i));
  net.settle();
  auto& l = net.core("n1");
  const auto applied = l.applied_index();
  // compaction bounds
  CHECK(l.compact(applied + 1, "h") == raft::errc::unavailable);  // not applied yet
  CHECK(l.compact(0, "h") == raft::errc::compacted);
  const std::string handle = std::string("snap\0dir/with space\xff", 21);
  REQUIRE(!l.compact(applied - 2, handle));
  CHECK(l.compact(applied - 3, "h") == raft::errc::compacted);
  CHECK(l.snapshot_index() == applied - 2);
  CHECK(l.first_index() == applied - 1);
  CHECK(!l.entry_at(applied - 2));
  CHECK(l.term_at(applied - 2) == l.term());  // the snapshot remembers its last term
  CHECK(l.snapshot().config == l.config());
  // n3 is behind the compacted log: it gets the snapshot, handle untouched
  net.recover();
  net.tick(5);
  CHECK(net.at("n3").snap.index == applied - 2);
  CHECK(net.at("n3").snap.handle == handle);
  CHECK(net.at("n3").snap.config == l.config());
  CHECK(net.core("n3").last_index() == l.last_index());  // then the log after it
  CHECK(net.core("n3").commit_index() == l.commit_index());
  // and it keeps replicating and applying from there, also after a restart
  net.crash("n3");
  net.start("n3", {});
  CHECK(net.core("n3").first_index() == applied - 1);
  net.core("n1").propose("after-snap");
  net.settle();
  net.tick(2);
  CHECK(count_data(net.at("n3").applied, "after-snap") == 1);
  CHECK(count_data(net.at("n3").applied, "e0") == 0);  // inside the snapshot, never applied as entries
}

TEST_CASE("the configuration in force is the latest in the log: it applies uncommitted and reverts on truncation") {
  network net(3);
  net.elect("n1");
  net.tick(1);
  // Followers use a conf entry as soon as it is in their log, committed or not.
  net.drop(msg_type::append_resp);
  auto p = net.core("n1").propose_conf_change({raft::conf_change_type::add_learner, "n4", "a4"});
  REQUIRE(!p.ec);
  net.settle();
  for (auto id : {"n1", "n2", "n3"}) {
    CAPTURE(std::string(id));
    CHECK(net.core(id).commit_index() < p.index);
    CHECK(raft::find_member(net.core(id).config(), "n4") != nullptr);
  }
  // A change only the cut-off leader holds is overwritten by the majority's
  // new leader; the configuration reverts with the truncation.
  network net2(3);
  net2.elect("n1");
  net2.tick(1);
  net2.isolate("n1");
  auto q = net2.core("n1").propose_conf_change({raft::conf_change_type::add_learner, "n4", "a4"});
  REQUIRE(!q.ec);
  net2.settle();
  CHECK(raft::find_member(net2.core("n1").config(), "n4") != nullptr);
  for (int t = 0; t < 60 && (net2.leader().empty() || net2.leader() == "n1"); ++t) net2.tick(1);
  const auto l = net2.leader();
  REQUIRE((l == "n2" || l == "n3"));
  net2.core(l).propose("overwrites");
  net2.settle();
  net2.recover();
  net2.tick(5);
  // n1's uncommitted change was truncated: its configuration reverted
  CHECK(net2.core("n1").term_at(q.index) != q.term);
  CHECK(raft::find_member(net2.core("n1").config(), "n4") == nullptr);
  CHECK(net2.core("n1").config() == three());
  CHECK(!net2.core("n1").conf_change_pending());
}

TEST_CASE("membership: malformed changes are refused") {
  network net(3);
  net.elect("n1");
  net.tick(1);
  struct row {
    raft::conf_change cc;
    const char* name;
  };
  const row rows[] = {
      {{raft::conf_change_type::add_learner, "n2", "a2"}, "add an existing member"},
      {{raft::conf_change_type::promote, "n2", ""}, "promote a voter"},
      {{raft::conf_change_type::promote, "n9", ""}, "promote a stranger"},
      {{raft::conf_change_type::remove, "n9", ""}, "remove a stranger"},
      {{raft::conf_change_type::add_learner, "", "a"}, "empty id"},
      {{raft::conf_change_type::add_learner, "n 9", "a9"}, "id with a space"},
  };
  for (const auto& r : rows) {
    CAPTURE(std::string(r.name));
    CHECK(net.core("n1").propose_conf_change(r.cc).ec == raft::errc::invalid_conf_change);
  }
  CHECK(!net.core("n1").conf_change_pending());
  CHECK(net.core("n2").propose_conf_change({raft::conf_change_type::remove, "n3", ""}).ec == raft::errc::not_leader);
}

TEST_CASE("leadership transfer: a lagging target is caught up first, then gets TimeoutNow (diss. §3.10)") {
  network net(3);
  net.elect("n1");
  net.isolate("n3");
  for (int i = 0; i < 30; ++i) net.core("n1").propose("p" + std::to_string(i));
  net.settle();
  net.recover();
  const auto last = net.core("n1").last_index();
  REQUIRE(net.core("n3").last_index() < last);
  std::uint64_t target_last_at_timeout_now = 0;
  int timeout_nows = 0;
  net.on_send = [&](const raft::message& m) {
    if (m.type == msg_type::timeout_now) {
      ++timeout_nows;
      target_last_at_timeout_now = net.core(m.to).last_index();
    }
  };
  REQUIRE(!net.core("n1").transfer_leadership("n3"));
  // while transferring, the old leader takes no proposals (they would be lost)
  auto p = net.core("n1").propose("during");
  CHECK(p.ec == raft::errc::proposal_dropped);
  for (int t = 0; t < 10 && net.leader() != "n3"; ++t) net.tick(1);
  CHECK(net.leader() == "n3");
  CHECK(timeout_nows == 1);
  CHECK(target_last_at_timeout_now == last);  // fully caught up before TimeoutNow
  CHECK(net.core("n1").state() == raft::role::follower);
  // the new leader serves
  CHECK(!net.core("n3").propose("after").ec);
  net.settle();
  CHECK(count_data(net.at("n1").applied, "after") == 1);
}

TEST_CASE("leadership transfer: refused targets, and an unreachable target times out") {
  network net(3);
  net.elect("n1");
  net.start("n4", {});
  REQUIRE(!net.core("n1").propose_conf_change({raft::conf_change_type::add_learner, "n4", "a4"}).ec);
  net.settle();
  CHECK(net.core("n1").transfer_leadership("n4") == raft::errc::not_voter);  // a learner
  CHECK(net.core("n1").transfer_leadership("n9") == raft::errc::not_voter);  // a stranger
  CHECK(net.core("n2").transfer_leadership("n3") == raft::errc::not_leader);
  CHECK(!net.core("n1").transfer_leadership("n1"));  // to itself: nothing to do
  CHECK(!net.core("n1").propose("still leader").ec);
  net.settle();
  // the target is cut off: after an election timeout the leader gives up the
  // transfer and takes proposals again
  net.isolate("n3");
  REQUIRE(!net.core("n1").transfer_leadership("n3"));
  CHECK(net.core("n1").propose("x").ec == raft::errc::proposal_dropped);
  net.tick(10);
  CHECK(net.leader() == "n1");
  CHECK(!net.core("n1").propose("y").ec);
}

TEST_CASE("proposals on a non-leader are refused with the leader's id when known") {
  network net(3);
  // no leader yet
  for (auto id : {"n1", "n2", "n3"}) {
    auto p = net.core(id).propose("x");
    CHECK(p.ec == raft::errc::not_leader);
    CHECK(p.leader.empty());
  }
  net.elect("n2");
  for (auto id : {"n1", "n3"}) {
    auto p = net.core(id).propose("x");
    CHECK(p.ec == raft::errc::not_leader);
    CHECK(p.leader == "n2");
    auto c = net.core(id).propose_conf_change({raft::conf_change_type::remove, "n3", ""});
    CHECK(c.ec == raft::errc::not_leader);
    CHECK(c.leader == "n2");
  }
  // a learner knows the leader too
  net.start("n4", {});
  REQUIRE(!net.core("n2").propose_conf_change({raft::conf_change_type::add_learner, "n4", "a4"}).ec);
  net.settle();
  auto p = net.core("n4").propose("x");
  CHECK(p.ec == raft::errc::not_leader);
  CHECK(p.leader == "n2");
  // the leader accepts and says where the entry landed
  auto ok = net.core("n2").propose("y");
  CHECK(!ok.ec);
  CHECK(ok.index == net.core("n2").last_index());
  CHECK(ok.term == net.core("n2").term());
  CHECK(ok.leader == "n2");
}

TEST_CASE("pre-vote table: a rejoining partitioned node keeps its term only with pre-vote (diss. §9.6)") {
  struct row {
    bool pre_vote;
    bool term_inflated;  ///< the isolated node's term grew while cut off
  };
  // check-quorum off in both rows, so only pre-vote stands between a
  // rejoining node and a term bump (the lease would also protect the leader).
  for (auto r : {row{true, false}, row{false, true}}) {
    CAPTURE(r.pre_vote);
    network net(3, 1, [&](raft::config& c) {
      c.pre_vote = r.pre_vote;
      c.check_quorum = false;
    });
    net.elect("n1");
    REQUIRE(net.leader() == "n1");
    const auto term = net.core("n1").term();
    net.isolate("n3");
    net.tick(60);
    CHECK((net.core("n3").term() > term) == r.term_inflated);
    net.recover();
    net.tick(30);
    // with pre-vote the healthy leader stays, in its term; without it the
    // rejoining node's higher term deposes it
    CHECK((net.core("n1").term() == term) == !r.term_inflated);
    if (r.pre_vote) CHECK(net.leader() == "n1");
  }
}
