// The replicator actor: per-peer replication streams over the authenticated
// peer transport. It batches every Raft message bound for one peer in a
// ready into one frame, reports unreachable peers to the consensus actor
// (which paces probes), streams snapshots in chunks with a flow-control
// window, and routes inbound peer frames to the right actor. It never
// decides anything about terms or logs: raft messages go to the core as is.
// Snapshot files are read and written by its snapshot I/O worker
// (snapshot_io.h), never on the loop.
// It is reached only through its mailbox (replicator_message); what it
// learns goes out as messages to the other actors' mailboxes
// (replicator_outputs), including the set of linked peers, which it
// publishes whenever a link comes up or goes down.
//
// Owned by: the loop thread.
#pragma once

#include <cstdint>
#include <filesystem>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <variant>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include "actors/mailbox.h"
#include "actors/snapshot_io.h"
#include "net/peer_codec.h"
#include "net/peer_transport.h"
#include "raft/types.h"

namespace qc::actors {

/// Messages the replicator actor accepts (owned by the replicator actor).
namespace replicator_msg {
/// Raft messages to send, batched per destination (from the consensus actor).
struct send {
  std::vector<raft::message> msgs;
};
/// A non-raft frame for `to` (from the gateway). With no usable link the
/// frame comes back to the gateway as gateway_msg::undelivered.
struct send_frame {
  std::string to;
  net::peer_frame frame;
};
/// A joining node's request (from the join actor): to `leader` if linked,
/// else to any linked peer, else the seed `seed` is dialed again.
struct send_join {
  std::string leader;
  net::peer_frame frame;
  std::string seed;
};
/// Tell `peer` it is refused: it came back without its data (from the consensus actor).
struct refuse {
  std::string peer;
  std::string reason;
};
/// The members to keep links to (id -> address), self excluded (from the node, on a new configuration).
struct set_peers {
  std::map<std::string, std::string> peers;
};
/// Dial a seed address once (a joining node).
struct dial {
  std::string address;
};
/// An upgraded /raft stream from the server.
struct accept {
  net::stream stream;
  boost::beast::http::request<boost::beast::http::string_body> req;
};
/// [testing] only: drop every frame arriving from these peers (net::peer_transport::set_drop_from).
struct set_drop_from {
  std::set<std::string> ids;
};
/// [testing] only (admin.pause): drop every peer frame in and out for `d`, then heal.
struct pause {
  std::chrono::milliseconds d{0};
};
}  // namespace replicator_msg

/// Everything the replicator actor accepts (owned by the replicator actor).
using replicator_message =
    std::variant<replicator_msg::send, replicator_msg::send_frame, replicator_msg::send_join,
                 replicator_msg::refuse, replicator_msg::set_peers, replicator_msg::dial, replicator_msg::accept,
                 replicator_msg::set_drop_from, replicator_msg::pause>;

/// Where inbound traffic goes (each pushes into another actor's mailbox).
/// Owned by the replicator actor; set once by the node.
struct replicator_outputs {
  std::function<void(std::vector<raft::message>)> raft_in;
  std::function<void(const std::string& peer, bool ok)> snapshot_status;
  std::function<void(const std::string& peer)> unreachable;
  /// The authenticated link to `peer` closed.
  std::function<void(const std::string& peer)> link_down;
  /// The link to `peer` was replaced by a duplicate (its hello comes again).
  std::function<void(const std::string& peer)> link_replaced;
  /// Non-raft frames (propose, propose_resp, admin) for the gateway.
  std::function<void(const std::string& from, net::peer_frame)> gateway_in;
  /// Received snapshots fail for lack of space (`error` names the file),
  /// or, with an empty `error`, can be stored again.
  std::function<void(const std::string& error)> disk_full;
  /// `peer` announced its data directory's incarnation (first frame of a link).
  std::function<void(const std::string& peer, const std::string& incarnation)> hello;
  /// `peer` refuses us: it knew this node with another data directory.
  std::function<void(const std::string& peer, const std::string& reason)> refused;
  /// The peers with a link up changed (the gateway's copy, for routing and /status).
  std::function<void(std::set<std::string> linked)> links;
  /// A send_frame found no usable link: the frame goes back to its sender (the gateway).
  std::function<void(const std::string& to, net::peer_frame frame)> undelivered;
};

/// How snapshots are streamed. Owned by the replicator actor.
struct snapshot_stream_options {
  std::size_t chunk_bytes = 1 << 20;   ///< one binary frame of snapshot data
  std::size_t window_bytes = 8 << 20;  ///< unacknowledged bytes in flight
  /// [testing] only: pause between chunks (then 64 KiB chunks, one in flight).
  std::chrono::milliseconds chunk_delay{0};
  /// A stream whose receiver acknowledged nothing for this long is failed
  /// and reported, so the core sends a fresh one (§7). Links close on their
  /// own when a peer dies, but a chunk or ack can also vanish with the link
  /// still up (a duplicate link replaced silently), and without this the
  /// stream would wait for that ack forever. Generous: the last ack comes
  /// only after the receiver fsynced the whole file.
  std::chrono::milliseconds stall_timeout{30'000};
  /// [testing] only: the receiver silently discards this many chunks (the
  /// first ones past offset 0), as a link that ate them would.
  int lose_chunks = 0;
};

/// The replicator actor. Owned by the node; reached only through tell().
class replicator_actor {
 public:
  /// `on_failure`: see thread_mailbox (of its snapshot I/O worker).
  /// `incarnation`: this data directory's (db/identity.h), sent first on every link.
  replicator_actor(boost::asio::io_context& io, std::string self_id, std::string secret,
                   std::filesystem::path snapshot_dir, replicator_outputs out, failure_handler on_failure,
                   snapshot_stream_options snap = {}, net::peer_limits links = {}, std::string incarnation = {});
  ~replicator_actor();

  /// Queues a message. Loop thread only.
  void tell(replicator_message m) { inbox_.push(std::move(m)); }
  /// Closes all links.
  void stop();

 private:
  struct outgoing_snapshot;
  struct incoming_snapshot;

  void handle(replicator_message&& m);
  void send(std::vector<raft::message> msgs);
  bool send_frame(const std::string& to, const net::peer_frame& f);
  /// The first frame on a new link to `peer`: this node's incarnation, and
  /// that it reads entry data written as JSON objects.
  void say_hello(const std::string& peer);
  void send_join(replicator_msg::send_join& j);
  /// Publishes the set of linked peers (outputs.links).
  void publish_links();

  void on_frame(const std::string& from, std::string frame, bool binary);
  void on_down(const std::string& peer);
  void start_snapshot(const raft::message& m);
  void pump_snapshot(const std::string& peer);
  void on_snapshot_chunk(const std::string& from, std::string frame);
  void on_snapshot_ack(const std::string& from, const net::peer_snap_ack& ack);
  void fail_snapshot(const std::string& peer);
  /// Drops the stream receiving from `peer` (its .part is deleted).
  void drop_incoming(const std::string& peer);
  /// An answer of the snapshot I/O worker.
  void on_io(snapshot_io_result r);
  void on_io_sender(const std::string& peer, snapshot_io_result& r);
  void on_io_receiver(const std::string& peer, snapshot_io_result& r);
  /// A received snapshot could not be stored for lack of space: raises the
  /// disk-full report for disk_full_hold (each failure re-arms it), or
  /// clears it at once (`error` empty: one was stored).
  void report_disk_full(const std::string& error);
  /// (Re)starts the stall timer of the stream to `peer` (at start and on every ack).
  void arm_stall_timer(const std::string& peer);

  boost::asio::io_context& io_;
  std::string self_;
  std::string incarnation_;
  snapshot_stream_options snap_;
  std::filesystem::path snapshot_dir_;
  replicator_outputs out_;
  std::shared_ptr<net::peer_transport> transport_;
  /// Peers whose hello on the current link announced json_entries: frames
  /// to them carry entry data as JSON objects (net::encode_peer_frame).
  std::set<std::string> json_peers_;
  /// send()'s frames being gathered, one per peer; kept between calls so
  /// their vectors keep their capacity.
  std::vector<std::pair<std::string, net::peer_raft>> batches_;
  std::map<std::string, std::unique_ptr<outgoing_snapshot>> out_snaps_;
  std::map<std::string, std::unique_ptr<incoming_snapshot>> in_snaps_;
  std::uint64_t next_stream_ = 1;  ///< ids of streams in the snapshot I/O worker
  std::map<std::uint64_t, std::pair<std::string, bool>> streams_;  ///< id -> (peer, outgoing)
  boost::asio::steady_timer disk_full_timer_;
  bool disk_full_ = false;
  std::unique_ptr<snapshot_io> io_worker_;  // its results use the above
  loop_mailbox<replicator_message> inbox_;
};

}  // namespace qc::actors
