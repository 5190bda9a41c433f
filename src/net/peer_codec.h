// JSON encoding of the peer protocol (frames on /raft after the handshake).
//
// Owned by: pure functions; called on the loop thread by the replicator.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "raft/types.h"

namespace qc::net {

/// A batch of Raft messages to one peer ({"type":"raft","msgs":[...]}).
struct peer_raft {
  std::vector<raft::message> msgs;

  friend bool operator==(const peer_raft&, const peer_raft&) = default;
};

/// A follower forwards a proposal to the leader ({"type":"propose",...}).
/// `data` is the command JSON text; the leader stamps nothing the follower
/// cannot see: it answers with the (index, term) the entry got.
struct peer_propose {
  std::uint64_t rid = 0;  ///< request id, unique per sender
  std::string data;
  bool conf = false;       ///< data is an encoded conf_change (admin ops)

  friend bool operator==(const peer_propose&, const peer_propose&) = default;
};

/// The leader's answer to peer_propose.
struct peer_propose_resp {
  std::uint64_t rid = 0;
  std::uint64_t index = 0;  ///< 0 on error
  std::uint64_t term = 0;
  std::string error;        ///< empty on success; else a contract error code
  std::string leader;       ///< known leader id, when error is not_leader

  friend bool operator==(const peer_propose_resp&, const peer_propose_resp&) = default;
};

/// A generic admin/cluster request between peers (join, transfer, ...):
/// {"type":"admin","rid":..,"body":{...}} and its response "admin_resp".
struct peer_admin {
  std::uint64_t rid = 0;
  bool response = false;
  std::string body;  ///< JSON object text

  friend bool operator==(const peer_admin&, const peer_admin&) = default;
};

/// Snapshot stream control. Chunk bytes travel in binary frames whose first
/// 8 bytes are the big-endian snapshot index, the next 8 the offset.
struct peer_snap_ack {
  std::uint64_t index = 0;   ///< snapshot index
  std::uint64_t offset = 0;  ///< bytes durably received so far
  bool done = false;         ///< receiver has the whole file
  bool failed = false;

  friend bool operator==(const peer_snap_ack&, const peer_snap_ack&) = default;
};

/// The first frame each side sends on a new link: the incarnation of its
/// data directory (db/identity.h), so the other side can tell a member that
/// came back without its data ({"type":"hello","incarnation":"<16 hex>"}),
/// and whether it reads entry data written as JSON objects
/// ("json_entries":true; see encode_peer_frame). A build that knows no
/// such key ignores it, and never announces it.
struct peer_hello {
  std::string incarnation;
  bool json_entries = false;

  friend bool operator==(const peer_hello&, const peer_hello&) = default;
};

/// The answer to a hello from a member that came back with another data
/// directory: it is refused until it is removed and added again.
struct peer_refused {
  std::string reason;

  friend bool operator==(const peer_refused&, const peer_refused&) = default;
};

/// Any decoded peer frame.
using peer_frame =
    std::variant<peer_raft, peer_propose, peer_propose_resp, peer_admin, peer_snap_ack, peer_hello, peer_refused>;

/// Encodes a frame as JSON text. With `entries_as_json` (for a peer that
/// announced `json_entries` in its hello), entry and proposal data that is
/// a compact JSON object is written as that object rather than as a
/// string: the bytes are carried without escaping, and read back as they
/// are. Only the direct reader takes such frames; a reader that takes data
/// only as strings refuses them whole, never reads them differently.
std::string encode_peer_frame(const peer_frame& f, bool entries_as_json = false);

/// Decodes; nullopt on any malformed input (never throws, never crashes).
/// The frames of every write, laid out as `encode_peer_frame` writes them,
/// are read directly; anything else goes through a JSON parser.
std::optional<peer_frame> decode_peer_frame(std::string_view text);

namespace detail {
/// The direct reader alone: a raft, propose or propose_resp frame in the
/// encoder's exact layout, or nullopt for any other text, valid or not
/// (exposed for the codec's tests and fuzzer, which hold it to the general
/// parser).
std::optional<peer_frame> decode_peer_frame_exact(std::string_view text);
/// The JSON parser's decoding of any frame.
std::optional<peer_frame> decode_peer_frame_general(std::string_view text);
}  // namespace detail

}  // namespace qc::net
