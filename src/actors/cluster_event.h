// One entry of the live cluster view's timeline (GET /cluster, the /events
// stream in docs/PROTOCOL.md), and how entries follow from two successive
// raft_views: elections (pre-vote, vote, won), role, term and leader
// changes, membership changes, and snapshots sent, delivered, installed
// and taken. Deriving them from views keeps the event source out of the
// consensus actor's state: it sees only the copies it is sent.
//
// Owned by: the events actor (pure functions, no state of their own).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <boost/json/object.hpp>

#include "actors/raft_view.h"

namespace qc::actors {

/// One timeline entry, before the events actor stamps node, seq and time.
struct cluster_event {
  std::string kind;           ///< pre_vote, vote, won, role, term, leader, membership, snapshot_*, action, heal, start
  std::uint64_t term = 0;     ///< the node's term when it happened
  std::string text;           ///< one line for people
  boost::json::object extra;  ///< kind-specific fields (leader, role, members, peer, index, op)
};

/// The events that turn `before` into `after` (the events actor's only
/// view of consensus). `before.id` empty: the node just started.
std::vector<cluster_event> events_between(const raft_view& before, const raft_view& after);

}  // namespace qc::actors
