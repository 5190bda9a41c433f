// The storage actor: owns raft.db (db::log_store) on its own thread, so
// fsyncs never stall the event loop. Each persist_request is one SQLite
// transaction; requests that queue up while one commits are written
// together in the next (group commit). Completions are posted back to the
// loop as messages.
//
// Owned by: its worker thread (the log_store); tell() from the loop thread.
#pragma once

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
}  // namespace storage_msg

/// Everything the storage actor accepts.
using storage_message = std::variant<storage_msg::persist, storage_msg::compact, storage_msg::record_peers>;

/// The actor.
class storage_actor {
 public:
  /// `on_persisted(seq)` runs on the loop thread. An I/O error (a full
  /// disk included) is fatal: the log is the node's promise to its peers.
  /// The actor logs one line naming the file and the error, acks nothing
  /// more, and calls `on_failure` (its thread), which stops the node.
  /// `on_peers_recorded()` runs on the loop thread after each record_peers.
  storage_actor(boost::asio::io_context& io, std::unique_ptr<db::log_store> store,
                std::function<void(std::uint64_t seq)> on_persisted, failure_handler on_failure,
                std::function<void()> on_peers_recorded = {});
  ~storage_actor();

  /// Queues work. Any thread.
  void tell(storage_message m) { inbox_->push(std::move(m)); }

  /// Writes everything queued, then stops the thread.
  void stop() { inbox_->stop(); }

 private:
  void handle_batch(std::vector<storage_message>&& batch);

  boost::asio::io_context& io_;
  std::unique_ptr<db::log_store> store_;
  std::function<void(std::uint64_t)> on_persisted_;
  std::function<void()> on_peers_recorded_;
  std::unique_ptr<thread_mailbox<storage_message>> inbox_;  // last: its thread uses the above
};

}  // namespace qc::actors
