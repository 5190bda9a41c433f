// The durable Raft log (Raft paper Figure 2, "Persistent state on all
// servers", and §7's snapshot metadata) in its own file format: segment
// files of checksummed, length-prefixed records in data_dir/wal/
// (db/log_format.h has the layout).
//
//  - A persist batch is one record, written with one pwrite(v) and made
//    durable with one fdatasync: a save() that returned is on disk, whole.
//  - Segments are preallocated (posix_fallocate), so an append changes no
//    file size; a batch that does not fit closes the segment and opens the
//    next, whose header restates the hard state and snapshot.
//  - Entries that overwrite a suffix (§5.3: a follower's conflicting,
//    uncommitted entries) are appended as a new record that supersedes the
//    old ones on replay; nothing already written is ever rewritten.
//  - Compaction (§7) deletes whole segments that hold nothing live.
//  - At start the records are replayed: a partial or garbage record after
//    the last valid one (a write the crash cut short, never acknowledged)
//    is cut off; a record that fails its checksum with valid records after
//    it is damage in the middle, and the store refuses to open, naming the
//    file and byte offset.
//  - A data directory of an earlier version, with the log in SQLite
//    (raft.db), is converted on open (db/log_migrate.h).
//
// Owned by: the storage actor's thread. Not thread-safe.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "db/log_errc.h"
#include "raft/raft.h"
#include "raft/types.h"

namespace qc::db {

/// Tunables of the log store.
struct log_options {
  /// Bytes each segment file is preallocated to. A batch that does not fit
  /// in the rest of the open segment goes to a new one (a batch larger than
  /// this gets a segment of its own, grown to fit).
  std::uint64_t segment_bytes = 16u << 20;
};

/// One persist batch (types.h `ready` stage 2), applied in this order.
struct log_batch {
  std::optional<raft::snapshot_meta> snapshot;  ///< a received snapshot: the log restarts after it
  std::vector<raft::entry> entries;             ///< replace every stored entry at index >= the first's
  std::optional<raft::hard_state> hard;

  bool empty() const { return !snapshot && entries.empty() && !hard; }
};

/// The Raft log store.
class log_store {
 public:
  /// Opens the log of `data_dir` (data_dir/wal/) for node `node_id`. A
  /// directory without a log gets a new one whose snapshot at index 0 holds
  /// `bootstrap` (the founding members; empty for a node that waits to be
  /// added); one with an earlier version's raft.db has it converted first.
  /// An existing log must belong to `node_id` and replay into a valid Raft
  /// log; otherwise returns nullptr and `err` names the file (and byte
  /// offset) and the problem. Never silently resets anything.
  static std::unique_ptr<log_store> open(const std::filesystem::path& data_dir, const std::string& node_id,
                                         const raft::membership& bootstrap, const log_options& opts,
                                         log_error& err);

  /// True if `data_dir` holds a Raft log (this format or raft.db).
  static bool exists(const std::filesystem::path& data_dir);

  /// Creates a log in `wal_dir` (which must not hold one) starting from
  /// `hard` and `snapshot`. Used by open() and by the conversion, which
  /// write into a scratch directory and rename it into place.
  static std::unique_ptr<log_store> create(const std::filesystem::path& wal_dir, const std::string& node_id,
                                           const raft::hard_state& hard, const raft::snapshot_meta& snapshot,
                                           const log_options& opts, log_error& err);

  /// Opens the existing log in `wal_dir`: replays it, cuts off a torn
  /// tail, refuses damage (see the file comment).
  static std::unique_ptr<log_store> recover(const std::filesystem::path& wal_dir, const std::string& node_id,
                                            const log_options& opts, log_error& err);

  ~log_store();
  log_store(const log_store&) = delete;
  log_store& operator=(const log_store&) = delete;

  /// Everything persisted, for raft_node's constructor (applied is left 0;
  /// the caller fills it from the state machine). Moves the entries out:
  /// call once, right after opening.
  raft::initial_state load();

  /// Makes a batch durable: one record, one write, one fdatasync. The
  /// entries must continue the log (first index <= last index + 1, after
  /// the batch's snapshot if any; entries at or below the snapshot are
  /// skipped); anything else is a caller bug and aborts. On an I/O error
  /// (ENOSPC, EIO, ...) returns it naming the file; the batch is then not
  /// acknowledged, is cut off as a torn tail at the next start if part of
  /// it reached the disk, and every later call fails with failed_earlier.
  log_error save(const log_batch& batch);

  /// Records a local snapshot (durably, like save) and deletes the segments
  /// that hold only entries up to its index. A snapshot not newer than the
  /// recorded one changes nothing.
  log_error compact(const raft::snapshot_meta& snap);

  /// Number of live entries (after the snapshot, not superseded).
  std::uint64_t entry_count() const;
  /// Number of segment files (for tests and metrics).
  std::size_t segment_count() const;

 private:
  struct impl;
  explicit log_store(std::unique_ptr<impl> i);
  std::unique_ptr<impl> impl_;
};

}  // namespace qc::db
