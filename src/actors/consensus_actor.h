// The consensus actor: the one owner of the Raft core. It turns inputs
// (ticks, peer messages, proposals, read requests) into core calls, and the
// core's ready batches into work for the other actors, in the order the
// persistence contract demands (types.h `ready`):
//   early messages -> replicator, at once
//   hard state + entries -> storage actor (fsync on its thread)
//   ... persisted -> messages -> replicator; committed -> apply actor;
//   read states -> replies to the waiting readers; advance().
// Requests (proposals, read points, transfers) carry a tag chosen by the
// asker; the answer is a typed consensus_reply message with that tag, sent
// through outputs.reply into the asker's mailbox (proposals and read points:
// the gateway's; transfers: the membership actor's). Nothing of the asker
// runs on this actor's stack.
// At most one batch is being persisted at a time; whatever arrives meanwhile
// accumulates in the core and becomes the next batch: one log record and one
// fsync for many proposals (group commit).
// The core's output is taken once per mailbox batch, after its last message
// (drained), not after each message: the proposals and peer messages that
// arrived together leave in one append per follower and one ready.
//
// Owned by: the loop thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <system_error>
#include <variant>
#include <vector>

#include <boost/asio/io_context.hpp>

#include "actors/mailbox.h"
#include "actors/raft_view.h"
#include "db/identity.h"
#include "raft/raft.h"

namespace qc::actors {

/// Work the consensus actor hands to the storage actor. Owned by the consensus actor.
struct persist_request {
  std::uint64_t seq = 0;
  std::optional<raft::hard_state> hard;
  std::optional<raft::snapshot_meta> snapshot;
  std::vector<raft::entry> entries;
};

/// Replies of the consensus actor, each naming its request's tag. Owned by
/// the consensus actor; they travel to the asker's mailbox.
namespace consensus_reply_msg {
/// Answer to propose / propose_conf: the index and term given, or an error.
struct proposed {
  std::uint64_t tag = 0;
  raft::proposal p;
};
/// Answer to the read_index requests of one round: a linearizable read
/// point for all of them, or an error (retry).
struct read_point {
  std::vector<std::uint64_t> tags;
  std::error_code ec;
  std::uint64_t index = 0;
};
/// Answer to transfer: whether the core started the leadership transfer.
struct transferred {
  std::uint64_t tag = 0;
  std::error_code ec;
};
}  // namespace consensus_reply_msg

/// Every reply the consensus actor sends. Owned by the consensus actor.
using consensus_reply = std::variant<consensus_reply_msg::proposed, consensus_reply_msg::read_point,
                                     consensus_reply_msg::transferred>;

/// Messages the consensus actor accepts. Owned by the consensus actor.
namespace consensus_msg {
/// From the election ticker.
struct tick_election {};
/// From the heartbeat ticker.
struct tick_heartbeat {};
/// Raft messages from a peer.
struct peer_messages {
  std::vector<raft::message> msgs;
};
/// Propose a normal entry (data = encoded chat command).
struct propose {
  std::string data;
  std::uint64_t tag = 0;  ///< comes back in consensus_reply_msg::proposed
};
/// Propose a membership change.
struct propose_conf {
  raft::conf_change change;
  std::uint64_t tag = 0;  ///< comes back in consensus_reply_msg::proposed
};
/// Ask for a linearizable read point; batched into ReadIndex rounds.
struct read_index {
  std::uint64_t tag = 0;  ///< comes back in consensus_reply_msg::read_point
};
/// Start a leadership transfer.
struct transfer {
  std::string to;
  std::uint64_t tag = 0;  ///< comes back in consensus_reply_msg::transferred
};
/// The storage actor made batch `seq` durable (or failed: the node stops).
struct persisted {
  std::uint64_t seq = 0;
};
/// The apply actor wrote a snapshot of the state at `index` named `handle`.
struct snapshot_taken {
  std::uint64_t index = 0;
  std::string handle;
};
/// The replicator finished (ok) or failed to stream a snapshot to `peer`.
struct snapshot_status {
  std::string peer;
  bool ok = false;
};
/// The replicator could not reach `peer`.
struct unreachable {
  std::string peer;
};
/// The link to `peer` closed (see raft_node::report_link_down).
struct link_down {
  std::string peer;
};
/// The link to `peer` was replaced by a duplicate (both sides dialed): its
/// next hello, first on the new link, must be checked again.
struct link_replaced {
  std::string peer;
};
/// `peer` announced the incarnation of its data directory on a new link.
struct peer_hello {
  std::string peer;
  std::string incarnation;
};
/// The storage actor made the last record_peers request durable.
struct peers_recorded {};
}  // namespace consensus_msg

/// Everything the consensus actor accepts. Owned by the consensus actor.
using consensus_message =
    std::variant<consensus_msg::tick_election, consensus_msg::tick_heartbeat,
                 consensus_msg::peer_messages, consensus_msg::propose, consensus_msg::propose_conf,
                 consensus_msg::read_index, consensus_msg::transfer, consensus_msg::persisted,
                 consensus_msg::snapshot_taken, consensus_msg::snapshot_status,
                 consensus_msg::unreachable, consensus_msg::link_down, consensus_msg::link_replaced,
                 consensus_msg::peer_hello, consensus_msg::peers_recorded>;

/// Where the consensus actor's output goes (each pushes into another
/// actor's mailbox). Owned by the consensus actor; set once by the node
/// before start().
struct consensus_outputs {
  std::function<void(persist_request)> persist;
  std::function<void(std::vector<raft::message>)> send;
  /// Committed entries to apply; `install` first if set (received snapshot).
  std::function<void(std::optional<raft::snapshot_meta> install, std::vector<raft::entry>)> apply;
  /// A local snapshot was recorded by the core: drop the durable log up to it.
  std::function<void(raft::snapshot_meta)> compact;
  std::function<void(const view_ptr&)> publish;
  /// Make the peers' incarnations durable (storage actor; acked with peers_recorded).
  std::function<void(db::peer_incarnations)> record_peers;
  /// Tell `peer` it is refused: it came back without its data (replicator).
  std::function<void(const std::string& peer, const std::string& reason)> refuse;
  /// Optional: a batch took `ms` from persist() to its ack (metrics).
  std::function<void(double ms)> persist_round_trip;
  /// Answers to proposals and reads (the gateway's mailbox) and to
  /// transfers (the membership actor's); the node routes them by kind.
  std::function<void(consensus_reply)> reply;
};

/// The consensus actor. Owned by the node; reached only through tell().
class consensus_actor {
 public:
  /// `peers`: the incarnations recorded in the data directory (db/identity.h).
  consensus_actor(boost::asio::io_context& io, const raft::config& cfg, raft::initial_state st,
                  consensus_outputs out, db::peer_incarnations peers = {});

  /// Queues a message. Loop thread only.
  void tell(consensus_message m) { inbox_.push(std::move(m)); }

  /// Starts the core: a sole voter campaigns at once; publishes a view.
  void start();

 private:
  void handle(consensus_message&& m);
  /// After the last message of a mailbox batch: dispatches what the core
  /// has ready (pump), once for the whole batch.
  void drained();
  void on_read_index(std::uint64_t tag);
  /// Answers every reader of `tags` with `ec` / `index`.
  void answer_reads(std::vector<std::uint64_t> tags, std::error_code ec, std::uint64_t index);
  void start_read_round();
  void fail_reads(std::error_code ec);
  void pump();  ///< take and dispatch ready batches while possible
  void finish(raft::ready& rd);
  void publish();
  /// True if view_ still shows the core as it is (nothing to publish).
  bool view_current();
  void on_peer_messages(std::vector<raft::message>&& msgs);
  void on_hello(const std::string& peer, const std::string& incarnation);
  /// The latest incarnation known for `peer` (being recorded or durable).
  std::optional<std::string> known_incarnation(const std::string& peer) const;
  /// Members that `after` no longer has may come back as new incarnations.
  void forget_removed_peers(const raft::membership& before, const raft::membership& after);
  void record_peers();
  void on_peers_recorded();
  /// Steps the messages of `peer` held until it was greeted and recorded.
  void release_held(const std::string& peer);

  raft::raft_node core_;
  consensus_outputs out_;
  loop_mailbox<consensus_message> inbox_;
  view_ptr view_ = empty_view();
  std::vector<raft::peer_progress> progress_now_;  ///< view_current's working space

  std::optional<raft::ready> in_flight_;  ///< batch being persisted
  std::chrono::steady_clock::time_point in_flight_since_;
  std::uint64_t next_seq_ = 1;
  /// What the message being handled, or the drain's pump, made the actor
  /// do (for the debug line about a slow handler): messages and entries
  /// sent, entries persisted.
  struct handled_work {
    std::size_t msgs = 0, sent_entries = 0, persisted_entries = 0;
  } work_;
  /// Logs `what` with work_ if it ran 50 ms or more since `t0`.
  void log_if_slow(const char* what, std::chrono::steady_clock::time_point t0) const;
  void count_sent(const std::vector<raft::message>& msgs);
  /// When each peer's last Raft message arrived (for the line logged when
  /// this leader steps down without a newer term: check-quorum).
  std::map<std::string, std::chrono::steady_clock::time_point> last_heard_;
  std::uint64_t steps_refused_ = 0;  ///< core.step() results other than ok / stale (raft_view)

  // ReadIndex batching: one round in flight, the rest wait for the next.
  std::vector<std::uint64_t> waiting_reads_;                       ///< tags
  std::map<std::string, std::vector<std::uint64_t>> round_reads_;  ///< context -> tags
  std::string read_prefix_;  ///< unique per node and process (see read_context_prefix)
  std::uint64_t read_ctx_ = 0;
  int round_age_ticks_ = 0;
  int election_ticks_ = 10;

  // Peer incarnations (db/identity.h). A peer's raft messages are stepped
  // only after its hello on the current link was checked and its
  // incarnation is durably recorded here: until then they wait in held_ (a
  // vote or ack counted now must still be attributable after a crash). A
  // member that shows another incarnation is refused.
  db::peer_incarnations peers_;    ///< durable
  std::optional<db::peer_incarnations> writing_;  ///< the write in flight (all records)
  db::peer_incarnations pending_;  ///< changes for the next write ("" = forget)
  std::map<std::string, std::vector<raft::message>> held_;
  std::set<std::string> refused_;
  std::set<std::string> greeted_;  ///< peers whose hello on the current link was accepted
  raft::membership committed_config_;  ///< the configuration last seen with no change pending
};

}  // namespace qc::actors
