// Mailboxes: how actors receive typed messages.
//
// Two kinds, one idea: a message is pushed, and the owner's handler later
// drains every message that has queued up, in order.
//  - loop_mailbox: the owner runs on the event-loop thread. push() is called
//    on the loop thread; draining is posted, so an actor never re-enters
//    itself and a handler may push to any mailbox freely.
//  - thread_mailbox: the owner runs on its own worker thread (blocking SQLite
//    work). push() may be called from any thread; the worker drains batches,
//    which is what turns queued writes into one group commit.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

namespace qc::actors {

/// Inbox of an actor that lives on the loop thread. Owned by that actor.
template <typename Msg>
class loop_mailbox {
 public:
  using handler = std::function<void(Msg&&)>;

  /// `on_msg` runs on the loop thread for each message, in push order.
  loop_mailbox(boost::asio::io_context& io, handler on_msg) : io_(io), on_msg_(std::move(on_msg)) {}

  /// Queues `m`. Loop thread only.
  void push(Msg m) {
    queue_.push_back(std::move(m));
    if (!scheduled_) {
      scheduled_ = true;
      boost::asio::post(io_, [this] { drain(); });
    }
  }

  /// Messages waiting (for metrics).
  std::size_t size() const { return queue_.size(); }

 private:
  void drain() {
    scheduled_ = false;
    // Handle what is queued now; later pushes schedule another drain.
    std::size_t n = queue_.size();
    while (n-- > 0 && !queue_.empty()) {
      Msg m = std::move(queue_.front());
      queue_.pop_front();
      on_msg_(std::move(m));
    }
  }

  boost::asio::io_context& io_;
  handler on_msg_;
  std::deque<Msg> queue_;
  bool scheduled_ = false;
};

/// Inbox of an actor that owns a worker thread. push() is thread-safe.
template <typename Msg>
class thread_mailbox {
 public:
  using batch_handler = std::function<void(std::vector<Msg>&&)>;

  /// Starts the worker; `on_batch` runs on it with every message queued
  /// since the previous batch (never empty).
  explicit thread_mailbox(batch_handler on_batch) : on_batch_(std::move(on_batch)) {
    worker_ = std::thread([this] { run(); });
  }
  ~thread_mailbox() { stop(); }
  thread_mailbox(const thread_mailbox&) = delete;
  thread_mailbox& operator=(const thread_mailbox&) = delete;

  /// Queues `m` from any thread.
  void push(Msg m) {
    {
      std::lock_guard lk(mu_);
      queue_.push_back(std::move(m));
    }
    cv_.notify_one();
  }

  /// Finishes every queued message, then joins the worker. Idempotent.
  void stop() {
    {
      std::lock_guard lk(mu_);
      if (stopping_) {
        if (worker_.joinable() && worker_.get_id() != std::this_thread::get_id()) worker_.join();
        return;
      }
      stopping_ = true;
    }
    cv_.notify_one();
    if (worker_.joinable()) worker_.join();
  }

 private:
  void run() {
    for (;;) {
      std::vector<Msg> batch;
      {
        std::unique_lock lk(mu_);
        cv_.wait(lk, [this] { return stopping_ || !queue_.empty(); });
        if (queue_.empty()) return;  // stopping and drained
        batch.reserve(queue_.size());
        while (!queue_.empty()) {
          batch.push_back(std::move(queue_.front()));
          queue_.pop_front();
        }
      }
      on_batch_(std::move(batch));
    }
  }

  batch_handler on_batch_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Msg> queue_;
  bool stopping_ = false;
  std::thread worker_;
};

}  // namespace qc::actors
