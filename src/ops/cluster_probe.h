// Probing a cluster from the outside: GET /status of every known member,
// the table chatctl prints, and admin calls that find a live node.
//
// Owned by: the calling thread (chatctl); blocking calls with timeouts.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <boost/json/object.hpp>

namespace qc::ops {

/// What one node says about itself (GET /status), or that it is down.
struct node_view {
  std::string address;
  bool up = false;
  std::string id;
  std::string role;
  std::string leader;  ///< empty if unknown
  std::uint64_t term = 0;
  std::uint64_t commit = 0;
  std::uint64_t applied = 0;
  bool voter = false;  ///< per the most authoritative configuration seen
  bool storage_full = false;  ///< its storage alarm ([storage] quota or a full disk)
  std::uint64_t storage_used = 0;
  std::uint64_t storage_quota = 0;  ///< 0 if the node does not say
};

/// The cluster as seen from outside.
struct cluster_view {
  std::vector<node_view> nodes;  ///< every member known, up or down
  std::string leader;            ///< agreed leader id, empty if none
  /// Voters that answer, know a leader and keep up with the commit index.
  int healthy_voters() const;
  /// Voters in the configuration.
  std::size_t voters() const;
};

/// GET http://host:port/path with a timeout; nullopt if unreachable.
std::optional<std::pair<int, std::string>> http_get(const std::string& host_port, const std::string& path,
                                                    std::chrono::milliseconds timeout = std::chrono::milliseconds(1500));

/// Probes the seeds and every member their status lists.
cluster_view probe_cluster(const std::vector<std::string>& seeds);

/// A fixed-width table: id, address, role, term, leader, commit, applied, storage, reachable.
std::string render_table(const cluster_view& v);

/// True if `r` is a reply with `"ok": true`.
bool is_ok(const std::optional<boost::json::object>& r);
/// The error code of a reply (`error.code`), empty if it has none.
std::string error_code_of(const std::optional<boost::json::object>& r);
/// The error message of a reply (`error.message`), empty if it has none.
std::string error_message_of(const std::optional<boost::json::object>& r);

/// Sends an admin request to the first seed that answers; waits up to
/// `timeout` for the reply. nullopt (and `err`) if no node answered.
std::optional<boost::json::object> admin_call(const std::vector<std::string>& seeds, boost::json::object req,
                                              std::string& err,
                                              std::chrono::milliseconds timeout = std::chrono::minutes(6));

}  // namespace qc::ops
