#include "raft/catch_up.h"

namespace qc::raft {

bool catch_up_rounds::observe(std::uint64_t now_ms, std::uint64_t leader_last, std::uint64_t learner_match) {
  if (caught_up_) return true;
  if (!started_) {
    started_ = true;
    target_ = leader_last;
    round_start_ms_ = now_ms;
    return false;
  }
  if (learner_match < target_) return false;  // the round is still running
  ++rounds_done_;
  last_round_ms_ = now_ms >= round_start_ms_ ? now_ms - round_start_ms_ : 0;
  if (last_round_ms_ <= max_round_ms_) {
    caught_up_ = true;
    return true;
  }
  // Too slow: the entries that arrived meanwhile are the next round.
  target_ = leader_last;
  round_start_ms_ = now_ms;
  return false;
}

}  // namespace qc::raft
