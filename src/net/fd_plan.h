// Sharing out the process's file descriptors. At start the node raises its
// soft RLIMIT_NOFILE to the hard limit, keeps some descriptors for files
// (SQLite databases and their WAL/SHM, snapshots, logs) and the peers it
// dials, and sizes the listener's limits from the rest, so that connection
// limits are reached before the process runs out of descriptors.
//
// Owned by: the node's start-up (main thread, before the loop runs).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace qc::net {

/// Descriptors kept out of the listener's budget regardless of members.
inline constexpr std::size_t fd_reserved_base = 64;
/// Descriptors kept per cluster member (a dialed link, a snapshot stream).
inline constexpr std::size_t fd_reserved_per_member = 4;

/// The figures of the plan, for the log line and the server's limits.
/// Owned by the node's start-up, then copied into the listener.
struct fd_plan {
  std::uint64_t soft_before = 0;  ///< soft RLIMIT_NOFILE found at start
  std::uint64_t soft = 0;         ///< soft limit after raising it
  std::uint64_t hard = 0;         ///< hard limit
  std::size_t reserved = 0;       ///< kept for files and dialed peers
  std::size_t sockets = 0;        ///< accepted connections of any kind at once
  std::size_t clients = 0;        ///< client WebSockets: min(configured, what fits)
  bool clients_capped = false;    ///< `clients` is below the configured value
  std::string error;              ///< getrlimit/setrlimit failure, if any (the plan still holds)
};

/// Raises the soft descriptor limit to the hard one and plans: `reserved` =
/// base + per member; `sockets` = soft - reserved (at least 8); `clients` =
/// min(configured_clients, sockets - peer_handshakes - members - headroom)
/// with headroom for plain HTTP (/health, /status) of max(16, sockets / 20).
fd_plan plan_descriptors(std::size_t configured_clients, std::size_t peer_handshakes, std::size_t members);

/// "descriptors: soft limit 1024 -> 20000 (hard 20000); ..." for the log.
std::string describe(const fd_plan& p);

}  // namespace qc::net
