// One process per data directory. Two chatnode processes on one directory
// would both write its Raft log and chat.db as the same member, and could
// vote twice in one term. The first takes an exclusive flock(2) on
// data_dir/LOCK and holds it until it exits (however it exits: the kernel
// drops the lock with the process); a second is refused at start, before
// it reads or changes any file of the directory. The file holds the
// holder's pid, for the refusal's message. flock, not fcntl: its lock
// belongs to the open file, so no other descriptor's close drops it.
//
// Owned by: node start-up; the lock lives as long as the node runs.
#pragma once

#include <filesystem>
#include <memory>
#include <string>

namespace qc::db {

/// The held lock; released when destroyed.
class dir_lock {
 public:
  /// Locks `dir` (which must exist), or returns nullptr with `why`
  /// naming the directory and, if another process holds it, its pid.
  static std::unique_ptr<dir_lock> acquire(const std::filesystem::path& dir, std::string& why);
  ~dir_lock();
  dir_lock(const dir_lock&) = delete;
  dir_lock& operator=(const dir_lock&) = delete;

 private:
  explicit dir_lock(int fd) : fd_(fd) {}
  int fd_;
};

}  // namespace qc::db
