// The loop monitor: a timer due every `period` that measures how late the
// event loop ran it. Every actor on the loop (gateway, consensus,
// replicator, the network) shares one thread, so a handler that holds it
// delays heartbeats, acks and client replies alike; this is the one number
// that shows it. Each lateness goes to `observe` (GET /metrics
// qc_loop_lag_seconds); one over `report_over` is also logged at debug
// level with the time it was due.
//
// Owned by: the loop thread.
#pragma once

#include <chrono>
#include <functional>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include "common/log.h"

namespace qc::actors {

/// Measures event-loop lag. Construct, start(); stop() before destruction.
class loop_monitor {
 public:
  loop_monitor(boost::asio::io_context& io, std::chrono::milliseconds period, std::function<void(double ms)> observe,
               std::chrono::milliseconds report_over = std::chrono::milliseconds(200))
      : timer_(io), period_(period), report_over_(report_over), observe_(std::move(observe)) {}

  void start() { arm(std::chrono::steady_clock::now() + period_); }
  void stop() {
    stopped_ = true;
    timer_.cancel();
  }

 private:
  void arm(std::chrono::steady_clock::time_point due) {
    timer_.expires_at(due);
    timer_.async_wait([this, due](const boost::system::error_code& ec) {
      if (ec || stopped_) return;
      const auto now = std::chrono::steady_clock::now();
      const double late = std::chrono::duration<double, std::milli>(now - due).count();
      if (observe_) observe_(late);
      if (late > static_cast<double>(report_over_.count()))
        log::debug("loop: a timer ran ", static_cast<long long>(late), " ms late (the event loop was held)");
      arm(now + period_);
    });
  }

  boost::asio::steady_timer timer_;
  std::chrono::milliseconds period_;
  std::chrono::milliseconds report_over_;
  std::function<void(double)> observe_;
  bool stopped_ = false;
};

}  // namespace qc::actors
