// Worker threads for the slow password hashes (create_account, login,
// delete_account), with a bounded queue: a flood of password ops costs at
// most `max_pending` queued jobs and the workers' CPU, never unbounded
// memory or minutes of latency for everyone. A job the pool cannot take is
// refused at once with an estimate of when to retry (the gateway answers
// `rate_limited` with `retry_after_ms`).
//
// Owned by: the gateway actor. try_submit() is called from the loop thread;
// jobs run on the pool's own threads and post their results back.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace qc::chat {

/// A fixed set of worker threads with a bounded job queue. Owned by the
/// gateway actor; its jobs run on the pool's threads.
class hash_pool {
 public:
  /// `threads` workers (at least 1); at most `max_pending` jobs queued or
  /// running at once (at least 1).
  hash_pool(std::size_t threads, std::size_t max_pending);
  /// Stops and joins the workers; queued jobs that did not start are dropped.
  ~hash_pool();
  hash_pool(const hash_pool&) = delete;
  hash_pool& operator=(const hash_pool&) = delete;

  /// Queues `job`. Returns 0 if taken; otherwise the job is not run and the
  /// result is an estimate (> 0) of how long until a slot frees up, from
  /// the queue length and the recent job duration.
  std::chrono::milliseconds try_submit(std::function<void()> job);

  /// Jobs queued or running now.
  std::size_t pending() const;
  /// Jobs refused because the queue was full, since start.
  std::size_t refused() const;
  /// Worker count.
  std::size_t threads() const { return workers_.size(); }
  /// The workers' nice value (Linux: per thread), above the node's others.
  static constexpr int worker_nice = 5;

 private:
  void work();

  const std::size_t max_pending_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> queue_;
  std::size_t running_ = 0;
  std::size_t refused_ = 0;
  double avg_job_ms_ = 0;  ///< exponentially weighted mean of job durations
  bool stopping_ = false;
  std::vector<std::thread> workers_;
};

}  // namespace qc::chat
