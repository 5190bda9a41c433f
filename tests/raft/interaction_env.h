// The interaction environment of the transcripts (tests/raft/testdata/*.txt,
// after etcd-io/raft's rafttest.InteractionEnv): Raft cores, each with a
// "disk", and one wire of messages in flight that a transcript delivers,
// drops or cuts explicitly. Every command prints what happened, so a
// transcript reads as the conversation between the nodes. The commands are
// described in docs/NOTEBOOK.md (2026-12-02, "The Raft core's rules as
// transcripts").
//
// Two safety properties are checked on every command and printed as
// `SAFETY VIOLATION` lines: at most one leader per term (§5.2) and no two
// nodes applying different entries at one index (§5.4.3, State Machine
// Safety), so a transcript run with a rule planted back shows the harm.
//
// Owned by: the test thread.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "raft/datadriven.h"
#include "raft/raft.h"

namespace qc::test {

/// The interaction environment. Node ids are n1, n2, ... in order of creation.
class interaction_env {
 public:
  /// Test-only planted bugs forced on every node added (names as in
  /// raft::config::planted_bugs, comma-separated), e.g. from QC_PLANT, to
  /// show that a transcript fails when its rule is broken.
  explicit interaction_env(std::string forced_planted = {});
  ~interaction_env();

  /// Runs one directive and returns its output. Throws std::runtime_error on
  /// an unknown command or malformed arguments.
  std::string handle(const datadriven::directive& d);

 private:
  /// One node: the core (null while crashed), its disk and a batch in flight.
  struct node {
    raft::config cfg;
    /// Which cluster the node belongs to: each add-nodes whose members are
    /// all new starts one; nodes added with an empty configuration (to be
    /// added by a change) join the cluster of the node added before them.
    std::size_t cluster = 0;
    std::unique_ptr<raft::raft_node> core;
    raft::hard_state hard;
    raft::snapshot_meta snap;
    std::vector<raft::entry> log;
    std::uint64_t applied = 0;  ///< the state machine's applied index (durable with it)
    std::vector<std::string> applied_log;  ///< every entry applied and snapshot installed, in order
    std::optional<raft::ready> in_flight;  ///< taken by get-ready, not yet finished
  };
  /// What a command may change on a node, to print the change.
  struct view {
    raft::role state = raft::role::follower;
    std::uint64_t term = 0;
    std::string leader;
    bool up = false;
  };

  std::string add_nodes(const datadriven::directive& d);
  /// Edits a node's disk (before it starts): term=, vote=, commit=,
  /// applied=, log=(terms of the entries after the snapshot), snapshot=term/index.
  void apply_disk(node& n, const datadriven::directive& d);
  std::string deliver(const datadriven::directive& d);
  std::string step(const datadriven::directive& d);
  std::string stabilize(const datadriven::directive& d);
  std::string status(const std::string& id);
  std::string log(const std::string& id);
  std::string crash(const std::string& id);
  std::string restart(const std::string& id);

  /// get_ready(): prints the batch and puts its early messages on the wire.
  std::string get_ready(const std::string& id);
  /// Finishes the batch in flight per the contract: persist, send, apply, advance.
  std::string finish_ready(const std::string& id);
  /// Delivers (or drops) the wire's messages to `to` that pass the filters.
  std::string deliver_to(const std::string& to, bool drop, const std::string& type, const std::string& from);

  node& at(const std::string& id);
  raft::raft_node& core(const std::string& id);
  std::vector<std::string> ids() const;
  view view_of(const std::string& id);
  /// "n2 became candidate at term 3" lines for what changed since `before`.
  std::string changes(const std::map<std::string, view>& before);
  std::map<std::string, view> views();
  /// Election Safety over every live node; violation lines (printed once).
  std::string check_leaders();
  std::string summary(const std::string& id);

  std::string forced_planted_;
  std::vector<node> nodes_;
  std::vector<raft::message> wire_;
  std::set<std::pair<std::string, std::string>> cuts_;  ///< (from, to) pairs that lose messages
  std::map<std::pair<std::size_t, std::uint64_t>, std::string> leader_of_term_;  ///< (cluster, term) -> leader
  /// (cluster, index) -> the first node that applied it, and the entry.
  std::map<std::pair<std::size_t, std::uint64_t>, std::pair<std::string, raft::entry>> applied_at_;
  std::set<std::string> reported_;
};

}  // namespace qc::test
