// chat::hash_pool: a bounded queue in front of worker threads; a full
// queue refuses at once with an estimate instead of queueing forever.
#include <doctest/doctest.h>

#include <atomic>
#include <future>
#include <thread>

#include "chat/hash_pool.h"

using qc::chat::hash_pool;
using namespace std::chrono_literals;

TEST_CASE("hash_pool: at most max_pending jobs queued or running; the rest are refused with a wait") {
  std::promise<void> gate;
  std::shared_future<void> open = gate.get_future().share();
  std::atomic<int> ran{0};
  {
    hash_pool pool(1, 2);
    auto job = [&] {
      open.wait();
      ++ran;
    };
    CHECK(pool.try_submit(job) == 0ms);
    CHECK(pool.try_submit(job) == 0ms);
    const auto wait = pool.try_submit(job);
    CHECK(wait > 0ms);
    CHECK(pool.refused() == 1);
    CHECK(pool.pending() == 2);
    gate.set_value();
    for (int i = 0; i < 500 && pool.pending() > 0; ++i) std::this_thread::sleep_for(2ms);
    CHECK(pool.pending() == 0);
    CHECK(ran == 2);
    // Room again once the jobs are done.
    CHECK(pool.try_submit(job) == 0ms);
    for (int i = 0; i < 500 && pool.pending() > 0; ++i) std::this_thread::sleep_for(2ms);
  }
  CHECK(ran == 3);
}

TEST_CASE("hash_pool: the refusal estimate grows with the measured job time") {
  std::promise<void> gate;
  std::shared_future<void> open = gate.get_future().share();
  // Declared after the gate, so it is destroyed first: its worker, still in
  // the gated job at the end of the test, is joined before the gate goes.
  hash_pool pool(1, 1);
  // Teach it a job time of ~40 ms.
  CHECK(pool.try_submit([] { std::this_thread::sleep_for(40ms); }) == 0ms);
  for (int i = 0; i < 500 && pool.pending() > 0; ++i) std::this_thread::sleep_for(2ms);
  CHECK(pool.try_submit([&] { open.wait(); }) == 0ms);
  const auto wait = pool.try_submit([] {});
  CHECK(wait >= 30ms);
  CHECK(wait <= 1000ms);
  gate.set_value();
}
