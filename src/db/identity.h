// The data directory's identity: which node it belongs to and which
// incarnation of that node it is, plus the incarnations this node has seen
// of its peers.
//
// A node that loses its disk and is started again under the same id has
// forgotten its votes and the entries it acknowledged; the quorums that
// counted them are smaller than they look. Every data directory therefore
// gets a random incarnation when it is created; nodes exchange theirs when a
// peer link comes up and remember each peer's first one. A member that comes
// back with another incarnation is refused (see consensus_actor), so it can
// never vote or be counted again until it is removed and added anew.
//
// Files: data_dir/identity ("node <id>\nincarnation <16 hex>\n") and
// data_dir/peers (one "<id> <16 hex>" line per peer), both replaced
// atomically (write, fsync, rename, fsync the directory).
//
// Owned by: node start-up (identity) and the storage actor's thread (peers).
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>

#include "common/error.h"

namespace qc::db {

/// Peer id -> the incarnation first seen for it.
using peer_incarnations = std::map<std::string, std::string>;

/// This data directory's identity.
struct node_identity {
  std::string node_id;
  std::string incarnation;  ///< 16 hex digits, random, fixed for the directory's life
  bool created = false;     ///< made just now (a new or legacy directory)
};

/// Reads data_dir/identity, or creates it when `may_create`. Refuses (nullopt
/// and a one-line reason naming the file) a file of another node or a
/// malformed one. Start-up only, before the stores open.
std::optional<node_identity> load_or_create_identity(const std::filesystem::path& dir, const std::string& node_id,
                                                     bool may_create, std::string& err);

/// Reads data_dir/peers (empty if absent). nullopt and a reason if malformed.
std::optional<peer_incarnations> load_peer_incarnations(const std::filesystem::path& dir, std::string& err);

/// Replaces data_dir/peers with `peers`, durably. On an I/O error,
/// errc::disk_full or errc::io_error and a reason naming the file.
qc::error save_peer_incarnations(const std::filesystem::path& dir, const peer_incarnations& peers);

}  // namespace qc::db
