// chat::login_limiter: budgets per key, window expiry, refunds, clears,
// the memory bound (which never locks out a key it has not seen), and the
// "0 = off" setting. The clock is passed in.
#include <doctest/doctest.h>

#include "chat/login_limiter.h"

using qc::chat::login_limiter;
using namespace std::chrono_literals;

TEST_CASE("login_limiter: a key gets `limit` attempts per window, then a wait until the window ends") {
  login_limiter l(3, 60s);
  const auto t0 = login_limiter::clock::time_point{} + 1h;
  for (int i = 0; i < 3; ++i) CHECK(l.try_acquire("alice", t0 + std::chrono::seconds(i)) == 0ms);
  CHECK(l.try_acquire("alice", t0 + 10s) == 50s);
  CHECK(l.retry_after("alice", t0 + 10s) == 50s);
  CHECK(l.try_acquire("alice", t0 + 59s) == 1s);
  // Other keys are independent.
  CHECK(l.try_acquire("bob", t0 + 10s) == 0ms);
  // The window ends: a fresh budget.
  CHECK(l.retry_after("alice", t0 + 60s) == 0ms);
  for (int i = 0; i < 3; ++i) CHECK(l.try_acquire("alice", t0 + 60s) == 0ms);
  CHECK(l.try_acquire("alice", t0 + 60s) > 0ms);
}

TEST_CASE("login_limiter: refund gives one attempt back, clear forgets the key") {
  login_limiter l(2, 10s);
  const auto t0 = login_limiter::clock::time_point{} + 1h;
  CHECK(l.try_acquire("k", t0) == 0ms);
  CHECK(l.try_acquire("k", t0) == 0ms);
  CHECK(l.try_acquire("k", t0) > 0ms);
  l.refund("k", t0);
  CHECK(l.try_acquire("k", t0) == 0ms);
  CHECK(l.try_acquire("k", t0) > 0ms);
  l.clear("k");
  CHECK(l.size() == 0);
  CHECK(l.try_acquire("k", t0) == 0ms);
  l.refund("absent", t0);  // no effect, no crash
  CHECK(l.size() == 1);
}

TEST_CASE("login_limiter: limit 0 is off") {
  login_limiter l(0, 10s);
  const auto t0 = login_limiter::clock::time_point{} + 1h;
  CHECK_FALSE(l.enabled());
  for (int i = 0; i < 1000; ++i) CHECK(l.try_acquire("k", t0) == 0ms);
  CHECK(l.size() == 0);
}

TEST_CASE("login_limiter: a full table makes room from keys under their limit, never refuses a new key") {
  login_limiter l(2, 10s, 3);
  const auto t0 = login_limiter::clock::time_point{} + 1h;
  CHECK(l.try_acquire("a", t0) == 0ms);
  CHECK(l.try_acquire("b", t0 + 1s) == 0ms);
  CHECK(l.try_acquire("c", t0 + 2s) == 0ms);
  CHECK(l.try_acquire("d", t0 + 3s) == 0ms);  // full: "a" (oldest under its limit) is forgotten
  CHECK(l.size() == 3);
  CHECK(l.evicted() == 1);
  l.prune(t0 + 100s);
  CHECK(l.size() == 0);
}

TEST_CASE("login_limiter: spraying new names neither unlocks a locked key nor locks out anyone else") {
  login_limiter l(3, 60s, 100);
  const auto t0 = login_limiter::clock::time_point{} + 1h;
  // The victim's name is attacked until it is locked.
  for (int i = 0; i < 3; ++i) CHECK(l.try_acquire("victim", t0) == 0ms);
  CHECK(l.try_acquire("victim", t0) > 0ms);
  // 10,000 sprayed names in the same window: far more than the table holds.
  for (int i = 0; i < 10'000; ++i) CHECK(l.try_acquire("spray" + std::to_string(i), t0 + 1s) == 0ms);
  CHECK(l.size() <= 100);
  // The locked key stays locked until its window ends...
  CHECK(l.try_acquire("victim", t0 + 2s) > 0ms);
  // ...and a user the limiter never saw still gets in.
  CHECK(l.try_acquire("alice", t0 + 2s) == 0ms);
  CHECK(l.retry_after("victim", t0 + 60s) == 0ms);
}

TEST_CASE("login_limiter: a table full of locked keys lets new keys through untracked") {
  login_limiter l(1, 60s, 2);
  const auto t0 = login_limiter::clock::time_point{} + 1h;
  CHECK(l.try_acquire("x", t0) == 0ms);
  CHECK(l.try_acquire("y", t0) == 0ms);  // both now at their limit of 1
  CHECK(l.try_acquire("x", t0) > 0ms);
  CHECK(l.try_acquire("new", t0 + 1s) == 0ms);
  CHECK(l.untracked() == 1);
  CHECK(l.try_acquire("y", t0 + 1s) > 0ms);  // still locked
  // Once a window ends its key is pruned and new keys are tracked again.
  CHECK(l.try_acquire("z", t0 + 61s) == 0ms);
  CHECK(l.try_acquire("z", t0 + 61s) > 0ms);
}

TEST_CASE("login_limiter: a refund moves a locked key back under its limit") {
  login_limiter l(1, 60s, 2);
  const auto t0 = login_limiter::clock::time_point{} + 1h;
  CHECK(l.try_acquire("x", t0) == 0ms);
  l.refund("x", t0);
  CHECK(l.try_acquire("x", t0) == 0ms);
  CHECK(l.try_acquire("x", t0) > 0ms);
}
