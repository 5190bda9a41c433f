// Learner promotion (dissertation §4.2.1): a learner becomes promotable only
// when a whole round of replication ends within an election timeout.
#include <doctest/doctest.h>

#include <algorithm>

#include "raft/catch_up.h"

using qc::raft::catch_up_rounds;

TEST_CASE("catch-up: a learner far behind is not promotable until a round ends fast") {
  catch_up_rounds r(300);
  // Round 1 starts at the leader's last index 10,000; the learner is empty.
  CHECK_FALSE(r.observe(0, 10'000, 0));
  CHECK(r.round_target() == 10'000);
  // A snapshot is streaming: match stays behind the target for seconds.
  for (std::uint64_t t = 50; t < 5'000; t += 50) CHECK_FALSE(r.observe(t, 10'000 + t, 9'000));
  // Round 1 ends after 5 s: too slow; round 2 targets what the leader has now.
  CHECK_FALSE(r.observe(5'000, 12'000, 10'000));
  CHECK(r.rounds_done() == 1);
  CHECK(r.last_round_ms() == 5'000);
  CHECK(r.round_target() == 12'000);
  CHECK_FALSE(r.caught_up());
  // Round 2 ends 200 ms later (within 300 ms): promotable.
  CHECK_FALSE(r.observe(5'100, 12'100, 11'500));
  CHECK(r.observe(5'200, 12'300, 12'000));
  CHECK(r.caught_up());
  CHECK(r.rounds_done() == 2);
  CHECK(r.last_round_ms() == 200);
  CHECK(r.observe(9'999, 20'000, 0));  // sticky once decided
}

TEST_CASE("catch-up: a learner that never keeps up within a round is never promotable") {
  catch_up_rounds r(300);
  std::uint64_t leader = 10'000, match = 0;
  r.observe(0, leader, match);
  // The leader appends 10 entries/ms; the learner applies 5/ms. Each round
  // ends (2 s, then 4 s, 8 s...), but takes longer than the election
  // timeout, forever: it would be a voter the cluster waits for.
  for (std::uint64_t t = 1; t <= 60'000; ++t) {
    leader += 10;
    match += 5;
    CHECK_FALSE(r.observe(t, leader, std::min(match, leader)));
  }
  CHECK(r.rounds_done() > 0);
  CHECK(r.last_round_ms() > 300);
}

TEST_CASE("catch-up: the round target is fixed when the round starts") {
  catch_up_rounds r(300);
  r.observe(0, 100, 0);
  // Entries appended during the round do not move its target.
  CHECK_FALSE(r.observe(100, 500, 99));
  CHECK(r.observe(250, 900, 100));  // reached 100 within 250 ms
  CHECK(r.last_round_ms() == 250);
}

TEST_CASE("catch-up: the round ending exactly at the bound counts; one ms more does not") {
  catch_up_rounds a(300), b(300);
  a.observe(1'000, 50, 50);
  CHECK(a.observe(1'300, 50, 50));
  b.observe(1'000, 50, 0);
  CHECK_FALSE(b.observe(1'301, 50, 50));
  CHECK(b.round_target() == 50);
  CHECK(b.observe(1'400, 50, 50));  // the next round ends in 99 ms
}
