// Attempt rate limiting: counts attempts per key (a user name, a client
// connection, a source address) in fixed windows, and refuses new attempts
// once a key has used up its budget until its window ends. Pure bookkeeping
// with the clock passed in, so it is deterministic under test.
//
// An attempt is charged when it starts, not when it fails: a client that
// pipelines many logins on one socket cannot slip past the limit while the
// slow password hashes are still running. A successful attempt gives the
// key its whole budget back (clear()).
//
// Memory is bounded (`max_keys`), and the bound never refuses a key the
// limiter has not seen: when the table is full of live keys, the key whose
// window started longest ago *among those still under their limit* is
// forgotten to make room. Keys at their limit (the ones that lock someone
// out) are kept until their window ends. If every tracked key is at its
// limit, a new key's attempt is allowed without being tracked (counted in
// untracked()). Spraying user names therefore cannot lock anyone out; at
// worst it makes the limiter forget partial counts, which the per-connection
// and per-address budgets still bound.
//
// Every operation is O(1) amortized: keys sit in two lists (under the limit
// / at the limit) in the order they were put there, so keys whose window
// has surely ended are found at the fronts.
//
// Owned by: the gateway actor (loop thread). Not thread-safe.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <list>
#include <string>
#include <unordered_map>

namespace qc::chat {

/// Attempt budgets per key and window. A limit of 0 turns that check off.
/// Owned by the gateway actor (loop thread).
class login_limiter {
 public:
  using clock = std::chrono::steady_clock;

  /// At most `limit` attempts per key in each `window`; at most `max_keys`
  /// keys tracked (see the file comment for what happens beyond).
  login_limiter(std::size_t limit, std::chrono::milliseconds window, std::size_t max_keys = 100'000);

  /// Charges one attempt to `key` if its budget allows. Returns 0 on success,
  /// else how long until the key may try again (> 0).
  std::chrono::milliseconds try_acquire(const std::string& key, clock::time_point now);

  /// How long until `key` may try again (0 = it may now). Charges nothing.
  std::chrono::milliseconds retry_after(const std::string& key, clock::time_point now) const;

  /// Gives back one attempt (e.g. the other limiter refused it).
  void refund(const std::string& key, clock::time_point now);

  /// Forgets `key` (a successful login, or a closed connection).
  void clear(const std::string& key);

  /// Drops every key whose window has ended.
  void prune(clock::time_point now);

  /// Keys currently tracked (for tests and metrics).
  std::size_t size() const { return keys_.size(); }

  /// Keys forgotten early to make room for new ones (table full), since start.
  std::uint64_t evicted() const { return evicted_; }

  /// Attempts allowed without tracking because every tracked key was at its
  /// limit and the table was full, since start.
  std::uint64_t untracked() const { return untracked_; }

  /// True when this limiter checks anything (limit > 0).
  bool enabled() const { return limit_ > 0; }

 private:
  struct entry {
    clock::time_point window_start;
    clock::time_point listed_at;  ///< when it was put in its list (>= window_start)
    std::size_t attempts = 0;
    bool at_limit = false;                  ///< which list holds it
    std::list<std::string>::iterator pos;   ///< its place in that list
  };
  using map = std::unordered_map<std::string, entry>;

  /// Moves `it` to the back of the list its attempt count belongs in.
  void place(map::iterator it, clock::time_point now);
  void erase(map::iterator it);
  bool expired(const entry& e, clock::time_point now) const { return now >= e.window_start + window_; }

  std::size_t limit_;
  std::chrono::milliseconds window_;
  std::size_t max_keys_;
  map keys_;
  std::list<std::string> under_;  ///< keys below their limit, by listed_at
  std::list<std::string> at_;     ///< keys at their limit, by listed_at
  std::uint64_t evicted_ = 0;
  std::uint64_t untracked_ = 0;
};

}  // namespace qc::chat
