// Login rate limiting: counts password attempts per key (a user name, or a
// client connection) in fixed windows, and refuses new attempts once a key
// has used up its budget until its window ends. Pure bookkeeping with the
// clock passed in, so it is deterministic under test.
//
// An attempt is charged when it starts, not when it fails: a client that
// pipelines many logins on one socket cannot slip past the limit while the
// slow password hashes are still running. A successful attempt gives the
// key its whole budget back (clear()).
//
// Owned by: the gateway actor (loop thread). Not thread-safe.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <unordered_map>

namespace qc::chat {

/// Attempt budgets per key and window. A limit of 0 turns that check off.
class login_limiter {
 public:
  using clock = std::chrono::steady_clock;

  /// At most `limit` attempts per key in each `window`. `max_keys` bounds
  /// memory: when the table is full, expired keys are dropped first and, if
  /// none are, the attempt is refused (fail closed) until one expires.
  login_limiter(std::size_t limit, std::chrono::milliseconds window, std::size_t max_keys = 100'000);

  /// Charges one attempt to `key` if its budget allows. Returns 0 on success,
  /// else how long until the key may try again (> 0).
  std::chrono::milliseconds try_acquire(const std::string& key, clock::time_point now);

  /// How long until `key` may try again (0 = it may now). Charges nothing.
  std::chrono::milliseconds retry_after(const std::string& key, clock::time_point now) const;

  /// Gives back one attempt (e.g. the other limiter refused it).
  void refund(const std::string& key);

  /// Forgets `key` (a successful login, or a closed connection).
  void clear(const std::string& key);

  /// Drops every key whose window has ended.
  void prune(clock::time_point now);

  /// Keys currently tracked (for tests and metrics).
  std::size_t size() const { return keys_.size(); }

  /// True when this limiter checks anything (limit > 0).
  bool enabled() const { return limit_ > 0; }

 private:
  struct entry {
    clock::time_point window_start;
    std::size_t attempts = 0;
  };
  std::size_t limit_;
  std::chrono::milliseconds window_;
  std::size_t max_keys_;
  std::unordered_map<std::string, entry> keys_;
};

}  // namespace qc::chat
