// The Raft log's durable state as its records describe it: the hard state,
// the snapshot, the live entries (those a later record did not supersede
// or compact away) and the segment each one lives in. The store replays
// every record through one of these at start (keeping the entries, for
// raft_node's initial_state) and keeps one without the entries while it
// runs, to restate the state at the head of each new segment and to know
// which whole segments a compaction may delete.
//
// Record semantics (Raft paper §5.3 and §7):
//  - entries at index i replace every live entry at index >= i (a new
//    leader's log wins over an uncommitted suffix); they are appended
//    after the last live entry when i is the next index;
//  - a received snapshot (reset) replaces the whole log;
//  - a local snapshot (compact) drops the live entries up to its index;
//  - the last hard state wins.
//
// Owned by: the log store, on the storage actor's thread. Not thread-safe.
#pragma once

#include <cstdint>
#include <deque>
#include <string>
#include <vector>

#include "raft/types.h"

namespace qc::db {

/// The replayed or running state of the log.
class log_state {
 public:
  /// With `keep_entries` the entries themselves are kept (replay at start).
  explicit log_state(bool keep_entries) : keep_(keep_entries) {}

  /// The first segment read: its header's restated state is the start.
  void start(const raft::hard_state& hard, const raft::snapshot_meta& snap);

  /// Records. `segment` is the number of the segment holding the record.
  void set_hard(const raft::hard_state& h) { hard_ = h; }
  void reset(const raft::snapshot_meta& snap);
  void compact(const raft::snapshot_meta& snap);
  /// `count` consecutive entries from `first` (taken from `entries` when
  /// keeping them; it may be null otherwise).
  void append(std::uint64_t first, std::size_t count, std::vector<raft::entry>* entries, std::uint64_t segment);

  /// After the last record of a replay: checks that the live entries are
  /// contiguous right after the snapshot, that terms never decrease and
  /// that the commit index is within the log. Returns "" or the problem.
  std::string finish();

  const raft::hard_state& hard() const { return hard_; }
  const raft::snapshot_meta& snapshot() const { return snap_; }
  /// Index of the last live entry (the snapshot's index if there is none).
  std::uint64_t last_index() const { return segs_.empty() ? snap_.index : first_ + segs_.size() - 1; }
  /// Number of live entries.
  std::uint64_t live_count() const { return segs_.size(); }
  /// Segment of the first live entry, or `otherwise` when there is none:
  /// every segment below it holds only superseded or compacted records.
  std::uint64_t first_live_segment(std::uint64_t otherwise) const { return segs_.empty() ? otherwise : segs_.front(); }
  /// The kept entries (replay only); from then on entries are not kept.
  std::vector<raft::entry> take_entries();

 private:
  void drop_through(std::uint64_t index);  ///< drops live entries <= index from the front

  bool keep_;
  raft::hard_state hard_;
  raft::snapshot_meta snap_;
  std::uint64_t first_ = 1;          ///< index of segs_.front()
  std::deque<std::uint64_t> segs_;   ///< segment of each live entry
  std::deque<raft::entry> entries_;  ///< the live entries (keep_ only)
};

}  // namespace qc::db
