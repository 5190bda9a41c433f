// The nemesis: faults mixed at random from a seed, one main fault at a time
// with healthy gaps between them:
//   kill          SIGKILL a member (sometimes the leader), restart it later;
//                 now and then every member at once;
//   pause         SIGSTOP a member, SIGCONT later;
//   partition     majority/minority split (both ways);
//   bridge        two sides that cannot reach each other and one node that
//                 reaches both;
//   oneway        a group that receives nothing from the rest (or the rest
//                 nothing from the group), while the other direction works;
//   isolate       the leader cut off from everyone;
//   membership    during a pause or isolation of another member, or with
//                 the leader killed in the middle of the change: remove a
//                 member (admin.remove_node), wipe its data directory and
//                 bring it back as a new member with --join (half the time
//                 also asking with admin.add_node).
// Partitions use the [testing] peer fault filter (admin.net_filter).
//
// Owned by: its own thread; it alone drives fault_cluster during the run.
#pragma once

#include <atomic>
#include <cstdint>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "faults/run/address_book.h"
#include "faults/run/fault_cluster.h"
#include "faults/run/run_clock.h"

namespace qc::faults {

/// One fault as applied: what, to whom, and when (run clock, seconds).
struct fault_window {
  std::string kind;    ///< kill, pause, partition, bridge, oneway, isolate, membership
  std::string detail;  ///< e.g. "n1,n2 | n3,n4,n5"
  double start_s = 0, end_s = 0;
};

/// Runs faults until stop(), then heals everything.
class nemesis {
 public:
  nemesis(fault_cluster& cluster, address_book& book, const run_clock& clock, std::uint64_t seed);
  ~nemesis();
  void start();
  /// Stops after the current fault, heals it, and joins the thread.
  void stop();
  /// Heals everything: filters off, paused members continued, dead members
  /// restarted. Runner thread, after stop().
  void heal_all();
  const std::vector<fault_window>& windows() const { return windows_; }
  /// Lines describing what happened (for the log and the report).
  const std::vector<std::string>& log() const { return log_; }

 private:
  void run();
  void say(const std::string& line);
  /// Sleeps up to `s` seconds, waking early when stopping.
  void nap(double s);
  double uniform(double lo, double hi) { return std::uniform_real_distribution<double>(lo, hi)(rng_); }
  std::vector<std::string> shuffled_members();
  std::string pick(const std::vector<std::string>& from) { return from[rng_() % from.size()]; }

  /// A member to kill or pause: the leader about a third of the time, else a
  /// random usable member; empty if none is usable.
  std::string pick_victim();
  void do_kill();
  void do_kill_all();
  void do_pause();
  void do_partition();
  void do_bridge();
  void do_oneway();
  void do_isolate_leader();
  void do_membership();
  /// Both-way cut between every member of `a` and every member of `b`.
  static void cut(std::map<std::string, std::set<std::string>>& drop, const std::vector<std::string>& a,
                  const std::vector<std::string>& b);

  fault_cluster& cluster_;
  address_book& book_;
  const run_clock& clock_;
  std::mt19937_64 rng_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  std::vector<fault_window> windows_;
  std::vector<std::string> log_;
};

}  // namespace qc::faults
