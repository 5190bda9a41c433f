// Making file system changes durable: the one place that fsyncs a file or a
// directory (the Raft log's segments, chat.db copies, snapshots, identity).
//
// Owned by: nobody (stateless functions, called on whichever actor's thread
// writes the file).
#pragma once

#include <filesystem>
#include <system_error>

namespace qc::db {

/// fsyncs a directory, so that creations, renames and deletions in it are
/// durable. The error (std::system_category, errno's value) is empty on success.
std::error_code fsync_dir(const std::filesystem::path& dir);

/// fsyncs a file and then its directory entry.
std::error_code fsync_path(const std::filesystem::path& file);

}  // namespace qc::db
