// The end of a run: wait until every member has applied the same log and
// holds the same state digest, then read every conversation linearizably.
//
// Owned by: the runner thread, after the clients and the nemesis stopped.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "faults/history.h"
#include "faults/run/fault_cluster.h"

namespace qc::faults {

/// Waits up to `timeout` for equal (digest, applied_index) on every member;
/// fills `out.digests` / `out.unreachable` with what it last saw. Returns
/// the seconds it took, or a negative number if they never agreed.
double await_convergence(fault_cluster& c, final_state& out, std::chrono::seconds timeout);

/// Reads every conversation between the users (paging with `before`) from
/// a live member, logged in with each user's token. False (and `err`) if
/// no member could serve a read.
bool read_conversations(fault_cluster& c, const std::vector<std::string>& users,
                        const std::vector<std::string>& tokens, final_state& out, std::string& err);

}  // namespace qc::faults
