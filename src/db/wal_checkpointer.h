// chat.db's WAL checkpoints, mostly on a thread of their own.
//
// SQLite checkpoints a WAL database from inside the COMMIT that finds the
// WAL past `wal_autocheckpoint` pages: it syncs the WAL, copies every frame
// not yet in the database file into it and syncs that (synchronous=NORMAL).
// On the apply thread that is a copy and an fsync of up to the WAL's bound
// (40 MiB), with every apply and every read behind it. Worse, while a
// snapshot copy holds its read transaction the checkpoint can copy only
// what that reader does not need, so the first commit after a long copy
// finds the whole grown WAL to copy.
//
// So the apply connection's WAL hook (sqlite3_wal_hook, which replaces the
// automatic checkpoint) asks this thread for a PASSIVE checkpoint one
// commit before the WAL reaches its bound: the thread opens its own
// connection and copies what is there, never blocking the writer or the
// readers. The thread's copy always trails the writer's next commit, and
// only a checkpoint that leaves nothing uncopied lets the writer restart
// the WAL (and cut it back to journal_size_limit) at its next
// transaction. So the first commit past the bound after the thread is done
// checkpoints inline what is left, the frames of about one commit. Past
// the bound every commit either finishes the thread's copy or asks for
// another, as SQLite checkpoints at every commit past it: a reader that
// kept the WAL from restarting never leaves it unrestarted once gone.
// Where the thread cannot help, the hook checkpoints inline at every
// commit past the bound, as SQLite would: when a commit is more than a
// quarter of the bound (small quotas), and at twice the bound.
//
// The first cycle may be given a shorter bound (a phase): members apply
// the same entries at about the same pace, so with one bound they all
// checkpoint at the same entry, and on a shared disk the three copies and
// fsyncs at once held every member's log fsync for 35–90 ms. After the
// first restart every cycle takes the whole bound, so the phase stays.
//
// Measured (3 members, 64 clients of sends): with the chat.db checkpoint
// on the apply thread, every member stalled at once, since all reach the
// bound at the same entry; the slowest writes (p99.9) took about twice as
// long as with this thread. See the notebook of 2026-12-03.
//
// Owned by: chat_store (the apply thread starts it, its commits call the
// hook, and it stops it); the background checkpoints run on the
// checkpointer's own thread.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <mutex>
#include <string>
#include <thread>

struct sqlite3;

namespace qc::db {

/// Checkpoints one WAL database when asked, on its own thread.
class wal_checkpointer {
 public:
  /// `path`: the database; `vfs`: the VFS its connections use; `frames`:
  /// the WAL's bound, in frames, from which the thread is asked;
  /// `first_frames` (0: `frames`): the bound until the WAL first restarts,
  /// which sets where in the cycle this member's checkpoints fall.
  wal_checkpointer(std::filesystem::path path, const char* vfs, std::uint64_t frames, std::uint64_t first_frames = 0);
  /// Stops the thread (a checkpoint under way finishes first).
  ~wal_checkpointer();
  wal_checkpointer(const wal_checkpointer&) = delete;
  wal_checkpointer& operator=(const wal_checkpointer&) = delete;

  /// Makes `db`'s commits ask for checkpoints (replacing its automatic
  /// ones). The hook refers to this object: remove it with unhook() or
  /// close `db` before destroying this.
  void hook(sqlite3* db);
  /// Gives `db` its automatic-checkpoint-free state back (no hook).
  static void unhook(sqlite3* db);

  /// Checkpoints the thread ran (for tests).
  std::uint64_t done() const;
  /// True while the thread is asked or checkpointing (for tests).
  bool busy() const;
  /// The last checkpoint's error, empty if it worked.
  std::string last_error() const;

 private:
  static int on_commit(void* self, sqlite3* db, const char* name, int frames);
  void ask();
  void run();
  void checkpoint();

  const std::filesystem::path path_;
  const char* const vfs_;
  const std::uint64_t frames_;
  // The committing thread's: the bound of the current cycle (first_frames
  // until the WAL restarts), WAL frames after the last commit, whether the
  // commit that finishes the thread's copy is still to come, and done_
  // when asked.
  std::uint64_t bound_;
  std::uint64_t frames_before_ = 0;
  bool asked_ = false;
  std::uint64_t done_at_ask_ = 0;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool wanted_ = false;
  bool running_ = false;
  bool stop_ = false;
  std::uint64_t done_ = 0;
  std::string error_;
  std::thread thread_;  // last: it uses the members above
};

}  // namespace qc::db
