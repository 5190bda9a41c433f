// A hand-stepped in-memory network of Raft cores for table-style unit tests
// (etcd raft_test.go's network): messages are delivered in rounds, and
// `cut`, `isolate` and `drop` shape what gets through.
//
// Owned by: the test thread.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "raft/raft.h"

namespace qc::test {

/// One node and its "disk".
struct test_node {
  std::unique_ptr<raft::raft_node> core;
  raft::hard_state hard;
  raft::snapshot_meta snap;
  std::vector<raft::entry> log;
  std::vector<raft::entry> applied;
  std::vector<raft::read_state> reads;
  std::vector<raft::ready> readies;  ///< every batch seen (for persistence-contract checks)
};

/// The network.
class network {
 public:
  /// `tweak` adjusts every node's config (batch sizes, test-only flags).
  explicit network(int n, std::uint64_t seed = 1, std::function<void(raft::config&)> tweak = {})
      : tweak_(std::move(tweak)) {
    for (int i = 1; i <= n; ++i) conf_.members.push_back({"n" + std::to_string(i), "a" + std::to_string(i), true});
    for (auto& m : conf_.members) start(m.id, conf_, seed++);
  }

  /// (Re)starts `id` from its disk (or fresh with `bootstrap`).
  void start(const std::string& id, const raft::membership& bootstrap, std::uint64_t seed = 7) {
    auto& n = nodes_[id];
    if (!n.core && n.snap.config.members.empty()) n.snap.config = bootstrap;
    raft::config c;
    c.id = id;
    c.election_ticks = 10;
    c.heartbeat_ticks = 1;
    c.seed = seed;
    c.check_invariants = true;
    if (tweak_) tweak_(c);
    raft::initial_state st{n.hard, n.snap, n.log, n.applied.empty() ? n.snap.index : n.applied.back().index};
    n.core = std::make_unique<raft::raft_node>(c, st);
  }
  void crash(const std::string& id) { nodes_[id].core.reset(); }

  test_node& at(const std::string& id) { return nodes_.at(id); }
  raft::raft_node& core(const std::string& id) { return *nodes_.at(id).core; }

  void cut(const std::string& a, const std::string& b) { cuts_.insert({a, b}), cuts_.insert({b, a}); }
  /// Drops what `from` sends to `to`, but not the other way.
  void cut_one_way(const std::string& from, const std::string& to) { cuts_.insert({from, to}); }
  void isolate(const std::string& a) {
    for (auto& [id, n] : nodes_)
      if (id != a) cut(a, id);
  }
  void recover() { cuts_.clear(), drop_.clear(); }
  void drop(raft::msg_type t) { drop_.insert(t); }
  /// Every message is delivered `ticks` ticks after it was sent (0: in the
  /// same settle round). Stands in for a slow disk or a long link.
  void set_latency(int ticks) { latency_ = ticks; }

  /// Sees every message a node sends (before cuts and drops), in order.
  std::function<void(const raft::message&)> on_send;

  /// Sees every ready batch right after the node's disk took stage 2 of the
  /// contract (hard state, snapshot, entries) and before its `messages` go
  /// out and its `committed` entries are applied (persistence checks).
  std::function<void(const std::string& id, const raft::ready&, const test_node&)> on_persisted;

  /// Processes ready batches and delivers messages until quiet (or rounds).
  void settle(int rounds = 100) {
    for (int r = 0; r < rounds; ++r)
      if (!process()) return;
  }

  /// Ticks every live node `k` times, settling after each.
  void tick(int k = 1) {
    for (int i = 0; i < k; ++i) {
      ++now_;
      for (auto& [id, n] : nodes_)
        if (n.core) n.core->tick();
      settle();
    }
  }

  /// The leader, if exactly one live node leads in the highest term.
  std::string leader() {
    std::string l;
    std::uint64_t t = 0;
    for (auto& [id, n] : nodes_)
      if (n.core && n.core->state() == raft::role::leader && n.core->term() >= t) l = id, t = n.core->term();
    return l;
  }

  /// Elects `id` by timing it out first.
  void elect(const std::string& id) {
    core(id).campaign();
    settle();
  }

 private:
  bool process() {
    std::vector<raft::message> outbox;
    bool any = false;
    for (auto& [id, n] : nodes_) {
      if (!n.core) continue;
      while (n.core->has_ready()) {
        any = true;
        raft::ready rd = n.core->get_ready();
        for (auto& m : rd.early_messages) outbox.push_back(m);
        if (rd.snapshot) n.snap = *rd.snapshot, n.log.clear();
        for (auto& e : rd.entries) {
          while (!n.log.empty() && n.log.back().index >= e.index) n.log.pop_back();
          n.log.push_back(e);
        }
        if (rd.hard) n.hard = *rd.hard;
        if (on_persisted) on_persisted(id, rd, n);
        for (auto& m : rd.messages) outbox.push_back(m);
        for (auto& e : rd.committed) n.applied.push_back(e);
        for (auto& r : rd.read_states) n.reads.push_back(r);
        n.readies.push_back(rd);
        n.core->advance(rd);
      }
    }
    for (auto& m : outbox) {
      if (on_send) on_send(m);
      if (cuts_.count({m.from, m.to}) || drop_.count(m.type)) continue;
      if (latency_ > 0) {
        delayed_.emplace(now_ + latency_, m);
        continue;
      }
      any = deliver(m) || any;
    }
    for (auto due = delayed_.begin(); due != delayed_.end() && due->first <= now_;) {
      any = deliver(due->second) || any;
      due = delayed_.erase(due);
    }
    return any;
  }

  /// Steps `m` into its live recipient; false if there is none.
  bool deliver(const raft::message& m) {
    auto it = nodes_.find(m.to);
    if (it == nodes_.end() || !it->second.core) return false;
    it->second.core->step(m);
    return true;
  }

  std::function<void(raft::config&)> tweak_;
  raft::membership conf_;
  std::map<std::string, test_node> nodes_;
  std::set<std::pair<std::string, std::string>> cuts_;
  std::set<raft::msg_type> drop_;
  int latency_ = 0;
  std::uint64_t now_ = 0;                                    ///< ticks so far
  std::multimap<std::uint64_t, raft::message> delayed_;  ///< due tick -> message (latency_)
};

}  // namespace qc::test
