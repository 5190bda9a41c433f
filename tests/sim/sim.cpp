#include "sim/sim.h"

#include <algorithm>
#include <cstdio>
#include <sstream>

#include "common/splitmix64.h"

namespace qc::sim {

namespace {

struct rng_t : common::splitmix64 {
  bool chance(double p) { return static_cast<double>(next() % 1000000) < p * 1000000.0; }
  std::uint64_t below(std::uint64_t n) { return n ? next() % n : 0; }
};

struct in_flight {
  std::uint64_t at = 0;
  raft::message m;
  std::uint64_t incarnation = 0;  ///< the sender's data directory when it sent m
};

struct sim_node {
  std::string id;
  durable disk;
  std::unique_ptr<raft::raft_node> core;
  bool alive = true;
  bool refused = false;  ///< came back blank and was told so: stays down for good
  std::uint64_t boot_nonce = 0;  ///< per process: part of its read contexts
  std::uint64_t reads_issued = 0;  ///< per process
  bool was_leader = false;  ///< leader at the last check, in term `leader_term`
  std::uint64_t leader_term = 0;
  std::optional<durable> lost_disk;  ///< what a wipe destroyed (acks it sent before still count)
  double tick_rate = 1.0;  ///< clock skew
  /// The batch being persisted: storage writes it at `persist_done_at`,
  /// and the loop takes the acknowledgement at `ack_at` (later when the
  /// loop is busy), so a crash can fall between the two.
  std::optional<raft::ready> persisting;
  std::uint64_t persist_done_at = 0, ack_at = 0;
  bool written = false;
  /// Per append ack in persisting->messages: the entry's term in the
  /// node's log when the batch was taken (what the ack promises).
  std::vector<std::pair<std::uint64_t, std::uint64_t>> acked;
  std::uint64_t last_commit = 0;
  std::map<std::string, std::map<std::uint64_t, std::string>> incoming_snaps;
};

struct proposal_rec {
  std::string value;
  std::uint64_t index = 0, term = 0;
  std::string proposer;
  bool acked = false;
  bool lost = false;
};

struct read_rec {
  std::uint64_t acked_max_at_start = 0;
};

/// A snapshot stream in progress: its bytes reach `to` at `at`, then the
/// snapshot message follows and the sender hears how it went.
struct snapshot_stream {
  std::uint64_t at = 0;
  bool fails = false;
  std::string from;
  std::uint64_t from_nonce = 0;  ///< the sending process
  raft::message m;
  std::map<std::uint64_t, std::string> bytes;
};

class simulation {
 public:
  explicit simulation(const sim_options& o) : o_(o), rng_{o.seed * 0x2545F4914F6CDD1DULL + 7} {
    for (int i = 1; i <= o.nodes + o.learners; ++i)
      founding_.members.push_back({"n" + std::to_string(i), "addr-n" + std::to_string(i), i <= o.nodes});
    for (const auto& m : founding_.members) add_node(m.id, founding_);
  }

  sim_result run() {
    for (step_ = 0; step_ < static_cast<std::uint64_t>(o_.chaos_steps) && res_.ok; ++step_) chaos_step();
    if (res_.ok) heal();
    res_.steps = step_;
    res_.committed = committed_.size();
    return res_;
  }

 private:
  // ---- set-up ----------------------------------------------------------------
  void add_node(const std::string& id, const raft::membership& bootstrap) {
    auto n = std::make_unique<sim_node>();
    n->id = id;
    n->disk.snap.config = bootstrap;
    n->tick_rate = 0.7 + static_cast<double>(rng_.below(600)) / 1000.0;
    n->disk.incarnation = rng_.next();
    nodes_[id] = std::move(n);
    boot(*nodes_[id]);
  }

  void boot(sim_node& n) {
    raft::config c;
    c.id = n.id;
    c.election_ticks = 10;
    c.heartbeat_ticks = 2;
    c.max_entries_per_msg = 1 + rng_.below(8);
    c.max_inflight = 1 + rng_.below(4);
    c.seed = rng_.next();
    c.testing_bugs = o_.core_bugs;
    c.check_invariants = true;
    if (o_.figure8_churn) c.max_entries_per_msg = 1, c.max_inflight = 1;
    if (n.disk.snap.index > n.disk.applied) {
      // Crashed between writing a received snapshot's record and installing
      // it: the node reinstalls it from its file at start (node.cpp).
      auto it = n.incoming_snaps.find(n.disk.snap.handle);
      if (it == n.incoming_snaps.end()) {
        fail(n.id + " records snapshot " + n.disk.snap.handle + " but never received its file");
      } else {
        n.disk.sm = it->second;
        n.disk.applied = n.disk.snap.index;
        n.disk.snapshots[n.disk.snap.handle] = it->second;
        ++res_.reinstalled;
      }
    }
    raft::initial_state st;
    st.hard = n.disk.hard;
    st.snapshot = n.disk.snap;
    st.entries = n.disk.log;
    st.applied = n.disk.applied;
    n.core = std::make_unique<raft::raft_node>(c, st);
    n.alive = true;
    n.boot_nonce = rng_.next();
    n.reads_issued = 0;
    n.was_leader = false;
    n.persisting.reset();
    n.last_commit = n.core->commit_index();
  }

  void trace(const std::string& s) {
    if (o_.trace) std::fprintf(stderr, "[%llu] %s\n", static_cast<unsigned long long>(step_), s.c_str());
  }

  void fail(const std::string& what) {
    if (!res_.ok) return;
    res_.ok = false;
    std::ostringstream os;
    os << "seed " << o_.seed << " step " << step_ << ": " << what;
    res_.failure = os.str();
  }

  // ---- one step ---------------------------------------------------------------------
  void chaos_step() {
    if (o_.figure8_churn) return churn_step();
    const auto r = rng_.below(1000);
    if (r < 400) {
      for (auto& [id, n] : nodes_)
        if (n->alive && rng_.chance(n->tick_rate * 0.5)) n->core->tick();
    } else if (r < 560) {
      propose_somewhere();
    } else if (r < 610) {
      read_somewhere();
    } else if (r < 615) {
      crash_one();
    } else if (r < 630) {
      restart_one();
    } else if (r < 640) {
      change_partition();
    } else if (r < 646 && o_.membership) {
      change_membership();
    } else if (r < 652 && o_.snapshots) {
      compact_one();
    } else if (r < 654) {
      transfer();
    } else if (r < 660) {
      spurious_link_down();
    } else if (r < 661 && o_.wipes) {
      wipe_one();
    }
    run_streams();
    handshakes();
    deliver(false);
    process_readies();
    check();
  }

  /// figure8_churn: proposals and faults at several times the default rate.
  void churn_step() {
    const auto r = rng_.below(1000);
    if (r < 400) {
      for (auto& [id, n] : nodes_)
        if (n->alive && rng_.chance(n->tick_rate * 0.5)) n->core->tick();
    } else if (r < 600) {
      propose_somewhere();
    } else if (r < 630) {
      read_somewhere();
    } else if (r < 650) {
      // faults aimed at the leader (a Jepsen-style nemesis): leaders die
      // right after winning, or halfway through replicating
      if (auto* l = some_leader(); l && rng_.chance(0.5)) crash_one(l);
      else crash_one();
    } else if (r < 700) {
      restart_one();
    } else if (r < 760) {
      if (auto* l = some_leader(); l && rng_.chance(0.5)) isolate(l->id);
      else change_partition();
    } else if (r < 765) {
      transfer();
    }
    run_streams();
    handshakes();
    deliver(false);
    process_readies();
    check();
  }

  void heal() {
    cuts_.clear();
    for (auto& [id, n] : nodes_)
      if (!n->alive && !n->refused) boot(*n);
    const std::uint64_t start = step_;
    bool proposed_final = false;
    std::string final_value;
    for (; step_ < start + static_cast<std::uint64_t>(o_.heal_steps) && res_.ok; ++step_) {
      for (auto& [id, n] : nodes_)
        if (n->alive) n->core->tick();
      run_streams();
      handshakes();
      deliver(true);
      process_readies();
      check();
      // A proposal whose entry is not in the agreed leader's log can never
      // commit: it was lost; so were those overwritten on apply.
      if (auto l = agreed_leader()) {
        auto& lc = *nodes_[*l]->core;
        for (auto& p : proposals_)
          if (p.index && !p.acked &&
              ((p.index > lc.snapshot_index() && lc.term_at(p.index) != p.term) ||
               (p.index <= lc.snapshot_index() && committed_.count(p.index) &&
                committed_[p.index] != std::make_pair(p.term, p.value)))) {
            p.lost = true;
            p.index = 0;
          }
      }
      // Re-propose lost proposals.
      for (auto& p : proposals_)
        if (p.lost) propose_value(p.value, &p);
      auto l = agreed_leader();
      if (l && !proposed_final) {
        final_value = "final-" + std::to_string(o_.seed);
        proposed_final = propose_value(final_value, nullptr);
      }
      if (proposed_final && all_proposals_committed(final_value)) return;
    }
    if (res_.ok) {
      std::ostringstream os;
      os << "liveness: after healing, no stable leader or proposals not committed within " << o_.heal_steps << " steps";
      auto l = agreed_leader();
      os << " (leader " << (l ? *l : std::string("none")) << ")";
      std::set<std::string> cv;
      for (auto& [i, c] : committed_) cv.insert(c.second);
      int shown = 0;
      for (auto& p : proposals_)
        if (!cv.count(p.value) && shown++ < 8)
          os << " {pending " << p.value << " @" << p.index << " t" << p.term << (p.lost ? " lost" : "") << "}";
      for (auto& [id, n] : nodes_)
        if (n->alive)
          os << " [" << id << " " << raft::to_string(n->core->state()) << " t" << n->core->term() << " c" << n->core->commit_index()
             << " l" << n->core->last_index() << " voters " << raft::voter_count(n->core->config()) << "/"
             << n->core->config().members.size() << (raft::is_voter(n->core->config(), id) ? " voter" : "") << "]";
      fail(os.str());
    }
  }

  /// The leader every live member of its configuration follows, if any.
  /// Nodes removed from the configuration never learn it (Raft does not
  /// tell them) and are not counted.
  std::optional<std::string> agreed_leader() {
    sim_node* lead = nullptr;
    for (auto& [id, n] : nodes_)
      if (n->alive && n->core->state() == raft::role::leader && (!lead || n->core->term() > lead->core->term()))
        lead = n.get();
    if (!lead) return std::nullopt;
    for (const auto& m : lead->core->config().members) {
      auto it = nodes_.find(m.id);
      if (it == nodes_.end() || !it->second->alive) continue;
      if (it->second->core->leader() != lead->id) return std::nullopt;
    }
    return lead->id;
  }

  bool all_proposals_committed(const std::string& final_value) {
    std::set<std::string> committed_values;
    for (auto& [i, c] : committed_) committed_values.insert(c.second);
    if (!committed_values.count(final_value)) return false;
    for (auto& p : proposals_)
      if (!committed_values.count(p.value)) return false;
    return true;
  }

  // ---- workload ------------------------------------------------------------------------
  bool propose_value(const std::string& v, proposal_rec* existing) {
    for (auto& [id, n] : nodes_) {
      if (!n->alive || n->core->state() != raft::role::leader) continue;
      auto p = n->core->propose(v);
      if (p.ec) return false;
      if (existing) {
        existing->lost = false;
        existing->acked = false;
        existing->index = p.index;
        existing->term = p.term;
        existing->proposer = id;
      } else {
        proposals_.push_back({v, p.index, p.term, id, false, false});
      }
      trace(id + " proposes " + v + " at " + std::to_string(p.index));
      return true;
    }
    return false;
  }

  void propose_somewhere() { propose_value("v" + std::to_string(next_value_++), nullptr); }

  /// A read with a context as the node makes it: "<id>.<process nonce>.<n>"
  /// (unique across nodes and restarts), or, with bug_read_ids_restart,
  /// "r<n>" counted from 1 by every process.
  void read_somewhere() {
    auto* n = random_alive();
    if (!n) return;
    const auto k = ++n->reads_issued;
    const std::string ctx = o_.bug_read_ids_restart
                                ? "r" + std::to_string(k)
                                : n->id + "." + std::to_string(n->boot_nonce) + "." + std::to_string(k);
    if (!n->core->read_index(ctx)) reads_[{n->id, ctx}] = {acked_max_};
  }

  sim_node* random_alive() {
    std::vector<sim_node*> alive;
    for (auto& [id, n] : nodes_)
      if (n->alive) alive.push_back(n.get());
    return alive.empty() ? nullptr : alive[rng_.below(alive.size())];
  }

  /// The live node leading the highest term, if any.
  sim_node* some_leader() {
    sim_node* l = nullptr;
    for (auto& [id, n] : nodes_)
      if (n->alive && n->core->state() == raft::role::leader && (!l || n->core->term() > l->core->term())) l = n.get();
    return l;
  }

  /// Cuts `x` off from every other node.
  void isolate(const std::string& x) {
    cuts_.clear();
    for (auto& [y, n] : nodes_)
      if (y != x) cuts_.insert({x, y}), cuts_.insert({y, x});
    trace("isolate " + x);
  }

  void crash_one(sim_node* n = nullptr) {
    if (!n) n = random_alive();
    if (!n) return;
    ++res_.crashes;
    n->alive = false;
    if (n->persisting && n->written) ++res_.crashed_unacked;
    n->persisting.reset();  // an fsync in progress is lost; a written batch is on disk, unacknowledged
    n->core.reset();
    trace("crash " + n->id);
    // The kernel closes a dead process's sockets: every peer sees its link drop.
    for (auto& [id, p] : nodes_)
      if (p->alive) p->core->report_link_down(n->id);
  }

  /// A link drops while both ends live (a network blip, a redial): the hint
  /// must only ever cost an election, never safety.
  void spurious_link_down() {
    auto* a = random_alive();
    auto* b = random_alive();
    if (!a || !b || a == b) return;
    a->core->report_link_down(b->id);
    trace("link down " + a->id + " -> " + b->id);
  }

  /// A founding voter loses its disk (a replaced drive) and is started
  /// again with the same id and config, blank: the product's peers notice
  /// the new incarnation and refuse it (it then stays down), and the core
  /// never lets a node whose log never held an entry vote for a candidate
  /// that has one. Only a voter of a leader's committed configuration of >= 3 voters,
  /// in a cluster founded by >= 3 voters, once per run: two blank disks out
  /// of three are a lost majority, which no protocol survives, and a node
  /// whose founding configuration makes it the only voter has nobody to ask
  /// (it founds a new cluster; the README warns about it).
  /// Every other founding voter must have held an entry by then: a voter
  /// that never did is a blank disk too.
  void wipe_one() {
    auto* l = some_leader();
    if (wiped_ || !l || l->core->conf_change_pending() || raft::voter_count(l->core->config()) < 3 || o_.nodes < 3)
      return;
    // Every node's newest configuration, the durable one of a node that is
    // down included, must keep three voters: an uncommitted removal the
    // leader never received can still be the configuration that wins, and
    // one lost disk of two voters is a majority lost.
    for (auto& [id, m] : nodes_)
      if (raft::voter_count(m->core ? m->core->config() : raft::newest_config(m->disk.snap, m->disk.log)) < 3) return;
    std::vector<sim_node*> voters;
    for (auto& m : l->core->config().members)
      if (m.voter && nodes_.count(m.id)) voters.push_back(nodes_[m.id].get());
    auto* n = voters[rng_.below(voters.size())];
    for (auto* v : voters)
      if (v != n && v->disk.log.empty() && v->disk.snap.index == 0) return;
    if (n->alive) crash_one(n);
    wiped_ = true;
    ++res_.wipes;
    n->lost_disk = std::move(n->disk);
    n->disk = durable{};
    n->disk.snap.config = founding_;
    n->disk.incarnation = rng_.next();
    n->incoming_snaps.clear();
    boot(*n);
    trace("wipe " + n->id);
  }

  void restart_one() {
    for (auto& [id, n] : nodes_)
      if (!n->alive && !n->refused && rng_.chance(0.5)) {
        boot(*n);
        trace("restart " + id);
        return;
      }
  }

  void change_partition() {
    const auto r = rng_.below(4);
    cuts_.clear();
    if (r == 0) return;  // heal
    std::vector<std::string> ids;
    for (auto& [id, n] : nodes_) ids.push_back(id);
    if (r == 1) {  // isolate one node
      const auto& x = ids[rng_.below(ids.size())];
      for (auto& y : ids)
        if (y != x) cuts_.insert({x, y}), cuts_.insert({y, x});
      trace("isolate " + x);
    } else if (r == 2) {  // random split
      std::set<std::string> side;
      for (auto& x : ids)
        if (rng_.chance(0.5)) side.insert(x);
      for (auto& a : ids)
        for (auto& b : ids)
          if (side.count(a) != side.count(b)) cuts_.insert({a, b});
      trace("split");
    } else {  // one-way cut
      const auto& a = ids[rng_.below(ids.size())];
      const auto& b = ids[rng_.below(ids.size())];
      if (a != b) cuts_.insert({a, b});
      trace("one-way " + a + "->" + b);
    }
  }

  void change_membership() {
    sim_node* leader = nullptr;
    for (auto& [id, n] : nodes_)
      if (n->alive && n->core->state() == raft::role::leader) leader = n.get();
    if (!leader) return;
    const auto& cfg = leader->core->config();
    const auto voters = raft::voter_count(cfg);
    const auto r = rng_.below(3);
    raft::conf_change cc;
    // A node that lost its disk is removed first (the operator's remedy
    // once it is refused), and nobody else is removed while it still is a
    // member: with it, the configuration has one voter fewer than it shows.
    const raft::member* lost = nullptr;
    for (auto& m : cfg.members)
      if (nodes_.count(m.id) && nodes_.at(m.id)->lost_disk) lost = &m;
    if (lost) {
      cc = {raft::conf_change_type::remove, lost->id, ""};
    } else if (r == 0 && cfg.members.size() < 6) {
      cc = {raft::conf_change_type::add_learner, "x" + std::to_string(next_node_++), ""};
      cc.address = "addr-" + cc.id;
    } else if (r == 1) {
      // As the node does, promote only a learner that holds entries (the
      // node waits for it to keep up): a voter whose log never held one may
      // only vote in the founding election (raft.cpp).
      const raft::member* learner = nullptr;
      const auto prs = leader->core->progress();
      for (auto& m : cfg.members)
        if (!m.voter && std::any_of(prs.begin(), prs.end(), [&](auto& p) { return p.id == m.id && p.match > 0; }))
          learner = &m;
      if (!learner) return;
      cc = {raft::conf_change_type::promote, learner->id, ""};
    } else {
      // Down to one voter in small clusters, never below three in big ones.
      if (voters <= (o_.nodes >= 5 ? 3u : 1u)) return;
      const auto& victim = cfg.members[rng_.below(cfg.members.size())];
      cc = {raft::conf_change_type::remove, victim.id, ""};
    }
    auto p = leader->core->propose_conf_change(cc);
    if (p.ec) return;
    ++res_.conf_changes;
    trace(leader->id + " conf change " + std::to_string(static_cast<int>(cc.type)) + " " + cc.id);
    if (cc.type == raft::conf_change_type::add_learner && !nodes_.count(cc.id)) add_node(cc.id, {});
  }

  void compact_one() {
    auto* n = random_alive();
    if (!n) return;
    const auto applied = n->disk.applied;
    if (applied <= n->core->snapshot_index() + 5) return;
    const auto idx = applied - rng_.below(3);
    const std::string handle = n->id + "-snap-" + std::to_string(idx);
    auto sm = n->disk.sm;
    for (auto it = sm.upper_bound(idx); it != sm.end();) it = sm.erase(it);
    if (n->core->compact(idx, handle)) return;
    n->disk.snapshots[handle] = sm;
    n->disk.snap = n->core->snapshot();
    n->disk.log.erase(std::remove_if(n->disk.log.begin(), n->disk.log.end(), [&](auto& e) { return e.index <= idx; }),
                      n->disk.log.end());
    trace(n->id + " compacts to " + std::to_string(idx));
  }

  void transfer() {
    for (auto& [id, n] : nodes_)
      if (n->alive && n->core->state() == raft::role::leader) {
        const auto& cfg = n->core->config();
        const auto& to = cfg.members[rng_.below(cfg.members.size())];
        if (to.voter && to.id != id) n->core->transfer_leadership(to.id);
        return;
      }
  }

  // ---- the network ----------------------------------------------------------------------
  void send_all(sim_node& from, std::vector<raft::message>& msgs) {
    for (auto& m : msgs) {
      check_durable(from, m);
      check_promise(from, m);
      if (m.type == raft::msg_type::snapshot && m.snapshot) {
        // The node streams the snapshot file before the message (as the
        // replicator does). Streams finish at once, fail, or take a while
        // (the leader may have moved on by the time they land).
        auto it = from.disk.snapshots.find(m.snapshot->handle);
        if (it == from.disk.snapshots.end()) continue;
        const auto r = rng_.below(10);
        snapshot_stream st{step_ + (r < 6 ? 0 : 1 + rng_.below(40)), r >= 8, from.id, from.boot_nonce, m, it->second};
        if (st.at == step_ && !st.fails) finish_stream(st);
        else streams_.push_back(std::move(st));
        continue;
      }
      post(m);
    }
  }

  /// Puts `m` on the wire: maybe dropped, duplicated, delayed.
  void post(const raft::message& m) {
    if (rng_.chance(o_.drop)) return;
    const int copies = rng_.chance(o_.dup) ? 2 : 1;
    const auto inc = nodes_.at(m.from)->disk.incarnation;
    for (int k = 0; k < copies; ++k) net_.push_back({step_ + 1 + rng_.below(static_cast<std::uint64_t>(o_.max_delay)), m, inc});
  }

  /// The peer handshake (the product's links, between every pair of live
  /// members that can reach each other): each side records the incarnation
  /// it first sees for the other. A member that comes back with another one
  /// lost its data: it is refused, told so, and stops for good (the operator
  /// removes it). A non-member's record is replaced (it was removed and may
  /// come back as a new member).
  void handshakes() {
    for (auto& [a, na] : nodes_)
      for (auto& [b, nb] : nodes_) {
        if (a == b || !na->alive || !nb->alive || cuts_.count({a, b}) || cuts_.count({b, a})) continue;
        if (!raft::find_member(na->core->config(), b) && !raft::find_member(nb->core->config(), a)) continue;
        if (!admit(*na, b, nb->disk.incarnation)) return;  // nb stopped: start over next step
      }
  }

  /// `to` meets `from` speaking for incarnation `inc`: false if refused.
  bool admit(sim_node& to, const std::string& from_id, std::uint64_t inc) {
    auto [it, fresh] = to.disk.peer_incarnations.emplace(from_id, inc);
    if (fresh || it->second == inc || o_.bug_ignore_incarnations) return true;
    if (!raft::find_member(to.core->config(), from_id)) {
      it->second = inc;
      return true;
    }
    auto& from = *nodes_.at(from_id);
    if (from.alive && from.disk.incarnation == inc) {
      trace(to.id + " refuses " + from.id + ": it came back with another data directory");
      ++res_.refused;
      crash_one(&from);
      from.refused = true;
    }
    return false;
  }

  /// A stream ended: on success its bytes are at the receiver and the
  /// snapshot message follows; either way the sending process (if it still
  /// runs) hears of it.
  void finish_stream(const snapshot_stream& st) {
    auto to = nodes_.find(st.m.to);
    const bool ok = !st.fails && to != nodes_.end() && to->second->alive && !cuts_.count({st.from, st.m.to});
    if (ok) {
      to->second->incoming_snaps[st.m.snapshot->handle] = st.bytes;
      ++res_.snapshots_sent;
      post(st.m);
    } else {
      ++res_.snapshots_failed;
    }
    auto from = nodes_.find(st.from);
    if (from == nodes_.end() || !from->second->alive || from->second->boot_nonce != st.from_nonce) return;
    from->second->core->report_snapshot(st.m.to, ok);
  }

  /// Streams that were slow end now.
  void run_streams() {
    std::vector<snapshot_stream> due;
    for (auto it = streams_.begin(); it != streams_.end();)
      if (it->at <= step_) {
        due.push_back(std::move(*it));
        it = streams_.erase(it);
      } else {
        ++it;
      }
    for (auto& st : due) {
      if (!st.fails) ++res_.snapshots_late;
      finish_stream(st);
    }
  }

  void deliver(bool healed) {
    std::vector<in_flight> now, later;
    for (auto& f : net_) ((f.at <= step_ || healed) ? now : later).push_back(std::move(f));
    net_ = std::move(later);
    for (auto& f : now) {
      if (!healed && cuts_.count({f.m.from, f.m.to})) continue;
      auto it = nodes_.find(f.m.to);
      if (it == nodes_.end() || !it->second->alive) continue;
      if (f.m.type == raft::msg_type::snapshot && f.m.snapshot && !it->second->incoming_snaps.count(f.m.snapshot->handle))
        continue;  // its bytes never arrived
      if (!admit(*it->second, f.m.from, f.incarnation)) continue;
      it->second->core->step(f.m);
    }
  }

  // ---- the shell ------------------------------------------------------------------------
  void process_readies() {
    for (auto& [id, np] : nodes_) {
      auto& n = *np;
      if (!n.alive) continue;
      for (int guard = 0; guard < 8; ++guard) {
        if (n.persisting) {
          // The real shell sends a leader's new appends while it persists.
          auto early = n.core->take_early_messages();
          send_all(n, early);
          if (step_ < n.persist_done_at) break;
          if (!n.written) persist(n, *n.persisting), n.written = true;
          if (step_ < n.ack_at) break;
          raft::ready rd = std::move(*n.persisting);
          n.persisting.reset();
          for (const auto& [index, term] : n.acked)
            if (!holds(n.disk, index, term))
              fail(n.id + " acknowledged index " + std::to_string(index) + " of term " + std::to_string(term) +
                   " that is not durable");
          finish(n, rd);
          continue;
        }
        if (!n.core->has_ready()) break;
        raft::ready rd = n.core->get_ready();
        if (rd.soft && rd.soft->state == raft::role::leader) ++res_.elections;
        if (rd.soft)
          trace(n.id + " is " + raft::to_string(rd.soft->state) + " in term " + std::to_string(n.core->term()) +
                ", leader " + (rd.soft->leader.empty() ? "?" : rd.soft->leader));
        send_all(n, rd.early_messages);
        if (rd.must_persist()) {
          n.persist_done_at = step_ + rng_.below(3);
          n.ack_at = n.persist_done_at + (rng_.below(4) == 0 ? rng_.below(10) : 0);
          n.written = false;
          n.acked.clear();
          for (const auto& m : rd.messages)
            if (m.type == raft::msg_type::append_resp && !m.reject)
              if (auto t = n.core->term_at(m.index)) n.acked.emplace_back(m.index, *t);
          n.persisting = std::move(rd);
          continue;
        }
        finish(n, rd);
      }
    }
  }

  void persist(sim_node& n, const raft::ready& rd) {
    if (rd.snapshot) {
      n.disk.snap = *rd.snapshot;
      n.disk.log.clear();
    }
    for (const auto& e : rd.entries) {
      while (!n.disk.log.empty() && n.disk.log.back().index >= e.index) n.disk.log.pop_back();
      n.disk.log.push_back(e);
    }
    if (rd.hard) {
      n.disk.hard = *rd.hard;
      if (o_.bug_forget_vote) n.disk.hard.vote.clear();
    }
  }

  void finish(sim_node& n, raft::ready& rd) {
    send_all(n, rd.messages);
    if (rd.snapshot) {
      auto it = n.incoming_snaps.find(rd.snapshot->handle);
      if (it == n.incoming_snaps.end()) {
        fail(n.id + " must install a snapshot it never received");
        return;
      }
      n.disk.sm = it->second;
      n.disk.applied = rd.snapshot->index;
      n.disk.snapshots[rd.snapshot->handle] = it->second;
    }
    for (const auto& e : rd.committed) {
      if (e.index <= n.disk.applied) continue;
      if (e.index != n.disk.applied + 1) {
        fail(n.id + " applies index " + std::to_string(e.index) + " after " + std::to_string(n.disk.applied));
        return;
      }
      n.disk.applied = e.index;
      if (e.type == raft::entry_type::normal && !e.data.empty()) n.disk.sm[e.index] = e.data;
      record_commit(n, e);
    }
    for (const auto& rs : rd.read_states) {
      auto it = reads_.find({n.id, rs.context});
      if (it == reads_.end()) continue;
      ++res_.reads;
      if (rs.index < it->second.acked_max_at_start)
        fail("read " + rs.context + " got read index " + std::to_string(rs.index) + " older than write " +
             std::to_string(it->second.acked_max_at_start) + " acknowledged before it began");
      reads_.erase(it);
    }
    n.core->advance(rd);
  }

  void record_commit(sim_node& n, const raft::entry& e) {
    auto [it, fresh] = committed_.emplace(e.index, std::make_pair(e.term, e.data));
    if (!fresh && (it->second.first != e.term || it->second.second != e.data))
      fail("state machine safety: " + n.id + " applied a different entry at index " + std::to_string(e.index));
    if (fresh) commit_seen_term_[e.index] = n.core->term();
    for (auto& p : proposals_) {
      if (p.index != e.index || p.acked) continue;
      if (p.term == e.term && p.value == e.data) {
        if (n.id == p.proposer) {
          p.acked = true;
          acked_max_ = std::max(acked_max_, e.index);
        }
      } else {
        p.lost = true;
        p.index = 0;
      }
    }
  }

  /// Every message a node sends rests on durable state: its term is at most
  /// the durable term (pre-vote messages carry a future term by design and
  /// promise nothing). A leader's appends before its term is on disk break
  /// this (types.h `ready`).
  void check_durable(sim_node& n, const raft::message& m) {
    if (m.type == raft::msg_type::pre_vote || m.type == raft::msg_type::pre_vote_resp) return;
    if (m.term > n.disk.hard.term)
      fail(n.id + " sent " + raft::to_string(m.type) + " of term " + std::to_string(m.term) +
           " while its durable term is " + std::to_string(n.disk.hard.term));
  }

  /// True if `d` durably holds the entry (index, term) or a snapshot past it.
  static bool holds(const durable& d, std::uint64_t index, std::uint64_t term) {
    if (d.snap.index >= index) return true;
    for (auto it = d.log.rbegin(); it != d.log.rend() && it->index >= index; ++it)
      if (it->index == index) return it->term == term;
    return false;
  }

  /// Messages sent after persistence must promise only durable state.
  void check_promise(sim_node& n, const raft::message& m) {
    if (m.type == raft::msg_type::vote_resp && !m.reject) {
      // Durable: the same vote in that term, or a later term (which can never
      // vote in the old one again).
      if (n.disk.hard.term < m.term || (n.disk.hard.term == m.term && n.disk.hard.vote != m.to))
        if (!o_.bug_forget_vote) fail(n.id + " granted a vote that is not durable");
    }
    if (m.type == raft::msg_type::append_resp && !m.reject && m.index > n.disk.snap.index) {
      bool have = false;
      for (const auto& e : n.disk.log) have = have || e.index == m.index;
      if (!have) fail(n.id + " acknowledged index " + std::to_string(m.index) + " that is not durable");
    }
  }

  // ---- invariants -----------------------------------------------------------------------
  void check() {
    if (!res_.ok) return;
    std::vector<sim_node*> alive;
    for (auto& [id, n] : nodes_)
      if (n->alive) alive.push_back(n.get());
    for (auto* n : alive) {
      auto& c = *n->core;
      // Election safety: one leader per term, ever, among leaders whose term
      // is durable. A candidate whose own vote is a quorum leads at once,
      // but sends nothing before that batch is on disk (the check at every
      // send below); one that crashes first never led in any way a peer or
      // client could see, and may lose that term's election after its
      // restart.
      if (c.state() == raft::role::leader && n->disk.hard.term == c.term()) {
        auto [it, fresh] = leaders_.emplace(c.term(), n->id);
        if (!fresh && it->second != n->id)
          return fail("election safety: " + it->second + " and " + n->id + " both lead term " + std::to_string(c.term()));
      }
      if (c.commit_index() > c.last_index()) return fail(n->id + " commit beyond its log");
      if (c.commit_index() < n->last_commit) return fail(n->id + " commit index went backwards");
      // What a core counts as committed is committed, applied or not yet
      // (a client may already have its answer): record it with the core's
      // term, an upper bound of the term that committed it.
      for (auto i = n->last_commit + 1; i <= c.commit_index(); ++i) {
        const auto t = c.term_at(i);
        if (!t) continue;  // inside a snapshot
        auto [it, fresh] = core_committed_.emplace(i, std::make_pair(*t, c.term()));
        if (!fresh && it->second.first != *t)
          return fail("committed entry lost: index " + std::to_string(i) + " was committed with term " +
                      std::to_string(it->second.first) + ", " + n->id + " commits term " + std::to_string(*t));
      }
      // A leader that commits by counting (§5.3) has its entry on the disks
      // of a quorum of the voters it leads: learners, stale acks and acks of
      // entries a follower does not hold must never count.
      if (c.state() == raft::role::leader && n->was_leader && n->leader_term == c.term() &&
          c.commit_index() > n->last_commit) {
        const auto idx = c.commit_index();
        const auto t = *c.term_at(idx);
        std::size_t holders = 0;
        for (const auto& m : c.config().members) {
          if (!m.voter || !nodes_.count(m.id)) continue;
          const auto& v = *nodes_.at(m.id);
          holders += holds(v.disk, idx, t) || (v.lost_disk && holds(*v.lost_disk, idx, t)) ? 1 : 0;
        }
        if (holders < raft::voter_count(c.config()) / 2 + 1)
          return fail("commit without a quorum: leader " + n->id + " commits index " + std::to_string(idx) + " of term " +
                      std::to_string(t) + " held by " + std::to_string(holders) + " of " +
                      std::to_string(raft::voter_count(c.config())) + " voters");
      }
      n->was_leader = c.state() == raft::role::leader;
      n->leader_term = c.term();
      n->last_commit = c.commit_index();
      // Leader completeness: a leader of a later term holds every committed entry.
      if (c.state() == raft::role::leader)
        for (const auto& [idx, te] : committed_) {
          if (idx <= c.snapshot_index()) continue;
          if (commit_seen_term_[idx] >= c.term()) continue;
          if (c.term_at(idx) != te.first)
            return fail("leader completeness: leader " + n->id + " of term " + std::to_string(c.term()) +
                        " lacks committed index " + std::to_string(idx));
        }
      if (c.state() == raft::role::leader)
        for (const auto& [idx, ts] : core_committed_) {
          if (idx <= c.snapshot_index() || ts.second >= c.term()) continue;
          if (c.term_at(idx) != ts.first)
            return fail("leader completeness: leader " + n->id + " of term " + std::to_string(c.term()) +
                        " lacks index " + std::to_string(idx) + " that a core counted as committed");
        }
    }
    // Log matching over every pair of live logs.
    for (std::size_t a = 0; a < alive.size(); ++a)
      for (std::size_t b = a + 1; b < alive.size(); ++b) {
        auto& x = *alive[a]->core;
        auto& y = *alive[b]->core;
        const auto lo = std::max(x.first_index(), y.first_index());
        const auto hi = std::min(x.last_index(), y.last_index());
        std::uint64_t top = 0;
        for (auto i = hi; i >= lo && i > 0; --i)
          if (x.term_at(i) == y.term_at(i)) {
            top = i;
            break;
          }
        for (auto i = lo; i <= top; ++i)
          if (x.entry_at(i) != y.entry_at(i))
            return fail("log matching: " + alive[a]->id + " and " + alive[b]->id + " differ at " + std::to_string(i) +
                        " below matching index " + std::to_string(top));
      }
  }

  sim_options o_;
  rng_t rng_;
  std::uint64_t step_ = 0;
  sim_result res_;
  std::map<std::string, std::unique_ptr<sim_node>> nodes_;
  std::vector<in_flight> net_;
  std::set<std::pair<std::string, std::string>> cuts_;
  std::map<std::uint64_t, std::string> leaders_;
  std::map<std::uint64_t, std::pair<std::uint64_t, std::string>> committed_;
  std::map<std::uint64_t, std::uint64_t> commit_seen_term_;
  /// index -> (term of the entry, term of the core that first counted it committed)
  std::map<std::uint64_t, std::pair<std::uint64_t, std::uint64_t>> core_committed_;
  std::vector<proposal_rec> proposals_;
  std::map<std::pair<std::string, std::string>, read_rec> reads_;  ///< (node, context)
  raft::membership founding_;
  bool wiped_ = false;
  std::vector<snapshot_stream> streams_;
  std::uint64_t acked_max_ = 0;
  std::uint64_t next_value_ = 1, next_node_ = 1;
};

}  // namespace

sim_result run_simulation(const sim_options& o) { return simulation(o).run(); }

}  // namespace qc::sim
