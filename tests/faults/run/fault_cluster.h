// The cluster under test: real chatnode processes started through the
// integration harness (tests/integration/harness.h), plus the levers the
// nemesis pulls: SIGKILL/restart, SIGSTOP/SIGCONT, the [testing] peer
// fault filter (admin.net_filter), admin ops, and membership as the nodes
// report it.
//
// Owned by: the nemesis thread during the run, the runner thread before and
// after. Not thread-safe (clients only see the address_book).
#pragma once

#include <chrono>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <vector>

#include <boost/json.hpp>

#include "harness/harness.h"

namespace qc::faults {

/// A cluster of chatnode processes with fault levers.
class fault_cluster {
 public:
  /// `n` founding members; `extra_toml` is appended to every node's config.
  fault_cluster(int n, std::string extra_toml);

  test::cluster& raw() { return c_; }
  void start_all();

  /// Ids in the configuration as last reported by a node that knows a leader.
  const std::vector<std::string>& members() const { return members_; }
  /// Re-reads membership from a live node's /status (one that knows a
  /// leader). False if no node answered.
  bool refresh_members();
  /// "host:port" of each current member.
  std::vector<std::string> member_addresses() const;

  /// The live node claiming leadership with the highest term, if any.
  std::optional<std::string> leader();
  bool alive(const std::string& id);
  bool paused(const std::string& id) const { return paused_.count(id) > 0; }
  /// Live and not paused.
  bool usable(const std::string& id) { return alive(id) && !paused(id); }
  int port_of(const std::string& id) { return c_.node(id).port; }

  void kill(const std::string& id);
  /// Starts a killed member again with its data directory.
  void restart(const std::string& id);
  void pause(const std::string& id);
  void resume(const std::string& id);

  /// Sets each member's fault filter: drop[id] = the ids whose frames `id`
  /// drops; members not named drop nothing. Best effort on dead/paused ones.
  void set_filters(const std::map<std::string, std::set<std::string>>& drop);
  void heal_network() { set_filters({}); }

  /// Sends an admin op (admin_token added) to a usable member, trying each
  /// until one answers. Empty object if none did.
  boost::json::object admin(boost::json::object req, std::chrono::milliseconds timeout);
  /// One request to node `id`; empty object on timeout/connection failure.
  boost::json::object call(const std::string& id, boost::json::object req, std::chrono::milliseconds timeout);

  /// Creates and starts a brand-new node (fresh id, port and empty data
  /// dir) that joins through `seed` with --join. Returns its id.
  std::string start_joiner(const std::string& seed_id);
  /// Deletes a (killed) node's data directory.
  void wipe(const std::string& id);

  /// Kills every process (end of run).
  void stop_all();
  /// Nodes that exited without being killed ("id: exit status"): bugs.
  const std::vector<std::string>& crashes() const { return crashes_; }

 private:
  test::cluster c_;
  std::string extra_toml_;
  std::vector<std::string> members_;
  std::set<std::string> paused_;
  std::vector<std::string> crashes_;
  int next_id_ = 0;
  std::mt19937_64 rng_{12345};
};

}  // namespace qc::faults
