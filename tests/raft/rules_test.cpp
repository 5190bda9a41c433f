// Table-driven tests of the core's individual rules (etcd raft_test style):
// one core stepped by hand with crafted messages, or a few cores through the
// in-memory network with an observer on every message.
#include <doctest/doctest.h>

#include <algorithm>
#include <map>
#include <set>

#include "raft/network.h"

using namespace qc;
using qc::test::network;
using raft::msg_type;

namespace {

raft::membership three() {
  return {{{"n1", "a1", true}, {"n2", "a2", true}, {"n3", "a3", true}}};
}

/// A follower core "n2" with a log of (index, term) pairs and a hard state.
std::unique_ptr<raft::raft_node> follower(std::vector<std::pair<std::uint64_t, std::uint64_t>> log,
                                          raft::hard_state hs, std::uint64_t seed = 1) {
  raft::config c;
  c.id = "n2";
  c.seed = seed;
  raft::initial_state st;
  st.hard = hs;
  st.snapshot.config = three();
  for (auto [i, t] : log) st.entries.push_back({t, i, raft::entry_type::normal, "d" + std::to_string(i)});
  return std::make_unique<raft::raft_node>(c, st);
}

/// Drains the core's ready batches; returns every message (early and late).
std::vector<raft::message> drain(raft::raft_node& n, std::vector<raft::ready>* readies = nullptr) {
  std::vector<raft::message> out;
  while (n.has_ready()) {
    auto rd = n.get_ready();
    out.insert(out.end(), rd.early_messages.begin(), rd.early_messages.end());
    out.insert(out.end(), rd.messages.begin(), rd.messages.end());
    if (readies) readies->push_back(rd);
    n.advance(rd);
  }
  return out;
}

const raft::message* find(const std::vector<raft::message>& ms, msg_type t) {
  for (auto& m : ms)
    if (m.type == t) return &m;
  return nullptr;
}
/// The pointer would dangle at the end of the full expression (ASan caught
/// `find(drain(*n), ...)` reading a freed batch).
const raft::message* find(std::vector<raft::message>&& ms, msg_type t) = delete;

}  // namespace

TEST_CASE("RequestVote: one vote per term, granted only to an up-to-date log (§5.2, §5.4.1)") {
  // The voter n2 holds (1,1) (2,2) in term 2 and knows no leader (no lease).
  struct row {
    const char* name;
    std::uint64_t term, last_index, last_term;
    std::string from;
    std::string voted;  ///< n2's vote in term 3 before the request
    bool grant;
  };
  const row rows[] = {
      {"same log, newer term", 3, 2, 2, "n1", "", true},
      {"shorter log, same last term", 3, 1, 2, "n1", "", false},
      {"longer log, older last term", 3, 9, 1, "n1", "", false},
      {"shorter log, newer last term", 3, 1, 3, "n1", "", true},
      {"longer log, same last term", 3, 5, 2, "n1", "", true},
      {"already voted for another in this term", 3, 2, 2, "n1", "n3", false},
      {"the same candidate asks again", 3, 2, 2, "n1", "n1", true},
      {"stale term", 1, 9, 9, "n1", "", false},
  };
  for (const auto& r : rows) {
    CAPTURE(std::string(r.name));
    raft::hard_state hs{2, "", 0};
    if (!r.voted.empty()) hs = {3, r.voted, 0};
    auto n = follower({{1, 1}, {2, 2}}, hs);
    raft::message v;
    v.type = msg_type::vote;
    v.from = r.from;
    v.to = "n2";
    v.term = r.term;
    v.index = r.last_index;
    v.log_term = r.last_term;
    n->step(v);
    std::vector<raft::ready> rds;
    auto out = drain(*n, &rds);
    auto* resp = find(out, msg_type::vote_resp);
    if (r.term < 2) {
      // a stale request is answered with the newer term, never granted
      CHECK((resp == nullptr || resp->reject));
      continue;
    }
    REQUIRE(resp != nullptr);
    CHECK(resp->reject == !r.grant);
    CHECK(n->term() == std::max<std::uint64_t>(r.term, 2));
    if (r.grant) {
      CHECK(n->vote() == r.from);
      // the grant is a promise: it travels only after the vote is durable
      bool early = false, persisted = false;
      for (auto& rd : rds) {
        for (auto& m : rd.early_messages) early |= m.type == msg_type::vote_resp;
        persisted |= rd.hard && rd.hard->vote == r.from && find(rd.messages, msg_type::vote_resp);
      }
      CHECK(!early);
      if (r.voted.empty()) CHECK(persisted);
    }
  }
}

TEST_CASE("AppendEntries acceptance: log matching, conflict truncation, stale terms (§5.3)") {
  // The follower holds (1,1) (2,1) (3,2) in term 2.
  struct row {
    const char* name;
    std::uint64_t term, prev_index, prev_term;
    std::vector<std::pair<std::uint64_t, std::uint64_t>> entries;
    bool reject;
    std::uint64_t last_after;
    std::uint64_t term_at_3_after;
  };
  const row rows[] = {
      {"appends after a matching prev", 2, 3, 2, {{4, 2}}, false, 4, 2},
      {"prev beyond the log", 2, 4, 2, {{5, 2}}, true, 3, 2},
      {"prev term mismatch", 2, 3, 1, {{4, 2}}, true, 3, 2},
      {"conflicting entry truncates the suffix", 3, 2, 1, {{3, 3}}, false, 3, 3},
      {"duplicate entries change nothing", 2, 1, 1, {{2, 1}, {3, 2}}, false, 3, 2},
      {"stale leader term", 1, 3, 2, {{4, 1}}, true, 3, 2},
      {"heartbeat-like empty append", 2, 3, 2, {}, false, 3, 2},
  };
  for (const auto& r : rows) {
    CAPTURE(std::string(r.name));
    auto n = follower({{1, 1}, {2, 1}, {3, 2}}, {2, "", 0});
    raft::message a;
    a.type = msg_type::append;
    a.from = "n1";
    a.to = "n2";
    a.term = r.term;
    a.index = r.prev_index;
    a.log_term = r.prev_term;
    for (auto [i, t] : r.entries) a.entries.push_back({t, i, raft::entry_type::normal, "x"});
    n->step(a);
    auto out = drain(*n);
    auto* resp = find(out, msg_type::append_resp);
    REQUIRE(resp != nullptr);
    // a stale leader is told the newer term (and steps down); nothing is appended
    if (r.term >= 2) CHECK(resp->reject == r.reject);
    CHECK(n->last_index() == r.last_after);
    CHECK(n->term_at(3) == r.term_at_3_after);
    if (r.term < 2) CHECK(resp->term == 2);  // tells the stale leader the newer term
  }
}

TEST_CASE("fast backtracking: a rejection carries a hint that skips a whole term (§5.3)") {
  // Follower: 50 entries of term 1. Leader probes at prev (100, 3).
  std::vector<std::pair<std::uint64_t, std::uint64_t>> log;
  for (std::uint64_t i = 1; i <= 50; ++i) log.push_back({i, 1});
  auto n = follower(log, {3, "", 0});
  raft::message a;
  a.type = msg_type::append;
  a.from = "n1";
  a.to = "n2";
  a.term = 3;
  a.index = 100;
  a.log_term = 3;
  n->step(a);
  const auto out = drain(*n);  // keep the batch alive: find() points into it
  auto* resp = find(out, msg_type::append_resp);
  REQUIRE(resp != nullptr);
  CHECK(resp->reject);
  CHECK(resp->reject_hint == 50);
  CHECK(resp->hint_term == 1);

  // Leader side: a follower 200 entries behind is caught up after a single
  // rejected probe, not 200.
  network net(3);
  net.elect("n1");
  net.isolate("n3");
  for (int i = 0; i < 200; ++i) net.core("n1").propose("e" + std::to_string(i));
  net.settle();
  int rejects = 0;
  net.on_send = [&](const raft::message& m) { rejects += m.type == msg_type::append_resp && m.from == "n3" && m.reject; };
  net.recover();
  net.tick(3);
  CHECK(net.core("n3").last_index() == net.core("n1").last_index());
  CHECK(rejects <= 1);
}

TEST_CASE("batching and pipelining: entries per append and appends in flight are capped") {
  struct row {
    std::size_t max_entries, max_inflight;
  };
  for (auto r : {row{1, 1}, row{4, 2}, row{16, 8}}) {
    CAPTURE(r.max_entries);
    CAPTURE(r.max_inflight);
    network net(3, 1, [&](raft::config& c) {
      c.max_entries_per_msg = r.max_entries;
      c.max_inflight = r.max_inflight;
    });
    net.elect("n1");
    std::size_t max_batch = 0, max_outstanding = 0;
    std::map<std::string, std::set<std::uint64_t>> outstanding;  // per follower: last index of unacked appends
    net.on_send = [&](const raft::message& m) {
      if (m.type == msg_type::append && m.from == "n1" && !m.entries.empty()) {
        max_batch = std::max(max_batch, m.entries.size());
        outstanding[m.to].insert(m.entries.back().index);
        max_outstanding = std::max(max_outstanding, outstanding[m.to].size());
      }
      if (m.type == msg_type::append_resp && m.to == "n1") {
        auto& o = outstanding[m.from];
        if (m.reject) o.clear();
        else o.erase(o.begin(), o.upper_bound(m.index));
      }
    };
    for (int i = 0; i < 64; ++i) net.core("n1").propose("p" + std::to_string(i));
    net.settle(1000);
    for (auto id : {"n2", "n3"}) CHECK(net.core(id).commit_index() == net.core("n1").last_index());
    CHECK(max_batch <= r.max_entries);
    CHECK(max_outstanding <= r.max_inflight);
    if (r.max_entries > 1) CHECK(max_batch > 1);            // batching happens
    if (r.max_inflight > 1) CHECK(max_outstanding > 1);     // pipelining happens
  }
}

TEST_CASE("election timeouts are drawn from [T, 2T) by the injected seed, reproducibly (§5.2)") {
  std::set<int> seen;
  for (std::uint64_t seed = 1; seed <= 40; ++seed) {
    auto ticks_to_campaign = [&] {
      auto n = follower({}, {1, "", 0}, seed);
      drain(*n);
      for (int t = 1; t <= 100; ++t) {
        n->tick();
        for (auto& m : drain(*n))
          if (m.type == msg_type::pre_vote || m.type == msg_type::vote) return t;
      }
      return -1;
    };
    const int t = ticks_to_campaign();
    CHECK(t >= 10);
    CHECK(t < 20);
    CHECK(ticks_to_campaign() == t);  // same seed, same schedule
    seen.insert(t);
  }
  CHECK(seen.size() >= 5);  // randomized, not one fixed value
}

TEST_CASE("ReadIndex waits for the new leader's no-op to commit (§6.4)") {
  network net(3);
  net.drop(msg_type::append);
  net.elect("n1");
  REQUIRE(net.leader() == "n1");
  const auto noop = net.core("n1").last_index();
  REQUIRE(net.core("n1").commit_index() < noop);
  CHECK(!net.core("n1").read_index("r"));
  net.settle();
  CHECK(net.at("n1").reads.empty());  // no read point before this term commits
  net.recover();
  net.tick(2);
  REQUIRE(net.at("n1").reads.size() == 1);
  CHECK(net.at("n1").reads[0].index >= noop);
  // no log entry was written for the read
  CHECK(net.core("n1").last_index() == noop);
}

TEST_CASE("membership changes wait for a commit in the leader's term; the newest config rules at once") {
  network net(3);
  net.drop(msg_type::append);
  net.elect("n1");
  // (§4.1 of the dissertation) nothing of this term is committed yet
  CHECK(net.core("n1").propose_conf_change({raft::conf_change_type::add_learner, "n4", "a4"}).ec ==
        raft::errc::conf_change_not_ready);
  net.recover();
  net.tick(2);
  net.isolate("n1");  // the change below cannot commit
  auto p = net.core("n1").propose_conf_change({raft::conf_change_type::add_learner, "n4", "a4"});
  REQUIRE(!p.ec);
  net.settle();
  CHECK(net.core("n1").commit_index() < p.index);
  // the configuration in force is the latest in the log, committed or not
  CHECK(raft::find_member(net.core("n1").config(), "n4") != nullptr);
  CHECK(!raft::is_voter(net.core("n1").config(), "n4"));
  CHECK(net.core("n1").conf_change_pending());
  // malformed or no-op changes are refused
  CHECK(net.core("n1").propose_conf_change({raft::conf_change_type::promote, "n9", ""}).ec);
}

TEST_CASE("learners receive the log but never vote and never count toward commit") {
  network net(3);
  net.elect("n1");
  net.start("n4", {});
  REQUIRE(!net.core("n1").propose_conf_change({raft::conf_change_type::add_learner, "n4", "a4"}).ec);
  net.settle();
  REQUIRE(net.core("n4").is_learner());
  // With both voting followers gone, the leader and its learner are not a quorum.
  net.cut("n1", "n2");
  net.cut("n1", "n3");
  auto p = net.core("n1").propose("needs a voter");
  REQUIRE(!p.ec);
  net.settle();
  CHECK(net.core("n4").last_index() == p.index);   // the learner has it
  CHECK(net.core("n1").commit_index() < p.index);  // but it does not count
  // A learner never campaigns, however long it waits.
  net.isolate("n4");
  net.tick(60);
  CHECK(net.core("n4").state() == raft::role::follower);
  CHECK(net.core("n4").term() <= net.core("n1").term());
}

TEST_CASE("a removed member receives the entry that removes it, then no more") {
  network net(3);
  net.elect("n1");
  auto p = net.core("n1").propose_conf_change({raft::conf_change_type::remove, "n3", ""});
  REQUIRE(!p.ec);
  net.settle();
  REQUIRE(net.core("n1").commit_index() >= p.index);
  // n3 learned it is out (the configuration in its own log excludes it) ...
  CHECK(net.core("n3").last_index() >= p.index);
  CHECK(raft::find_member(net.core("n3").config(), "n3") == nullptr);
  // ... and once the removal committed, the leader stopped tracking it
  auto prs = net.core("n1").progress();
  CHECK(std::none_of(prs.begin(), prs.end(), [](auto& pr) { return pr.id == "n3"; }));
  const auto last3 = net.core("n3").last_index();
  net.core("n1").propose("after");
  net.tick(30);
  CHECK(net.core("n3").last_index() == last3);
  CHECK(net.core("n3").state() == raft::role::follower);  // never campaigns
  CHECK(net.leader() == "n1");
}
