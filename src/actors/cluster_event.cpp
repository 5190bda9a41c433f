#include "actors/cluster_event.h"

#include <boost/json.hpp>

namespace qc::actors {

namespace json = boost::json;

namespace {

json::array members_of(const raft::membership& m) {
  json::array a;
  for (const auto& mb : m.members) a.push_back(json::object{{"id", mb.id}, {"address", mb.address}, {"voter", mb.voter}});
  return a;
}

const raft::peer_progress* progress_of(const raft_view& v, const std::string& id) {
  for (const auto& p : v.progress)
    if (p.id == id) return &p;
  return nullptr;
}

std::string describe(const raft::membership& m) {
  std::string s;
  for (const auto& mb : m.members) s += (s.empty() ? "" : " ") + mb.id + (mb.voter ? "" : " (learner)");
  return s.empty() ? "(none)" : s;
}

}  // namespace

std::vector<cluster_event> events_between(const raft_view& before, const raft_view& after) {
  std::vector<cluster_event> out;
  auto add = [&](std::string kind, std::string text, json::object extra = {}) {
    out.push_back({std::move(kind), after.term, std::move(text), std::move(extra)});
  };
  const std::string term = std::to_string(after.term);
  if (before.id.empty()) {
    add("start", std::string("started as ") + after.role_name() + " in term " + term,
        {{"role", after.role_name()}, {"members", members_of(after.config)}});
    return out;
  }

  const bool role_changed = before.state != after.state || std::string(before.role_name()) != after.role_name();
  if (role_changed) {
    switch (after.state) {
      case raft::role::pre_candidate:
        add("pre_vote", "election timeout: pre-vote for term " + std::to_string(after.term + 1));
        break;
      case raft::role::candidate:
        add("vote", "pre-vote granted: campaigning in term " + term);
        break;
      case raft::role::leader:
        add("won", "won the election: leader of term " + term);
        break;
      default:
        add("role", std::string("now ") + after.role_name() + " in term " + term, {{"role", after.role_name()}});
    }
  } else if (before.term != after.term) {
    add("term", "term " + std::to_string(before.term) + " -> " + term);
  }

  if (before.leader != after.leader && after.leader != after.id) {
    add("leader", after.leader.empty() ? "leader unknown" : "leader is now " + after.leader,
        {{"leader", after.leader.empty() ? json::value(nullptr) : json::value(after.leader)}});
  }

  if (!(before.config == after.config)) {
    add("membership", "membership " + describe(after.config) + (after.conf_change_pending ? " (not yet committed)" : ""),
        {{"members", members_of(after.config)}});
  }

  if (after.snapshot_index > before.snapshot_index) {
    // A local snapshot never passes the commit index this node knew; one
    // beyond it came from the leader.
    if (after.snapshot_index > before.commit_index)
      add("snapshot_installed", "installed the leader's snapshot at index " + std::to_string(after.snapshot_index),
          {{"index", after.snapshot_index}});
    else
      add("snapshot_taken", "snapshot at index " + std::to_string(after.snapshot_index) + ", log compacted",
          {{"index", after.snapshot_index}});
  }

  if (after.state == raft::role::leader && before.state == raft::role::leader) {
    for (const auto& p : after.progress) {
      const auto* was = progress_of(before, p.id);
      const bool snap_now = p.state == raft::progress_state::snapshot;
      const bool snap_before = was && was->state == raft::progress_state::snapshot;
      if (snap_now && !snap_before)
        add("snapshot_sent", "sending snapshot at index " + std::to_string(after.snapshot_index) + " to " + p.id,
            {{"peer", p.id}, {"index", after.snapshot_index}});
      else if (!snap_now && snap_before)
        add("snapshot_delivered", p.id + " caught up from the snapshot (match " + std::to_string(p.match) + ")",
            {{"peer", p.id}, {"index", p.match}});
    }
  }
  return out;
}

}  // namespace qc::actors
