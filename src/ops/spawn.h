// Starting a child process safely from any parent, threaded or not.
//
// Owned by: the calling thread (the supervisor's loop, a test's thread).
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

namespace qc::ops {

/// How spawn_process() sets the child up.
struct spawn_options {
  bool new_session = false;  ///< setsid(): the child outlives a ^C to the parent's group
};

/// Starts `argv[0]` (a path, not searched in PATH) with `argv`, its stdout
/// and stderr appended to `log`, and every other descriptor closed, so a
/// child never holds a copy of the parent's sockets (a client connection
/// the parent closed would stay open in it). Between fork and exec only
/// async-signal-safe calls run, so a multi-threaded parent cannot deadlock
/// the child on a lock another thread held at fork time. Returns the child's
/// pid, or -1 if fork failed; exit status 126 means the log could not be
/// opened, 127 that exec failed.
/// Owned by: the calling thread.
pid_t spawn_process(const std::vector<std::string>& argv, const std::string& log, spawn_options opts = {});

}  // namespace qc::ops
