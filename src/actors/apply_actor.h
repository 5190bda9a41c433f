// The apply actor: owns chat.db (db::chat_store) on its own thread. It
// applies committed entries in batches, runs read queries once the state
// has caught up with their read index, installs received snapshots, and
// takes a snapshot every `snapshot_every` entries. Applied entries (with
// applied_index) accumulate in one SQLite transaction that is committed
// every `commit_every` entries or `commit_after` after it opened, whichever
// comes first: chat.db is derived state, the Raft log is what is durable
// (a crash loses at most that window of applies, which the log replays).
//
// Owned by: its worker thread (the chat_store); tell() from any thread.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <thread>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include "actors/mailbox.h"
#include "db/chat_store.h"

namespace qc::actors {

/// A read to run against the state machine on the apply thread.
using query_fn = std::function<std::string(db::chat_store&)>;

namespace apply_msg {
/// Committed entries, after an optional snapshot to install first.
struct apply {
  std::optional<raft::snapshot_meta> install;
  std::vector<raft::entry> entries;
};
/// Run `fn` once applied_index >= min_index; `done` gets its result on the loop.
struct query {
  std::uint64_t min_index = 0;
  query_fn fn;
  std::function<void(std::string)> done;
};
/// Wake-up: the background snapshot thread finished (its result is in the actor).
struct snapshot_done {};
/// The open transaction has been open for commit_after: commit it.
struct commit_due {};
}  // namespace apply_msg

/// Everything the apply actor accepts.
using apply_message = std::variant<apply_msg::apply, apply_msg::query, apply_msg::snapshot_done, apply_msg::commit_due>;

/// Where the apply actor's results go (each runs on the loop thread).
struct apply_outputs {
  /// Results of one applied batch, and the applied index after it.
  std::function<void(std::vector<db::apply_result>, std::uint64_t applied)> applied;
  /// A snapshot of the state at `index` was written as `handle`.
  std::function<void(std::uint64_t index, std::string handle)> snapshot_taken;
};

/// The actor.
class apply_actor {
 public:
  /// Entries applied in one transaction before it is committed.
  static constexpr std::uint64_t commit_every = 5000;
  /// Longest a transaction stays open.
  static constexpr std::chrono::milliseconds commit_after{1000};

  apply_actor(boost::asio::io_context& io, std::unique_ptr<db::chat_store> store,
              std::filesystem::path snapshot_dir, std::uint64_t snapshot_every, apply_outputs out);
  ~apply_actor();

  /// Queues work. Any thread.
  void tell(apply_message m) { inbox_->push(std::move(m)); }

  /// Waits for a running snapshot, finishes queued work, then stops the thread.
  void stop();

  /// Path of the snapshot file named `handle`.
  std::filesystem::path snapshot_path(const std::string& handle) const { return snapshot_dir_ / handle; }

 private:
  void handle_batch(std::vector<apply_message>&& batch);
  void run_ready_queries();
  void maybe_snapshot();
  /// After applying: commit if enough is pending, else make sure the timer runs.
  void schedule_commit();
  /// Finishes a snapshot whose thread is done; with `wait`, waits for it first.
  void poll_snapshot(bool wait);

  boost::asio::io_context& io_;
  std::unique_ptr<db::chat_store> store_;
  std::filesystem::path snapshot_dir_;
  std::uint64_t snapshot_every_;
  apply_outputs out_;
  std::uint64_t last_snapshot_ = 0;
  std::vector<apply_msg::query> parked_;
  /// Writes the snapshot file (VACUUM INTO through its own read-only
  /// connection) while this thread keeps applying; at most one at a time.
  std::thread snap_thread_;
  bool snap_busy_ = false;                 ///< apply thread only
  std::atomic<bool> snap_running_{false};  ///< the thread has not finished yet
  std::filesystem::path snap_tmp_;         ///< written by the thread; read after join
  bool snap_ok_ = false;
  std::string snap_err_;
  boost::asio::steady_timer commit_timer_;  ///< loop thread only
  bool commit_timer_armed_ = false;         ///< apply thread only: a commit_due is on its way
  std::unique_ptr<thread_mailbox<apply_message>> inbox_;  // last: its thread uses the above
};

}  // namespace qc::actors
