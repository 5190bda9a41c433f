// Authenticated peer links over WebSocket (/raft), one per peer pair.
//
// Handshake (mutual, the secret never travels): the accepting side sends
// {"type":"challenge","nonce":N1,"id":server_id}; the dialer answers
// {"type":"auth","id":dialer_id,"nonce":N2,"mac":hex(HMAC-SHA256(secret,
// "dial|" + N1 + "|" + dialer_id))}; the acceptor checks it in constant time
// and answers {"type":"auth_ok","mac":hex(HMAC(secret,"accept|" + N2 + "|" +
// server_id))}, which the dialer checks. A bad MAC is logged and closed.
//
// Both sides dial every peer they know; when two links to one peer are up,
// both sides keep the one dialed by the lower id and close the other, so a
// pair converges on a single connection. Dropped links redial with jittered
// exponential backoff.
//
// With [tls] the links are wss://: the dialer verifies the acceptor's
// certificate (chain to tls.ca_file, name = the host it dialed), and the
// secret handshake above still runs inside, so a peer needs both.
//
// Before a link is authenticated it is cheap to hold and cheap to refuse:
// frames of at most 4 KiB (the handshake's own are ~200 bytes; 64 MiB only
// once authenticated), one deadline for the whole handshake (connect, TLS,
// upgrade and the secret exchange: handshake_timeout), and at most
// max_handshakes accepted links proving the secret at once (more are closed
// on arrival). Each link is a session in Beast's shape (do_x/on_x pairs,
// one write in flight, a bounded queue) and logs why it ends.
//
// Owned by: the loop thread; used by the replicator actor.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

#include "net/stream.h"

namespace qc::net {

/// Largest frame read from a link that has not proven the secret yet.
inline constexpr std::size_t peer_handshake_frame_bytes = 4096;

/// Tunables of the peer links. Owned by: the loop thread.
struct peer_limits {
  std::size_t max_frame_bytes = 64 << 20;       ///< once authenticated: frames may carry batches/snapshot chunks
  std::size_t max_queue_bytes = 256 << 20;      ///< per link; send() fails beyond it
  std::chrono::milliseconds backoff_min{50};
  std::chrono::milliseconds backoff_max{2000};
  std::chrono::milliseconds handshake_timeout{3000};  ///< connect/accept to authenticated
  std::size_t max_handshakes = 16;              ///< accepted links still proving the secret, at once
  /// An authenticated link that receives nothing for this long (not even
  /// the pong to the ping sent halfway) is closed: a peer that stopped
  /// (SIGSTOP, a hung host) shows as unreachable then.
  std::chrono::milliseconds idle_timeout{10000};
  /// With [tls]: dial peers over TLS with this client context (it verifies
  /// their certificates against tls.ca_file). nullptr: plain ws://.
  std::shared_ptr<boost::asio::ssl::context> tls;
};

/// Callbacks into the node; all on the loop thread, which owns them.
struct peer_handlers {
  /// A frame from an authenticated peer. `binary` for binary frames.
  std::function<void(const std::string& from, std::string frame, bool binary)> frame;
  /// A link to `id` became usable / was lost.
  std::function<void(const std::string& id)> up;
  std::function<void(const std::string& id)> down;
  /// The link to `id` was replaced by a duplicate that won (both sides
  /// dialed at once): it stays up, but frames in flight on the old one are
  /// lost, so a stream that counts on acks (a snapshot) must start over.
  std::function<void(const std::string& id)> replaced;
  /// A peer failed authentication (for logs/metrics): remote address, reason.
  std::function<void(const std::string& remote, const std::string& why)> auth_failed;
};

/// The set of peer links of one node. Owned by: the loop thread.
class peer_transport : public std::enable_shared_from_this<peer_transport> {
 public:
  peer_transport(boost::asio::io_context& io, std::string self_id, std::string secret,
                 peer_limits limits, peer_handlers handlers);
  ~peer_transport();
  /// The peers to keep links to (id -> "host:port"). Links to ids no longer
  /// listed are closed unless the peer dialed us (a joining node).
  void set_peers(const std::map<std::string, std::string>& peers);
  /// Dials `address` once for a handshake with an unknown peer (used by a
  /// joining node to reach a seed); the link is keyed by the id it proves.
  void dial(const std::string& address);
  /// Takes over an upgraded /raft stream from the server.
  void accept(net::stream stream, boost::beast::http::request<boost::beast::http::string_body> req);
  /// Queues a frame to `to`. False if there is no usable link or its queue
  /// is full (the caller treats the peer as unreachable).
  bool send(const std::string& to, std::shared_ptr<const std::string> frame, bool binary = false);
  /// True if a usable link to `id` exists.
  bool connected(const std::string& id) const;
  /// Ids of every peer with a usable link (configured or not, e.g. a seed).
  std::vector<std::string> connected_peers() const;
  /// Bytes queued to `id` and not yet written (flow control).
  std::size_t queued_bytes(const std::string& id) const;
  /// Fault injection for tests (enabled only by the [testing] config
  /// section, see tests/faults): frames arriving from these peer ids are
  /// discarded on receipt, as if the network lost them, while the links
  /// stay up. A one-way partition A->B is B dropping from A; a full one is
  /// both. An empty set heals. Loop thread only.
  void set_drop_from(std::set<std::string> ids);
  /// Fault injection for the live cluster view (admin.pause, [testing]
  /// only): for `d`, every frame from and to every peer is discarded, as if
  /// this node had left the network; then it heals itself. Links are reset
  /// at both ends of the pause, like set_drop_from. Zero heals now. Loop thread only.
  void pause(std::chrono::milliseconds d);
  /// Closes every link and stops redialing.
  void stop();

  /// Shared state of the transport and its links (defined in the .cpp).
  struct impl;

 private:
  std::shared_ptr<impl> impl_;
};

}  // namespace qc::net
