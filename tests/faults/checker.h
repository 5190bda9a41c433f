// The fault suite's checker: judges a history (history.h) against the
// safety properties of docs/PROTOCOL.md ("Guarantees").
//
//   lost          an acknowledged send is missing at the end and nobody
//                 ever tried to delete it;
//   duplicate     one logical send (user + nonce/body) was applied twice:
//                 two ids for it anywhere, or a reply disagreeing;
//   phantom       a message nobody sent (no send with that sender, recipient
//                 and body), or one seen before its send was invoked, or one
//                 id seen with two different contents;
//   realtime      send A completed before send B was invoked, yet
//                 id(A) > id(B);
//   stale_read    a linearizable read misses a send to its conversation that
//                 was acknowledged before the read began (within the window
//                 the read covers, unless a delete of it had begun);
//   read_order    a read is not in id order, or skips a message the final
//                 state holds between two it returned;
//   resurrection  a message whose delete was acknowledged shows up in a
//                 read that began later, or in the final state;
//   lost_mark     a message its recipient marked read (acknowledged) shows
//                 up unread in a read that began later, or at the end;
//                 (Reads with "consistency":"local" may be stale, so they
//                 are held only to phantom and read_order: a replica's
//                 applied state is a prefix of the log, never invented.)
//   divergence    replicas' digests or applied indexes differ at the end, or
//                 a member could not be read.
//
// Calls with an unknown outcome may or may not have taken effect; the
// duplicate property makes sure it was at most once.
//
// Owned by: the runner thread after the run (and the unit tests).
#pragma once

#include <cstddef>
#include <map>
#include <string>
#include <vector>

#include "faults/history.h"

namespace qc::faults {

/// The checker's verdict.
struct verdict {
  /// property name -> human-readable violations (capped per property).
  std::map<std::string, std::vector<std::string>> violations;
  /// property name -> number of violations (uncapped).
  std::map<std::string, std::size_t> counts;
  // Summary of the history.
  std::size_t sends_ok = 0, sends_unknown = 0, sends_failed = 0;
  std::size_t reads_ok = 0, reads_checked_messages = 0;
  std::size_t deletes_ok = 0, marks_ok = 0;
  std::size_t unknown_applied = 0;  ///< unknown-outcome sends that did take effect
  std::size_t final_messages = 0;

  bool ok() const { return counts.empty(); }
  /// The names of the properties checked, in report order.
  static const std::vector<std::string>& properties();
  /// "property: n violations" lines plus the first few examples.
  std::string describe(std::size_t examples_per_property = 5) const;
};

/// Checks `history` against `final`. Pure; O(n log n) plus the per-read
/// window scans.
verdict check(const std::vector<op_record>& history, const final_state& final);

}  // namespace qc::faults
