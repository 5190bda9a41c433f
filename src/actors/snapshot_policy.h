// When the apply actor copies the chat state into a new snapshot.
//
// A snapshot copies the whole of chat.db, so its cost grows with the data,
// while what it buys (dropping the log up to it) grows with the log written
// since the last one. Taking one every N entries makes the copy per write
// grow without bound: at 1M messages, 10,000 entries of new log cost a
// ~450 MB copy. Following the Raft dissertation (§5.1.3, "when to
// snapshot"), a snapshot waits until the log written since the last one
// has grown to a multiple of that snapshot's size (an "expansion factor"
// E): each byte of log then costs 1/E bytes of copy, and copies take
// 1/(1+E) of the bytes written. Here E = 2: half a byte of copy per byte
// of log, a third of the bytes written, and a log of at most twice the
// state (past a small size, below which the count decides). The log
// since the snapshot is also held in memory (by the Raft core) and read
// at start, so it is capped in bytes: past that, copies grow again with
// the data, from a base 17 times lower than the default entry count
// gives (10,000 sends of 256 bytes are ~4 MB of log).
//
// Owned by: the apply actor (pure: no clock, no I/O).
#pragma once

#include <algorithm>
#include <cstdint>

namespace qc::actors {

/// The apply actor's rule for taking a snapshot.
struct snapshot_policy {
  /// Below this snapshot size the entry count alone decides: such copies
  /// take milliseconds, and small data sets (tests, fresh clusters) keep
  /// snapshotting at the configured pace. At the default count (10,000
  /// sends, ~4 MiB of log) a copy below this size costs under a byte per
  /// byte of log.
  static constexpr std::uint64_t small_snapshot_bytes = 4ull << 20;
  /// The log written since the last snapshot must reach its size times
  /// this: at most half a byte copied per byte of log, and a log of at most
  /// twice the state.
  static constexpr std::uint64_t expansion_factor = 2;
  /// ... but never more than this much log: what the Raft core holds in
  /// memory and a restart reads back.
  static constexpr std::uint64_t max_log_bytes = 64ull << 20;

  /// `[raft] snapshot_every`: never sooner than this many entries after
  /// the last snapshot (0: never), but for the first after a start (first_phase).
  std::uint64_t every_entries = 0;
  /// In [0, 1): the first snapshot after a start comes this fraction of an
  /// interval early (node_config::disk_work_phase). Members apply the same
  /// entries, so with one rule they all copy chat.db at the same entry; on
  /// a shared disk three copies at once held every log fsync for 54–65 ms.
  /// Later intervals are whole, so the members stay apart.
  double first_phase = 0;

  /// True if a snapshot is due, `entries` and `log_bytes` after the last one,
  /// whose file took `snapshot_bytes`. Under `storage_pressure` (the node's
  /// storage alarm is up) the count alone decides: compacting the log is
  /// then how space comes back. `first`: no snapshot was taken since the
  /// start, so both thresholds are shortened by first_phase.
  bool due(std::uint64_t entries, std::uint64_t log_bytes, std::uint64_t snapshot_bytes, bool storage_pressure,
           bool first = false) const {
    const double keep = first ? 1.0 - std::clamp(first_phase, 0.0, 1.0) : 1.0;
    const auto part = [&](std::uint64_t x) {
      return std::max<std::uint64_t>(static_cast<std::uint64_t>(static_cast<double>(x) * keep), 1);
    };
    if (every_entries == 0 || entries < part(every_entries)) return false;
    if (storage_pressure || snapshot_bytes < small_snapshot_bytes) return true;
    return log_bytes >= part(std::min(snapshot_bytes * expansion_factor, max_log_bytes));
  }

  /// True if the apply thread must wait for the running copy before it
  /// applies more, `entries` after the last finished snapshot, the copy
  /// having begun `entries_at_copy` after it. The log is compacted only
  /// once the copy is done, so it must not outgrow it without bound: the
  /// wait comes once the entries since the last snapshot have doubled
  /// since the copy began (and reached twice the count). Counting from
  /// the copy's start, not from the last snapshot, matters: the size rule
  /// starts copies long after the count (64 MiB of log is ~170,000 sends),
  /// and a copy that began past twice the count was waited for at once,
  /// stalling every apply and read on the member for the whole copy.
  bool must_wait_for_copy(std::uint64_t entries_at_copy, std::uint64_t entries) const {
    return entries >= 2 * std::max(every_entries, entries_at_copy);
  }
};

}  // namespace qc::actors
