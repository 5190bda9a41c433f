// The orchestration layer (`chatctl supervise`): keeps the cluster at its
// target size. Decisions, one at a time, each logged:
//  - a member that is down is restarted from the spawn template (same id,
//    address and data directory; its membership comes from its data dir);
//  - a member still down after the grace period is replaced: a fresh node
//    (new id, new port, new data dir, --join) is spawned, the supervisor
//    waits until it is a VOTER, and only then removes the dead member, so no
//    step ever lowers the number of live voters below what it was;
//  - fewer voters than the target (e.g. after a removal) spawns a new node.
//
// Owned by: the calling thread; children are reaped with waitpid.
#pragma once

#include <chrono>
#include <string>
#include <vector>

namespace qc::ops {

/// Settings of the supervisor.
struct supervisor_options {
  std::vector<std::string> seeds;  ///< addresses to probe first
  int target = 5;                  ///< voters wanted
  /// Shell command to start a node. Placeholders: {id}, {n} (numeric
  /// suffix of the id), {port}, {address}, {data_dir}, {join} (a live member).
  std::string spawn_template;
  std::string admin_token = "dev-admin";
  std::string data_root = "data";   ///< new nodes get data_root/<id>
  std::string host = "127.0.0.1";   ///< host for new nodes' addresses
  std::chrono::milliseconds grace{10'000};
  std::chrono::milliseconds interval{1'000};
  int max_iterations = 0;  ///< 0 = forever (tests bound it)
};

/// Runs until killed (or max_iterations). Returns 0.
int run_supervisor(const supervisor_options& o);

/// Expands the template's placeholders.
std::string expand_template(std::string tpl, const std::string& id, const std::string& address,
                            const std::string& data_dir, const std::string& join);

}  // namespace qc::ops
