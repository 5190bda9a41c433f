// Error codes of the Raft core, as a std::error_code category (Redpanda style).
//
// Owned by: the consensus actor (the only caller of the core); values are
// plain data and may be copied anywhere.
#pragma once

#include <system_error>

namespace qc::raft {

/// Why the core refused a request. Zero is success.
enum class errc : int {
  success = 0,
  not_leader,                ///< only the leader accepts this; leader() names it if known
  proposal_dropped,          ///< leader is transferring leadership or is being removed
  conf_change_in_progress,   ///< an uncommitted configuration change is in the log
  conf_change_not_ready,     ///< leader has not committed an entry in its own term yet (§4.1)
  invalid_conf_change,       ///< the change is malformed or a no-op (already a member, ...)
  unknown_node,              ///< no such member
  not_voter,                 ///< promote/transfer target is not a voter/member as required
  stale_message,             ///< message from an older term, ignored
  unknown_message,           ///< message from a node outside the configuration, or bad type
  compacted,                 ///< requested index is already compacted away
  unavailable,               ///< index beyond the log, or nothing to do
  already_leader,            ///< campaign() on a leader: nothing to do
  duplicate_read,            ///< a ReadIndex request with this context is already pending
};

/// The category for errc; name() is "raft".
const std::error_category& error_category() noexcept;

/// Makes an error_code from an errc (enables implicit conversion).
std::error_code make_error_code(errc e) noexcept;

}  // namespace qc::raft

template <>
struct std::is_error_code_enum<qc::raft::errc> : std::true_type {};
