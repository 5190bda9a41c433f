// A futex word that one worker thread sleeps on and any thread wakes.
//
// Why not std::condition_variable: glibc's pthread_cond_wait takes the
// mutex back in its "contended" state, whatever happened, so the unlock
// that follows every wake-up is a futex(FUTEX_WAKE) system call with no
// one to wake. Measured on the storage and apply threads of a 3-member
// cluster under 64 writing clients, that was a third of all the futex
// calls (0.33 per write). Here the caller keeps its own lock for its own
// state and uses this word only to sleep and to be woken.
//
// The protocol (thread_mailbox): the sleeper, holding its lock, marks
// itself asleep and reads epoch(), drops the lock and calls wait() with
// what it read. A waker that, under the same lock, finds it marked asleep
// clears the mark and calls wake() after dropping the lock. wake() moves
// the epoch on before it wakes, so a wait() that comes after it returns
// at once: no wake-up is lost between the unlock and the sleep.
//
// Owned by: the thread_mailbox that holds it (the worker sleeps; the
// pushing threads wake).
#pragma once

#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>

namespace qc::actors::detail {

/// One sleeper's futex word (see the file comment). Thread-safe.
class wake_word {
 public:
  /// The epoch to pass to wait(); read before the sleeper drops its lock.
  std::uint32_t epoch() const { return word_.load(std::memory_order_acquire); }

  /// Sleeps until the epoch is no longer `seen` (returns at once if it
  /// already moved on). Sleeper only.
  void wait(std::uint32_t seen) {
    // The kernel compares the word with `seen` atomically with going to
    // sleep; a signal or a spurious return just looks again.
    while (word_.load(std::memory_order_acquire) == seen)
      ::syscall(SYS_futex, raw(), FUTEX_WAIT_PRIVATE, seen, nullptr, nullptr, 0);
  }

  /// Moves the epoch on and wakes the sleeper. Any thread.
  void wake() {
    word_.fetch_add(1, std::memory_order_release);
    ::syscall(SYS_futex, raw(), FUTEX_WAKE_PRIVATE, 1, nullptr, nullptr, 0);
  }

 private:
  std::uint32_t* raw() { return reinterpret_cast<std::uint32_t*>(&word_); }

  static_assert(sizeof(std::atomic<std::uint32_t>) == sizeof(std::uint32_t) &&
                std::atomic<std::uint32_t>::is_always_lock_free);
  std::atomic<std::uint32_t> word_{0};
};

}  // namespace qc::actors::detail
