// The storage actor: owns the Raft log (db::log_store, data_dir/wal/) on
// its own thread, so fsyncs never stall the event loop. Each persist
// request becomes part of one log record (one write, one fdatasync);
// requests that queue up while one is being written are folded into the
// next record (group commit). Completions are posted back to the loop as
// messages.
//
// Owned by: its worker thread (the log_store); tell() from the loop thread.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <variant>

#include <boost/asio/io_context.hpp>

#include "actors/consensus_actor.h"
#include "actors/mailbox.h"
#include "db/identity.h"
#include "db/log_store.h"

namespace qc::actors {

namespace storage_msg {
/// Make a ready batch durable, then ack with its seq.
struct persist {
  persist_request req;
};
/// Record a local snapshot and drop the log up to it.
struct compact {
  raft::snapshot_meta snap;
};
/// Make the peers' incarnations durable (data_dir/peers), then ack.
struct record_peers {
  std::filesystem::path dir;
  db::peer_incarnations peers;
};
/// [testing] only (admin.disk_stall): from now on every log record takes
/// `delay` longer to write, as on a disk shared with a large write.
struct testing_delay {
  std::chrono::milliseconds delay{0};
};
}  // namespace storage_msg

/// Everything the storage actor accepts.
using storage_message =
    std::variant<storage_msg::persist, storage_msg::compact, storage_msg::record_peers, storage_msg::testing_delay>;

/// Where the storage actor's results go (each runs on the loop thread).
struct storage_outputs {
  /// Batch `seq` is durable.
  std::function<void(std::uint64_t seq)> persisted;
  /// Optional: one log record took `ms` to write and sync (`entries`
  /// entries, `bytes` of entry data); runs on the loop before its acks.
  std::function<void(double ms, std::size_t entries, std::uint64_t bytes)> wrote;
  /// A write or sync of the log failed (the error names the file). Nothing
  /// is acknowledged after it: the log is the node's promise to its peers
  /// and its state on disk is unknown, so the node must stop.
  std::function<void(const db::log_error&)> failed;
  /// The last record_peers is durable.
  std::function<void()> peers_recorded;
  /// Anything else went wrong on the worker thread (an exception escaped):
  /// one line naming it; the node must stop (see thread_mailbox).
  failure_handler crashed;
};

/// The actor.
class storage_actor {
 public:
  storage_actor(boost::asio::io_context& io, std::unique_ptr<db::log_store> store, storage_outputs out);
  ~storage_actor();

  /// Queues work. Any thread.
  void tell(storage_message m) { inbox_->push(std::move(m)); }

  /// Writes everything queued, then stops the thread.
  void stop() { inbox_->stop(); }

 private:
  void handle_batch(std::vector<storage_message>&& batch);
  /// Writes `batch` (if not empty) and acks `acks`; false after a failure.
  bool write(db::log_batch& batch, std::vector<std::uint64_t>& acks);
  void fail(const db::log_error& e);

  boost::asio::io_context& io_;
  std::unique_ptr<db::log_store> store_;
  storage_outputs out_;
  bool failed_ = false;  ///< worker thread only: a write failed, nothing more is written
  std::chrono::milliseconds testing_delay_{0};  ///< storage_msg::testing_delay (worker thread)
  std::unique_ptr<thread_mailbox<storage_message>> inbox_;  // last: its thread uses the above
};

}  // namespace qc::actors
