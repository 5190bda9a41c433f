// When may a learner become a voter? Dissertation §4.2.1: the leader
// replicates to the new server in rounds. Each round replicates every entry
// the leader had when the round began; when a round ends (the learner's
// match index reaches that target), the leader looks at how long it took.
// A round that finished within an election timeout shows the learner is
// within one round of the leader, so adding it to the voters cannot leave
// the cluster unavailable for longer than an election timeout. A slower
// round starts the next one from the leader's current last index.
//
// Pure and deterministic: the caller passes a monotonic time in ms.
// Owned by: the gateway actor on the leader (one per membership change).
#pragma once

#include <cstdint>

namespace qc::raft {

/// Round tracker for one learner being caught up.
class catch_up_rounds {
 public:
  /// `max_round_ms`: a round at most this long makes the learner promotable
  /// (the election timeout).
  explicit catch_up_rounds(std::uint64_t max_round_ms) : max_round_ms_(max_round_ms) {}

  /// Feeds one observation: the leader's last log index and the learner's
  /// match index, at time `now_ms`. Returns true once a round has ended
  /// within max_round_ms; from then on it keeps returning true.
  bool observe(std::uint64_t now_ms, std::uint64_t leader_last, std::uint64_t learner_match);

  /// Rounds ended so far (the promoting round included).
  int rounds_done() const { return rounds_done_; }
  /// The index the current round must reach (0 before the first observation).
  std::uint64_t round_target() const { return target_; }
  /// Duration of the last ended round in ms (0 if none ended yet).
  std::uint64_t last_round_ms() const { return last_round_ms_; }
  /// True once the learner is within one round of the leader.
  bool caught_up() const { return caught_up_; }

 private:
  std::uint64_t max_round_ms_;
  bool started_ = false;
  bool caught_up_ = false;
  std::uint64_t target_ = 0;
  std::uint64_t round_start_ms_ = 0;
  std::uint64_t last_round_ms_ = 0;
  int rounds_done_ = 0;
};

}  // namespace qc::raft
