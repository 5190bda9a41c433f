// The apply actor: owns chat.db (db::chat_store) on its own thread. It
// applies committed entries in batches, runs read queries once the state
// has caught up with their read index, installs received snapshots, and
// takes a snapshot once `snapshot_every` entries and enough log have
// accumulated (actors/snapshot_policy.h). Applied entries (with
// applied_index) accumulate in one SQLite transaction that is committed
// every `commit_every` entries, once they hold `commit_bytes` of entry
// data, or `commit_after` after it opened, whichever comes first: chat.db
// is derived state, the Raft log is what is durable (a crash loses at most
// that window of applies, which the log replays).
//
// It lends the gateway a read-only connection to chat.db (the gateway
// answers the reads that chat.db's committed state covers on the loop),
// and takes it back before each snapshot install.
//
// A full disk does not stop it: when chat.db cannot take a write, the open
// transaction is rolled back and every entry it held is kept to be applied
// again (their results were reported already and are not reported twice),
// the actor reports the error (the node then refuses writes with
// storage_full) and tries again every second; queries the applied state
// already answers keep running. The same holds for a
// snapshot copy. Any other write error stops the node with one line
// naming the file (through the mailbox's failure handler).
//
// Owned by: its worker thread (the chat_store); tell() from any thread.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <thread>
#include <filesystem>
#include <functional>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include "actors/mailbox.h"
#include "actors/snapshot_policy.h"
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
/// Run `fn` once applied_index >= min_index; its result goes back to the
/// asker (the gateway) as outputs.query_done with `tag`.
struct query {
  std::uint64_t min_index = 0;
  query_fn fn;
  std::uint64_t tag = 0;
};
/// Several queries at once (the reads of one ReadIndex round).
struct queries {
  std::vector<query> list;
};
/// Wake-up: the background snapshot thread finished (its result is in the actor).
struct snapshot_done {};
/// Wake-up: time to retry what a full disk refused (sent by the actor's own timer).
struct retry {};
/// The open transaction has been open for commit_after: commit it.
struct commit_due {};
/// The node's storage alarm went up (`full`) or down (sent by the gateway):
/// while it is up, snapshots follow the entry count alone.
struct storage_pressure {
  bool full = false;
};
/// The gateway may answer reads from its own read-only connection to
/// chat.db (sent by the node once every actor is up): the actor tells it
/// where the file is, and asks for it closed before each snapshot install.
struct lend_reader {};
/// The gateway closed its connection to chat.db, as asked (apply_outputs::reader_close).
struct reader_closed {};
}  // namespace apply_msg

/// Everything the apply actor accepts.
using apply_message = std::variant<apply_msg::apply, apply_msg::query, apply_msg::queries, apply_msg::snapshot_done,
                                   apply_msg::retry, apply_msg::commit_due, apply_msg::storage_pressure,
                                   apply_msg::lend_reader, apply_msg::reader_closed>;

/// Where the apply actor's results go (each runs on the loop thread).
struct apply_outputs {
  /// Results of one applied batch, and the applied index after it.
  std::function<void(std::vector<db::apply_result>, std::uint64_t applied)> applied;
  /// A snapshot of the state at `index` was written as `handle` (durably:
  /// the file and its directory entry are fsynced, so the log may go).
  std::function<void(std::uint64_t index, std::string handle)> snapshot_taken;
  /// Writes of `source` ("chat.db", "snapshot") fail for lack of space,
  /// with `error` naming the file; an empty `error`: they work again.
  std::function<void(std::string source, std::string error)> disk_full;
  /// The result of query `tag` (the gateway's mailbox).
  std::function<void(std::uint64_t tag, std::string result)> query_done;
  /// The gateway may open a read-only connection to chat.db at `db`.
  std::function<void(std::filesystem::path db)> reader_open;
  /// The gateway must close it and answer with apply_msg::reader_closed:
  /// a snapshot install is about to replace the file.
  std::function<void()> reader_close;
  /// chat.db's free pages now take `bytes` (at the start, and after a
  /// commit or an install that changed them): for the disk monitor, which
  /// must not open chat.db itself (db::measure_data_dir).
  std::function<void(std::uint64_t bytes)> free_bytes;
};

/// The apply actor. Owned by the node; reached only through tell().
class apply_actor {
 public:
  /// Entries applied in one transaction before it is committed.
  static constexpr std::uint64_t commit_every = 5000;
  /// Longest a transaction stays open.
  static constexpr std::chrono::milliseconds commit_after{1000};

  /// `on_failure` runs (on the actor's thread) after an error the actor
  /// cannot live with; see thread_mailbox.
  /// `commit_bytes`: entry bytes after which the open transaction commits
  /// (node_config::apply_commit_bytes).
  apply_actor(boost::asio::io_context& io, std::unique_ptr<db::chat_store> store,
              std::filesystem::path snapshot_dir, snapshot_policy policy, std::uint64_t commit_bytes,
              apply_outputs out, failure_handler on_failure);
  ~apply_actor();

  /// Queues work. Any thread.
  void tell(apply_message m) { inbox_->push(std::move(m)); }

  /// Waits for a running snapshot, finishes queued work, then stops the thread.
  void stop();

 private:
  /// Path of the snapshot file named `handle`.
  std::filesystem::path snapshot_path(const std::string& handle) const { return snapshot_dir_ / handle; }
  void handle_batch(std::vector<apply_message>&& batch);
  /// Applies every waiting entry into the open transaction; while chat.db
  /// is full they keep waiting (apply_full_).
  void apply_waiting();
  /// Commits the open transaction now; false if the disk refused it.
  bool commit();
  /// After applying: commit if enough is pending, else make sure the timer runs.
  void schedule_commit();
  /// chat.db refused a write and rolled the open transaction back: its
  /// entries wait again, in front of the rest.
  void rolled_back(std::error_code ec, const std::string& err);
  void install(const raft::snapshot_meta& snap);
  void run_ready_queries();
  void maybe_snapshot();
  /// Finishes a snapshot whose thread is done; with `wait`, waits for it first.
  void poll_snapshot(bool wait);
  /// The snapshot thread, after the copy: names it snap-<index inside>.db
  /// and fsyncs the directory (sets snap_index_; 0 if that name existed).
  qc::error name_copy();
  /// Reports a change of a disk-full condition and arms the retry timer.
  void set_disk_full(bool& flag, const char* source, const std::string& error);
  void arm_retry();
  /// Entries applied since the last snapshot (taken or installed).
  std::uint64_t entries_since_snapshot() const {
    const auto applied = store_->applied_index();
    return applied > last_snapshot_ ? applied - last_snapshot_ : 0;
  }

  boost::asio::io_context& io_;
  std::unique_ptr<db::chat_store> store_;
  std::filesystem::path snapshot_dir_;
  snapshot_policy policy_;
  std::uint64_t commit_bytes_;
  apply_outputs out_;
  std::uint64_t last_snapshot_ = 0;
  /// Bytes of log (entries received, with their record framing) since the
  /// last snapshot began; what a new snapshot lets the log drop.
  std::uint64_t log_bytes_ = 0;
  std::uint64_t log_bytes_at_copy_ = 0;  ///< log_bytes_ when the running copy began
  std::uint64_t entries_at_copy_ = 0;    ///< entries_since_snapshot() when it began
  std::uint64_t snapshot_bytes_ = 0;     ///< size of the newest snapshot file
  bool snapshot_taken_ = false;          ///< a copy was begun since the start (policy_.due's `first`)
  bool storage_pressure_ = false;        ///< the gateway's storage alarm is up
  std::vector<apply_msg::query> parked_;
  /// Committed entries not applied yet (more than one batch only while chat.db is full).
  std::vector<raft::entry> waiting_;
  /// Entries applied in the open transaction (kept until it commits).
  std::vector<raft::entry> uncommitted_;
  std::uint64_t uncommitted_bytes_ = 0;  ///< their data bytes
  /// Forgets the open transaction's entries (committed, given back to
  /// waiting_ by a rollback, or replaced by an install).
  void clear_uncommitted() {
    uncommitted_.clear();
    uncommitted_bytes_ = 0;
  }
  /// The highest index whose result was reported (a re-apply after a
  /// rollback reports nothing twice).
  std::uint64_t reported_ = 0;
  boost::asio::steady_timer commit_timer_;  ///< loop thread only
  bool commit_timer_armed_ = false;         ///< apply thread only: a commit_due is on its way
  bool apply_full_ = false;  ///< the last apply failed for lack of space
  bool snap_full_ = false;   ///< the last snapshot copy failed for lack of space
  bool snap_failed_ = false;  ///< a copy failed: the retry timer runs until its wait is over
  std::chrono::steady_clock::time_point next_snapshot_try_{};  ///< after a failed copy
  /// Loop thread only: sends apply_msg::retry while something waits for space.
  boost::asio::steady_timer retry_timer_;
  bool retry_armed_ = false;  ///< apply thread only
  /// Writes the snapshot file (VACUUM INTO through its own read-only
  /// connection), names it and makes the name durable, while this thread
  /// keeps applying; at most one at a time.
  std::thread snap_thread_;
  bool snap_busy_ = false;                 ///< apply thread only
  std::atomic<bool> snap_running_{false};  ///< the thread has not finished yet
  std::filesystem::path snap_tmp_;         ///< written by the thread; read after join
  std::uint64_t snap_index_ = 0;           ///< the finished snapshot's index (thread; read after join)
  qc::error snap_error_;                   ///< the copy's failure (thread; read after join)
  /// The gateway may hold a connection to chat.db (lend_reader): an
  /// install first asks for it closed, and every message from the install
  /// on waits in held_ (empty otherwise) until reader_closed comes. Apply
  /// thread only.
  bool reader_lent_ = false;
  std::vector<apply_message> held_;
  /// Lends the reader (again): tells the gateway where chat.db is.
  void lend_reader();
  /// Reports chat.db's free bytes if they changed (out_.free_bytes).
  void report_free_bytes();
  std::uint64_t reported_free_ = std::numeric_limits<std::uint64_t>::max();  ///< apply thread only
  std::unique_ptr<thread_mailbox<apply_message>> inbox_;  // last: its thread uses the above
};

}  // namespace qc::actors
