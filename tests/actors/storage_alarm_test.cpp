// The storage alarm's arithmetic: when it rises and when it clears.
//
// Owned by: the test thread.
#include <doctest/doctest.h>

#include "actors/storage_alarm.h"

using namespace qc;

namespace {
constexpr std::uint64_t mib = 1ull << 20;

db::disk_usage usage(std::uint64_t used, std::uint64_t reserve) {
  db::disk_usage u;
  u.used_bytes = used;
  u.copy_bytes = reserve;
  u.available_bytes = 1ull << 40;
  return u;
}
}  // namespace

TEST_CASE("storage alarm: a write costs its amplification, the steps count once") {
  // 24 MiB quota, 4.5 KiB largest write, a 1 MiB segment and a 1.5 MiB WAL bound.
  constexpr std::uint64_t quota = 24 * mib, write = 4608, steps = mib + 3 * mib / 2;
  actors::storage_alarm a(quota, write, steps);
  const std::uint64_t headroom = write * actors::storage_alarm::write_amplification + steps;

  a.on_usage(usage(quota - headroom - 6 * mib, 6 * mib));
  CHECK_FALSE(a.full());
  a.on_usage(usage(quota - headroom - 6 * mib + 1, 6 * mib));
  CHECK(a.full());
  CHECK(a.refusal(false, {}, actors::storage_alarm::clock::now()).find("storage quota") != std::string::npos);

  // After deletes, as measured once: 11.5 MB used, a 6 MB snapshot copy to
  // come. Were the steps amplified too (10 MiB of headroom), this could
  // never clear under a 24 MiB quota.
  a.on_usage(usage(11'541'389, 6 * mib));
  CHECK_FALSE(a.full());

  // Appended entries count at their amplified cost until the next measurement.
  a.on_appended(quota);
  CHECK(a.full());
  a.on_usage(usage(11'541'389, 6 * mib));
  CHECK_FALSE(a.full());
}

TEST_CASE("storage alarm: a disk that refused a write holds the alarm until it works again") {
  actors::storage_alarm a(24 * mib, 4608, 2 * mib);
  a.on_usage(usage(mib, 0));
  CHECK_FALSE(a.full());
  a.on_disk_full("chat.db", "chat.db: database or disk is full");
  CHECK(a.full());
  CHECK(a.disk_refused());
  CHECK(a.disk_error() == "chat.db: database or disk is full");
  a.on_disk_full("chat.db", "");
  CHECK_FALSE(a.full());
}

TEST_CASE("storage alarm: a copy in progress counts once, and only until it is done") {
  // A 6 MiB copy of which 5 MiB are written (and measured as used): 1 MiB
  // more is to come. Once the node's snapshot reaches the copy's index the
  // copy is done, and the next one may start before the next measurement:
  // the whole 6 MiB are kept again.
  constexpr std::uint64_t quota = 24 * mib, write = 4608, steps = mib;
  actors::storage_alarm a(quota, write, steps);
  const std::uint64_t headroom = write * actors::storage_alarm::write_amplification + steps;
  auto u = usage(quota - headroom - 3 * mib, 6 * mib);
  u.copying_bytes = 5 * mib;
  u.copy_index = 1700;
  a.on_usage(u);
  CHECK(a.reserved_bytes() == mib);
  CHECK_FALSE(a.full());
  a.on_snapshot(1600);  // an older snapshot: the copy is still running
  CHECK(a.reserved_bytes() == mib);
  CHECK_FALSE(a.full());
  a.on_snapshot(1700);
  CHECK(a.reserved_bytes() == 6 * mib);
  CHECK(a.full());
  // The next measurement sees no copy: the whole copy stays reserved.
  a.on_usage(usage(quota - headroom - 7 * mib, 6 * mib));
  CHECK(a.reserved_bytes() == 6 * mib);
  CHECK_FALSE(a.full());
}
