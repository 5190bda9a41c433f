// Deterministic simulation of a cluster of Raft cores (LogCabin/etcd style).
//
// One uint64 seed drives everything: message drops, duplication, delay and
// reordering; partitions (symmetric and one-way); crashes that lose all
// unpersisted state; restarts; clock skew; proposals; ReadIndex requests;
// membership changes; snapshots; leadership transfers. Each node runs the
// same shell discipline as the real node (types.h `ready`): early messages
// at once, persistence that completes some steps later, then messages,
// apply, read states, advance. The write and the loop taking its ack are
// apart (sometimes by several steps, a busy loop), so a crash may leave a
// batch on disk whose messages never left and whose committed entries were
// never applied; a restart then reinstalls a recorded snapshot from its
// file, as the node does. After every step the invariant checker runs.
//
// Owned by: one test thread.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "raft/raft.h"

namespace qc::sim {

/// What the simulated durable disk of one node holds.
struct durable {
  raft::hard_state hard;
  raft::snapshot_meta snap;
  std::vector<raft::entry> log;
  /// The state machine, durable together with its applied index.
  std::map<std::uint64_t, std::string> sm;
  std::uint64_t applied = 0;
  /// Snapshot files by handle: the state machine up to that index.
  std::map<std::string, std::map<std::uint64_t, std::string>> snapshots;
  /// This data directory's incarnation (a new one after a wipe).
  std::uint64_t incarnation = 0;
  /// Peers' incarnations as first seen (the node's peer record): a peer
  /// seen again with another one lost its data and is refused.
  std::map<std::string, std::uint64_t> peer_incarnations;
};

/// Knobs of one run.
struct sim_options {
  std::uint64_t seed = 1;
  int nodes = 3;     ///< founding voters
  int learners = 0;  ///< founding learners (non-voting members)
  int chaos_steps = 3000;    ///< steps with faults
  int heal_steps = 3000;     ///< bound for liveness after faults stop
  double drop = 0.05;
  double dup = 0.02;
  int max_delay = 6;
  bool membership = true;
  bool snapshots = true;
  bool trace = false;
  bool wipes = true;  ///< a node may lose its disk and come back blank (>= 3 voters)
  /// Test-only rule breakers (prove the checker has teeth).
  bool bug_forget_vote = false;  ///< persist hard state without the vote
  bool bug_read_ids_restart = false;  ///< each process numbers its reads "r1", "r2"... from scratch
  bool bug_ignore_incarnations = false;  ///< peers never notice a node that lost its data
  raft::config::planted_bugs core_bugs;  ///< rules of the core reverted (raft.h)
  /// Figure-8 churn: one entry per append and one append in flight, and
  /// several times the default rate of partitions, crashes and restarts, so
  /// that leaders often die with an old-term entry on a majority but their
  /// no-op not (the schedule of the Raft paper's Figure 8, §5.4.2).
  bool figure8_churn = false;
};

/// The outcome of a run.
struct sim_result {
  bool ok = true;
  std::string failure;  ///< which invariant broke, at which step
  std::uint64_t steps = 0;
  std::uint64_t committed = 0;
  std::uint64_t elections = 0;
  std::uint64_t reads = 0;
  std::uint64_t crashes = 0;
  std::uint64_t conf_changes = 0;
  std::uint64_t snapshots_sent = 0;
  std::uint64_t snapshots_failed = 0;   ///< streams that failed (reported to the leader)
  std::uint64_t snapshots_late = 0;     ///< streams that finished after a delay
  std::uint64_t wipes = 0;              ///< nodes that lost their disk
  std::uint64_t refused = 0;            ///< wiped nodes refused by a peer that knew them
  std::uint64_t crashed_unacked = 0;    ///< crashes after a batch was written, before the loop took its ack
  std::uint64_t reinstalled = 0;        ///< restarts that installed a snapshot recorded before the crash
};

/// Runs one seeded simulation.
sim_result run_simulation(const sim_options& o);

}  // namespace qc::sim
