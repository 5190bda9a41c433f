// The files of data_dir/snapshots, and what start-up does with the ones a
// crash or a power loss left behind:
//
//   snap-<index>.db        a finished snapshot (taken here or received);
//                          raft.db names the latest by this handle
//   snap-at-<n>.db.tmp     a local copy being written (n: the applied index
//                          that started it; the index inside may be higher),
//                          with SQLite's -journal beside it while it runs
//   snap-<index>.db.part   a snapshot being received from the leader
//
// A finished copy is fsynced before it is renamed, so after a power loss
// that undid the rename, the .tmp can be the only copy of the snapshot
// raft.db names. Start-up therefore never deletes a leftover that may be
// needed: only what is not a whole snapshot, or what a valid snapshot at
// the same or a newer index supersedes. A whole leftover that nothing
// supersedes is renamed into place.
//
// Owned by: the node at start-up (recover_snapshot_dir), then the apply
// actor (local copies) and the snapshot I/O worker (transfers).
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace qc::db {

/// "snap-<index>.db": the handle of a finished snapshot.
std::string snapshot_name(std::uint64_t index);

/// The index in a finished snapshot's file name; nullopt for any other name.
std::optional<std::uint64_t> snapshot_name_index(const std::string& filename);

/// "snap-at-<index>.db.tmp": a local copy started at applied index `index`.
std::string copy_name(std::uint64_t index);

/// True for a local copy in progress and the files SQLite keeps beside it.
bool is_copy_name(const std::string& filename);

/// The index in a local copy's file name (not the files beside it);
/// nullopt for any other name.
std::optional<std::uint64_t> copy_name_index(const std::string& filename);

/// "snap-<index>.db.part": a transfer of the snapshot at `index`.
std::string transfer_name(std::uint64_t index);

/// Start-up, before chat.db is opened: deletes leftover copies and
/// transfers that are not whole snapshots or that a valid snapshot at the
/// same or a newer index supersedes; renames a whole one that nothing
/// supersedes to its finished name (then fsyncs the directory). Returns
/// one line per file it touched, for the log.
std::vector<std::string> recover_snapshot_dir(const std::filesystem::path& dir);

}  // namespace qc::db
