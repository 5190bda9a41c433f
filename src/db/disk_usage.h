// How much room the node's data takes: what `[storage] quota_bytes` is
// checked against.
//
// Owned by: the disk monitor's thread (blocking stat calls).
#pragma once

#include <cstdint>
#include <filesystem>

namespace qc::db {

/// One measurement of a data directory.
struct disk_usage {
  /// Every file under the directory (log, chat.db and its WAL, snapshots,
  /// copies and transfers in progress), less chat.db's free pages: SQLite
  /// reuses those before it grows the file, so deleted messages give room
  /// back although the file never shrinks. (Snapshots are written by
  /// VACUUM INTO, which leaves no free pages.)
  std::uint64_t used_bytes = 0;
  /// What the file system still gives an unprivileged writer (statvfs).
  std::uint64_t available_bytes = 0;
  /// What a local snapshot copy adds: chat.db's live bytes (or the newest
  /// snapshot's size, if larger). Snapshots are written whole and only then
  /// the oldest is pruned, so the data stays under the quota only if this
  /// room is kept.
  std::uint64_t copy_bytes = 0;
  /// What the copy in progress (snap-at-<copy_index>) already wrote, which
  /// used_bytes holds; 0 if none. Only until that copy is done: the next one
  /// may start at once and needs copy_bytes again.
  std::uint64_t copying_bytes = 0;
  /// The index in the name of the copy in progress (0: none).
  std::uint64_t copy_index = 0;
};

/// Measures `dir` with stat() alone: it opens no file. Closing any
/// descriptor of a file drops every POSIX lock this process holds on it,
/// SQLite's locks on chat.db and its -shm file among them. Without them,
/// another process's SQLite (an operator's sqlite3 shell) takes the shared
/// memory for unused and truncates it under the node, whose next write to
/// it raises SIGBUS. So chat.db's free pages come from its owner:
/// `chat_free_bytes` (chat_store::free_bytes, reported by the apply actor).
/// Files that vanish meanwhile (a pruned snapshot) count 0.
disk_usage measure_data_dir(const std::filesystem::path& dir, std::uint64_t chat_free_bytes);

}  // namespace qc::db
