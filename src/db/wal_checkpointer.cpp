#include "db/wal_checkpointer.h"

#include <pthread.h>
#include <sqlite3.h>

#include <algorithm>
#include <utility>

#include "common/log.h"

namespace qc::db {

wal_checkpointer::wal_checkpointer(std::filesystem::path path, const char* vfs, std::uint64_t frames,
                                   std::uint64_t first_frames)
    : path_(std::move(path)),
      vfs_(vfs),
      frames_(frames),
      bound_(first_frames == 0 ? frames : std::min(first_frames, frames)),
      thread_([this] { run(); }) {}

wal_checkpointer::~wal_checkpointer() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_one();
  thread_.join();
}

void wal_checkpointer::hook(sqlite3* db) { sqlite3_wal_hook(db, &wal_checkpointer::on_commit, this); }

void wal_checkpointer::unhook(sqlite3* db) { sqlite3_wal_hook(db, nullptr, nullptr); }

std::uint64_t wal_checkpointer::done() const {
  std::lock_guard lock(mu_);
  return done_;
}

bool wal_checkpointer::busy() const {
  std::lock_guard lock(mu_);
  return wanted_ || running_;
}

std::string wal_checkpointer::last_error() const {
  std::lock_guard lock(mu_);
  return error_;
}

int wal_checkpointer::on_commit(void* self, sqlite3* db, const char* name, int frames) {
  auto* c = static_cast<wal_checkpointer*>(self);
  const auto n = static_cast<std::uint64_t>(std::max(frames, 0));
  // The frames this commit added (all of them after a restart).
  const auto added = n > c->frames_before_ ? n - c->frames_before_ : n;
  if (n < c->frames_before_) c->bound_ = c->frames_;  // the WAL restarted: full cycles from here
  c->frames_before_ = n;
  const auto bound = c->bound_;
  const auto inline_checkpoint = [&] {
    c->asked_ = false;
    // Like SQLite's automatic checkpoint: whatever it returns, the commit
    // is done (BUSY: the thread is still copying; a later commit tries).
    sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
    return SQLITE_OK;
  };
  // A bound that holds fewer than four commits gains nothing from the
  // thread: its copy would trail by a commit as large as the bound, and
  // the WAL would grow to twice it. Such a WAL, and one at twice its bound
  // (the thread fell behind), is checkpointed inline at every commit past
  // the bound, exactly as SQLite does on its own.
  if (added * 4 > bound || n >= 2 * c->frames_) return n >= bound ? inline_checkpoint() : SQLITE_OK;
  if (c->asked_ && c->done() == c->done_at_ask_) return SQLITE_OK;  // the thread is still copying
  // The thread copied what was there when asked; a commit past the bound
  // copies the rest (about one commit's frames), so that the next
  // transaction can restart the WAL.
  if (c->asked_ && n >= bound) return inline_checkpoint();
  c->asked_ = false;
  // The thread is asked one commit ahead of the bound, so that its copy
  // is done when the WAL reaches it, and again at every commit past the
  // bound that finds it idle: while a reader (a snapshot copy) keeps the
  // WAL from restarting, each try copies only what the reader no longer
  // needs, and the first try after the reader left lets it restart.
  if (n + added >= bound) {
    c->asked_ = true;
    c->done_at_ask_ = c->done();
    c->ask();
  }
  return SQLITE_OK;
}

void wal_checkpointer::ask() {
  {
    std::lock_guard lock(mu_);
    if (wanted_) return;
    wanted_ = true;
  }
  cv_.notify_one();
}

void wal_checkpointer::run() {
  ::pthread_setname_np(::pthread_self(), "qc-checkpoint");
  std::unique_lock lock(mu_);
  for (;;) {
    cv_.wait(lock, [this] { return wanted_ || stop_; });
    if (stop_) return;
    wanted_ = false;
    running_ = true;
    lock.unlock();
    checkpoint();
    lock.lock();
    running_ = false;
  }
}

void wal_checkpointer::checkpoint() {
  // A connection per checkpoint: nothing stays open on the file between
  // them (chat_store swaps the file in place at a snapshot install, after
  // stopping this thread).
  sqlite3* db = nullptr;
  int rc = sqlite3_open_v2(path_.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, vfs_);
  // A new connection learns that the file is in WAL mode (and opens the
  // WAL) only once it reads it; before that a checkpoint does nothing.
  if (rc == SQLITE_OK) rc = sqlite3_exec(db, "PRAGMA schema_version", nullptr, nullptr, nullptr);
  if (rc == SQLITE_OK) rc = sqlite3_wal_checkpoint_v2(db, "main", SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
  std::string error;
  // BUSY: another checkpoint is running; the next commit asks again.
  if (rc != SQLITE_OK && rc != SQLITE_BUSY)
    error = path_.string() + ": checkpoint: " + (db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
  sqlite3_close_v2(db);
  bool first_error = false;
  {
    std::lock_guard lock(mu_);
    ++done_;
    first_error = !error.empty() && error_.empty();
    error_ = std::move(error);
  }
  // A full disk shows in the apply actor's own commits; one line here.
  if (first_error) log::warn(last_error());
}

}  // namespace qc::db
