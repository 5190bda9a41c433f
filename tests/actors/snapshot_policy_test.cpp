// When the apply actor takes a snapshot: the entry count first, then log
// written in proportion to the last snapshot's size, unless storage is short.
//
// Owned by: the test thread.
#include <doctest/doctest.h>

#include "actors/snapshot_policy.h"

using namespace qc;

namespace {
constexpr std::uint64_t mib = 1ull << 20;
}  // namespace

TEST_CASE("snapshot policy: never before the entry count, and never with a count of 0") {
  const actors::snapshot_policy p{10'000};
  CHECK_FALSE(p.due(9'999, 1ull << 40, 0, false));
  CHECK_FALSE(p.due(9'999, 1ull << 40, 0, true));
  CHECK(p.due(10'000, 0, 0, false));
  const actors::snapshot_policy never{0};
  CHECK_FALSE(never.due(1'000'000, 1ull << 40, 0, true));
}

TEST_CASE("snapshot policy: small snapshots follow the count alone") {
  const actors::snapshot_policy p{100};
  const auto small = actors::snapshot_policy::small_snapshot_bytes - 1;
  CHECK(p.due(100, 1, small, false));
}

TEST_CASE("snapshot policy: a snapshot past the small size waits for log of twice its size") {
  const actors::snapshot_policy p{10'000};
  const std::uint64_t snap = 20 * mib;
  CHECK_FALSE(p.due(10'000, 4 * mib, snap, false));
  CHECK_FALSE(p.due(200'000, 2 * snap - 1, snap, false));
  CHECK(p.due(200'000, 2 * snap, snap, false));
  // The ratio rule takes over at the small size; below it, a copy every
  // 10,000 sends (~4 MiB of log) costs under a byte per byte of log.
  const auto just_past = actors::snapshot_policy::small_snapshot_bytes;
  CHECK(p.due(10'000, 1, just_past - 1, false));
  CHECK_FALSE(p.due(10'000, 4 * mib, just_past, false));
  CHECK(p.due(10'000, 2 * just_past, just_past, false));
}

TEST_CASE("snapshot policy: the log waits for at most max_log_bytes") {
  const actors::snapshot_policy p{10'000};
  const std::uint64_t snap = 450 * mib;  // about 1M messages
  constexpr auto cap = actors::snapshot_policy::max_log_bytes;
  CHECK(cap < 2 * snap);
  CHECK_FALSE(p.due(150'000, cap - 1, snap, false));
  CHECK(p.due(150'000, cap, snap, false));
}

TEST_CASE("snapshot policy: under storage pressure the count decides again") {
  const actors::snapshot_policy p{10'000};
  const std::uint64_t snap = 450 * mib;
  CHECK_FALSE(p.due(10'000, 4 * mib, snap, false));
  CHECK(p.due(10'000, 4 * mib, snap, true));
  CHECK_FALSE(p.due(9'999, 4 * mib, snap, true));
}

TEST_CASE("snapshot policy: the first snapshot after a start comes first_phase of an interval early") {
  const actors::snapshot_policy p{9'000, 1.0 / 3};
  // The count: 6,000 of 9,000 entries the first time, all 9,000 after.
  CHECK_FALSE(p.due(5'999, 0, 0, false, true));
  CHECK(p.due(6'000, 0, 0, false, true));
  CHECK_FALSE(p.due(6'000, 0, 0, false, false));
  CHECK(p.due(9'000, 0, 0, false, false));
  // The size rule: two thirds of twice the snapshot the first time.
  const std::uint64_t snap = 30 * mib;
  CHECK_FALSE(p.due(200'000, 40 * mib - 1, snap, false, true));
  CHECK(p.due(200'000, 40 * mib, snap, false, true));
  CHECK_FALSE(p.due(200'000, 40 * mib, snap, false, false));
  // A phase of 0 (the first of the founding members) changes nothing.
  const actors::snapshot_policy q{9'000};
  CHECK_FALSE(q.due(8'999, 0, 0, false, true));
  CHECK(q.due(9'000, 0, 0, false, true));
}

TEST_CASE("snapshot policy: a running copy is waited for once the log doubled since it began") {
  const actors::snapshot_policy p{10'000};
  // A copy begun at the count: waited for at twice the count.
  CHECK_FALSE(p.must_wait_for_copy(10'000, 19'999));
  CHECK(p.must_wait_for_copy(10'000, 20'000));
  // A copy the size rule began at 170,000 entries is not waited for at
  // once (the rule counted from the last snapshot stalled applies for the
  // whole copy), only once the log since the last snapshot doubled.
  CHECK_FALSE(p.must_wait_for_copy(170'000, 170'001));
  CHECK_FALSE(p.must_wait_for_copy(170'000, 339'999));
  CHECK(p.must_wait_for_copy(170'000, 340'000));
  // The count stays the floor.
  CHECK_FALSE(p.must_wait_for_copy(100, 19'999));
}
