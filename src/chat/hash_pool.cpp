#include "chat/hash_pool.h"

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>

namespace qc::chat {

hash_pool::hash_pool(std::size_t threads, std::size_t max_pending) : max_pending_(std::max<std::size_t>(1, max_pending)) {
  threads = std::max<std::size_t>(1, threads);
  workers_.reserve(threads);
  for (std::size_t i = 0; i < threads; ++i) workers_.emplace_back([this] { work(); });
}

hash_pool::~hash_pool() {
  {
    std::lock_guard lk(mu_);
    stopping_ = true;
    queue_.clear();
  }
  cv_.notify_all();
  for (auto& t : workers_) t.join();
}

std::chrono::milliseconds hash_pool::try_submit(std::function<void()> job) {
  std::lock_guard lk(mu_);
  const std::size_t busy = queue_.size() + running_;
  if (busy < max_pending_ && !stopping_) {
    queue_.push_back(std::move(job));
    cv_.notify_one();
    return std::chrono::milliseconds(0);
  }
  ++refused_;
  // Until the queue is down to where this job would have fitted: every
  // job ahead of the last slot, spread over the workers.
  const double per_job = avg_job_ms_ > 0 ? avg_job_ms_ : 50.0;
  const double wait = per_job * static_cast<double>(busy - max_pending_ + 1) / static_cast<double>(workers_.size());
  return std::chrono::milliseconds(std::max<long>(1, std::lround(std::ceil(wait))));
}

std::size_t hash_pool::pending() const {
  std::lock_guard lk(mu_);
  return queue_.size() + running_;
}

std::size_t hash_pool::refused() const {
  std::lock_guard lk(mu_);
  return refused_;
}

void hash_pool::work() {
  // Below the loop and the storage threads: a burst of logins takes the
  // cores they leave, and heartbeats and fsyncs keep their turn.
  ::setpriority(PRIO_PROCESS, static_cast<id_t>(::gettid()), worker_nice);
  std::unique_lock lk(mu_);
  for (;;) {
    cv_.wait(lk, [this] { return stopping_ || !queue_.empty(); });
    if (stopping_) return;
    auto job = std::move(queue_.front());
    queue_.pop_front();
    ++running_;
    lk.unlock();
    const auto t0 = std::chrono::steady_clock::now();
    job();
    const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    lk.lock();
    --running_;
    avg_job_ms_ = avg_job_ms_ == 0 ? ms : 0.8 * avg_job_ms_ + 0.2 * ms;
  }
}

}  // namespace qc::chat
