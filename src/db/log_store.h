// The durable Raft log on SQLite (raft.db): hard state, entries and the
// current snapshot's metadata. WAL mode, synchronous=FULL: a save() that
// returned is on disk.
//
// Owned by: the storage actor's thread. Not thread-safe.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "raft/raft.h"
#include "raft/types.h"

namespace qc::db {

/// The Raft log store.
class log_store {
 public:
  /// Opens or creates `path` (e.g. data_dir/raft.db) for node `node_id`.
  /// A fresh store records node_id and `bootstrap` (the founding members,
  /// empty for a node that waits to be added) as the snapshot at index 0.
  /// An existing store must belong to `node_id`, pass quick_check, have a
  /// contiguous log starting right after its snapshot and a commit index
  /// within the log; otherwise returns nullptr and sets `err` to a one-line
  /// reason naming the file. Never silently resets anything.
  static std::unique_ptr<log_store> open(const std::filesystem::path& path,
                                         const std::string& node_id,
                                         const raft::membership& bootstrap, std::string& err);
  ~log_store();

  /// True if open() created the store just now.
  bool created() const;

  /// Everything persisted, for raft_node's constructor (applied is left 0;
  /// the caller fills it from the state machine).
  raft::initial_state load();

  /// Group commit: one transaction, fsynced, for a whole ready batch. A
  /// snapshot, if given, replaces the log up to and including its index.
  /// Entries replace any stored entries at index >= the first one's index.
  /// Returns false and fills `err` on I/O error (the node must stop).
  bool save(const std::optional<raft::hard_state>& hard,
            const std::optional<raft::snapshot_meta>& snapshot,
            const std::vector<raft::entry>& entries, std::string& err);

  /// Records a locally taken snapshot and deletes log entries up to its
  /// index, in one transaction.
  bool compact(const raft::snapshot_meta& snap, std::string& err);

  /// Number of entries currently stored (for tests and metrics).
  std::uint64_t entry_count();

 private:
  struct impl;
  explicit log_store(std::unique_ptr<impl> i);
  std::unique_ptr<impl> impl_;
};

}  // namespace qc::db
