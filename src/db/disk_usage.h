// How much room the node's data takes: what `[storage] quota_bytes` is
// checked against.
//
// Owned by: the disk monitor's thread (blocking stat/read calls).
#pragma once

#include <cstdint>
#include <filesystem>

namespace qc::db {

/// One measurement of a data directory.
struct disk_usage {
  /// Every file under the directory (log, chat.db and their WAL files,
  /// snapshots, copies and transfers in progress), less the free pages
  /// inside SQLite databases: SQLite reuses those before it grows a file,
  /// so deleted messages and a compacted log give room back although the
  /// files never shrink.
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

/// Measures `dir`. Files that vanish meanwhile (a pruned snapshot) count 0.
disk_usage measure_data_dir(const std::filesystem::path& dir);

/// The free pages inside an SQLite database file, in bytes, as its header
/// records them (0 for any other file). In WAL mode the header is the one
/// of the last checkpoint.
std::uint64_t sqlite_free_bytes(const std::filesystem::path& file);

}  // namespace qc::db
