// Conversion of an earlier version's Raft log, kept in SQLite as
// data_dir/raft.db, into the segment files of data_dir/wal/. Crash-safe at
// every step: the new log is written and fsynced in a scratch directory,
// renamed to wal/ (then the data directory is fsynced), and only then is
// raft.db deleted. A crash before the rename leaves raft.db in charge and
// the conversion starts over; a crash after it leaves wal/ in charge and
// raft.db is deleted at the next start.
//
// Owned by: the log store's open(), on the thread that opens the node's
// data directory.
#pragma once

#include <filesystem>
#include <string>

#include "db/log_errc.h"
#include "db/log_store.h"
#include "raft/raft.h"

namespace qc::db {

/// The earlier version's log file, in the data directory.
inline constexpr const char* sqlite_log_name = "raft.db";

/// Reads raft.db whole, with the checks its store made at open: schema
/// version, owner `node_id`, a contiguous log right after the snapshot,
/// terms that never decrease, a commit index within the log.
log_error read_sqlite_log(const std::filesystem::path& file, const std::string& node_id, raft::initial_state& out);

/// Writes the content of data_dir/raft.db as a new log in `scratch`
/// (fsynced); the caller renames `scratch` into place.
log_error migrate_sqlite_log(const std::filesystem::path& data_dir, const std::filesystem::path& scratch,
                             const std::string& node_id, const log_options& opts);

/// Deletes raft.db and its -wal and -shm files (once wal/ holds the log).
log_error retire_sqlite_log(const std::filesystem::path& data_dir);

}  // namespace qc::db
