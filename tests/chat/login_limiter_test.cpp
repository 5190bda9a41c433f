// chat::login_limiter: budgets per key, window expiry, refunds, clears,
// the memory bound, and the "0 = off" setting. The clock is passed in.
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
  l.refund("k");
  CHECK(l.try_acquire("k", t0) == 0ms);
  CHECK(l.try_acquire("k", t0) > 0ms);
  l.clear("k");
  CHECK(l.size() == 0);
  CHECK(l.try_acquire("k", t0) == 0ms);
  l.refund("absent");  // no effect, no crash
  CHECK(l.size() == 1);
}

TEST_CASE("login_limiter: limit 0 is off") {
  login_limiter l(0, 10s);
  const auto t0 = login_limiter::clock::time_point{} + 1h;
  CHECK_FALSE(l.enabled());
  for (int i = 0; i < 1000; ++i) CHECK(l.try_acquire("k", t0) == 0ms);
  CHECK(l.size() == 0);
}

TEST_CASE("login_limiter: prune drops expired keys; a full table fails closed") {
  login_limiter l(5, 10s, 3);
  const auto t0 = login_limiter::clock::time_point{} + 1h;
  CHECK(l.try_acquire("a", t0) == 0ms);
  CHECK(l.try_acquire("b", t0 + 1s) == 0ms);
  CHECK(l.try_acquire("c", t0 + 2s) == 0ms);
  CHECK(l.try_acquire("d", t0 + 3s) > 0ms);  // full, nothing expired yet
  CHECK(l.try_acquire("a", t0 + 3s) == 0ms);  // known keys still work
  CHECK(l.try_acquire("d", t0 + 10s) == 0ms); // "a" expired and made room
  l.prune(t0 + 100s);
  CHECK(l.size() == 0);
}
