// A copy of the consensus state that other actors may read: the consensus
// actor publishes a fresh one after every batch that changed it. Nobody but
// the consensus actor ever touches the core. A published view is immutable:
// its readers (gateway, events, join and membership actors) share one copy
// through a pointer to const instead of copying it four times per commit.
//
// Owned by: the consensus actor builds it; readers hold it as a view_ptr.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "raft/raft.h"

namespace qc::actors {

/// What status, health, metrics and routing need to know about consensus.
struct raft_view {
  std::string id;
  raft::role state = raft::role::follower;
  bool learner = false;     ///< member but not a voter
  bool member = false;      ///< in the configuration at all
  std::string leader;       ///< empty if unknown
  std::uint64_t term = 0;
  std::uint64_t commit_index = 0;
  std::uint64_t last_index = 0;
  std::uint64_t snapshot_index = 0;
  bool conf_change_pending = false;
  std::uint64_t steps_refused = 0;  ///< peer messages the core refused (not stale), since start
  raft::membership config;
  std::vector<raft::peer_progress> progress;  ///< leader only

  /// The role as `status` reports it (docs/PROTOCOL.md): leader, follower, candidate, learner
  /// (a non-voting member, or a node still waiting to be added: it knows no
  /// configuration yet) or removed (the configuration it knows leaves it out).
  /// A learner or a removed member that leads (for a moment: raft.cpp
  /// `promotable`) is the leader.
  const char* role_name() const {
    if (state == raft::role::leader) return "leader";
    if (!member && !config.members.empty()) return "removed";
    if (learner || !member) return "learner";
    switch (state) {
      case raft::role::candidate:
      case raft::role::pre_candidate: return "candidate";
      default: return "follower";
    }
  }
};

/// A published view, shared read-only by the actors that received it.
using view_ptr = std::shared_ptr<const raft_view>;

/// The view of a node that has published nothing yet.
inline view_ptr empty_view() { return std::make_shared<const raft_view>(); }

}  // namespace qc::actors
