// Mailboxes: how actors receive typed messages.
//
// Two kinds, one idea: a message is pushed, and the owner's handler later
// drains every message that has queued up, in order.
//  - loop_mailbox: the owner runs on the event-loop thread. push() is called
//    on the loop thread; draining is deferred, so an actor never re-enters
//    itself and a handler may push to any mailbox freely. Every loop
//    mailbox with mail is drained in one posted handler (the loop's turn,
//    see loop_turn), so the cascade one event sets off across the loop's
//    actors runs before the loop polls for I/O again.
//  - thread_mailbox: the owner runs on its own worker thread (blocking SQLite
//    work). push() may be called from any thread; the worker drains batches,
//    which is what turns queued writes into one group commit.
//    A handler that throws never reaches std::terminate: the mailbox logs
//    one line naming its actor, drops every later message (the actor's
//    state is no longer trusted) and calls the owner's failure handler,
//    which stops the node cleanly.
#pragma once

#include <pthread.h>

#include <functional>
#include <exception>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include "actors/wake_word.h"
#include "common/log.h"
#include "net/write_batch.h"

namespace qc::actors {

namespace detail {

/// A loop mailbox as the loop's turn sees it.
class drainable {
 public:
  /// Handles every message queued so far. Loop thread only.
  virtual void drain() = 0;

 protected:
  ~drainable() = default;
};

/// The loop's turn: the loop mailboxes that have mail, in the order they
/// got it, all drained within one posted handler. Messages that the drains
/// push join the same turn. Without it, each hop between loop actors was a
/// handler of its own, and Asio polls epoll (epoll_wait with a zero
/// timeout) between handlers: one system call per hop. A turn stops after
/// max_drains and posts the rest, so a long cascade still lets I/O in.
/// One per io_context (an Asio service); owned by it, used by the loop
/// mailboxes on the loop thread.
class loop_turn final : public boost::asio::execution_context::service {
 public:
  static constexpr std::size_t max_drains = 64;
  inline static boost::asio::execution_context::id id;

  explicit loop_turn(boost::asio::io_context& io)
      : boost::asio::execution_context::service(io), io_(io), writes_(boost::asio::use_service<net::write_batch>(io)) {}

  /// Drains `m` in this turn, or the next one if none is running.
  void schedule(drainable* m) {
    ready_.push_back(m);
    if (!posted_) post();
  }

  /// `m` is going away: never drain it. (It may be queued at most once.)
  void forget(const drainable* m) {
    for (std::size_t i = next_; i < ready_.size(); ++i)
      if (ready_[i] == m) ready_[i] = nullptr;
  }

 private:
  void shutdown() override {}

  void post() {
    posted_ = true;
    boost::asio::post(io_, [this] { run(); });
  }

  void run() {
    // Ends the turn also when a handler throws out of it, so that a loop
    // that goes on running is not left with a turn that never comes.
    struct end_of_turn {
      loop_turn& t;
      ~end_of_turn() { t.end_turn(); }
    } end{*this};
    // Client writes wait for the turn's end (net/write_batch.h).
    net::write_batch::scope writes{writes_};
    for (std::size_t n = 0; next_ < ready_.size() && n < max_drains; ++n)
      if (drainable* m = ready_[next_++]) m->drain();
  }

  void end_turn() {
    ready_.erase(ready_.begin(), ready_.begin() + static_cast<std::ptrdiff_t>(next_));
    next_ = 0;
    if (ready_.empty())
      posted_ = false;
    else
      post();  // the rest after the loop has polled for I/O
  }

  boost::asio::io_context& io_;
  net::write_batch& writes_;
  std::vector<drainable*> ready_;  ///< mailboxes with mail, from next_ on
  std::size_t next_ = 0;
  bool posted_ = false;
};

}  // namespace detail

/// Inbox of an actor that lives on the loop thread. Owned by that actor.
template <typename Msg>
class loop_mailbox final : private detail::drainable {
 public:
  using handler = std::function<void(Msg&&)>;

  /// `on_msg` runs on the loop thread for each message, in push order;
  /// `on_drained`, if set, once after each drain's last message (work
  /// that one message would repeat for every message of a batch).
  /// The mailbox must not outlive `io` (its turn belongs to `io`).
  loop_mailbox(boost::asio::io_context& io, handler on_msg, std::function<void()> on_drained = {})
      : turn_(boost::asio::use_service<detail::loop_turn>(io)),
        on_msg_(std::move(on_msg)),
        on_drained_(std::move(on_drained)) {}
  ~loop_mailbox() {
    if (scheduled_) turn_.forget(this);
  }
  loop_mailbox(const loop_mailbox&) = delete;
  loop_mailbox& operator=(const loop_mailbox&) = delete;

  /// Queues `m`. Loop thread only.
  void push(Msg m) {
    queue_.push_back(std::move(m));
    if (!scheduled_) {
      scheduled_ = true;
      turn_.schedule(this);
    }
  }

  /// Messages waiting (for metrics).
  std::size_t size() const { return queue_.size() + (draining_.size() - next_); }

 private:
  void drain() override {
    scheduled_ = false;
    // Handle what is queued now; later pushes schedule another drain. The
    // two vectors trade places and keep their capacity, so a steady flow
    // of messages allocates nothing.
    draining_.swap(queue_);
    for (next_ = 0; next_ < draining_.size();) on_msg_(std::move(draining_[next_++]));
    draining_.clear();
    next_ = 0;
    if (on_drained_) on_drained_();
  }

  detail::loop_turn& turn_;
  handler on_msg_;
  std::function<void()> on_drained_;
  std::vector<Msg> queue_;     ///< pushed since the last drain began
  std::vector<Msg> draining_;  ///< the batch being handled, from next_ on
  std::size_t next_ = 0;
  bool scheduled_ = false;
};

/// What a thread mailbox does after a handler threw (on its worker
/// thread, after the one log line): typically asks the node to stop.
using failure_handler = std::function<void(const std::string& what)>;

/// Inbox of an actor that owns a worker thread. push() is thread-safe.
/// Owned by that actor.
template <typename Msg>
class thread_mailbox {
 public:
  using batch_handler = std::function<void(std::vector<Msg>&&)>;

  /// Starts the worker; `on_batch` runs on it with every message queued
  /// since the previous batch (never empty). `name` names the actor in the
  /// line logged when `on_batch` throws; `on_failure` then runs once.
  thread_mailbox(std::string name, batch_handler on_batch, failure_handler on_failure)
      : name_(std::move(name)), on_batch_(std::move(on_batch)), on_failure_(std::move(on_failure)) {
    worker_ = std::thread([this] {
      // "qc-apply", "qc-storage": what top -H and perf show for the thread.
      ::pthread_setname_np(::pthread_self(), ("qc-" + name_).substr(0, 15).c_str());
      run();
    });
  }
  ~thread_mailbox() { stop(); }
  thread_mailbox(const thread_mailbox&) = delete;
  thread_mailbox& operator=(const thread_mailbox&) = delete;

  /// Queues `m` from any thread.
  void push(Msg m) {
    bool wake;
    {
      std::lock_guard lk(mu_);
      queue_.push_back(std::move(m));
      wake = std::exchange(asleep_, false);
    }
    if (wake) wake_.wake();  // a system call only when the worker sleeps
  }

  /// Finishes every queued message, then joins the worker. Idempotent.
  void stop() {
    bool wake;
    {
      std::lock_guard lk(mu_);
      if (stopping_) {
        if (worker_.joinable() && worker_.get_id() != std::this_thread::get_id()) worker_.join();
        return;
      }
      stopping_ = true;
      wake = std::exchange(asleep_, false);
    }
    if (wake) wake_.wake();
    if (worker_.joinable()) worker_.join();
  }

 private:
  void run() {
    bool failed = false;
    std::vector<Msg> batch;  // trades places with queue_: both keep their capacity
    for (;;) {
      batch.clear();
      {
        std::unique_lock lk(mu_);
        while (!stopping_ && queue_.empty()) {
          // Marked asleep and the epoch read under the lock: a push after
          // the unlock finds the mark and moves the epoch on (wake_word.h).
          asleep_ = true;
          const auto seen = wake_.epoch();
          lk.unlock();
          wake_.wait(seen);
          lk.lock();
        }
        if (queue_.empty()) return;  // stopping and drained
        batch.swap(queue_);
      }
      if (failed) continue;  // the node is stopping; the actor's state is not trusted
      std::string what;
      try {
        on_batch_(std::move(batch));
        continue;
      } catch (const std::exception& e) {
        what = e.what();
      } catch (...) {
        what = "unknown exception";
      }
      failed = true;
      log::error(name_, ": ", what, "; stopping the node");
      if (on_failure_) on_failure_(what);
    }
  }

  std::string name_;
  batch_handler on_batch_;
  failure_handler on_failure_;
  std::mutex mu_;
  detail::wake_word wake_;
  std::vector<Msg> queue_;  ///< guarded by mu_, as are the two flags
  bool stopping_ = false;
  bool asleep_ = false;  ///< the worker sleeps (or is about to) on wake_
  std::thread worker_;
};

}  // namespace qc::actors
