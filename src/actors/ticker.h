// A timer actor: fires a message at a fixed period. The node runs two of
// them, the election timer (election ticks) and the heartbeat timer
// (heartbeat ticks); each only sends its tick to the consensus actor, which
// keeps all timing state inside the core. A ticker holds no copy of term,
// vote or role.
//
// Owned by: the loop thread.
#pragma once

#include <chrono>
#include <functional>
#include <string>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

namespace qc::actors {

/// Periodic tick source. Catches up after a stall without bursting: a late
/// wake-up fires once and re-arms from now.
class ticker {
 public:
  ticker(boost::asio::io_context& io, std::string name, std::chrono::milliseconds period,
         std::function<void()> fire)
      : timer_(io), name_(std::move(name)), period_(period), fire_(std::move(fire)) {}

  /// Starts ticking. Loop thread only.
  void start() {
    next_ = std::chrono::steady_clock::now() + period_;
    arm();
  }
  /// Stops ticking. Loop thread only.
  void stop() {
    stopped_ = true;
    timer_.cancel();
  }

 private:
  void arm() {
    timer_.expires_at(next_);
    timer_.async_wait([this](const boost::system::error_code& ec) {
      if (ec || stopped_) return;
      fire_();
      const auto now = std::chrono::steady_clock::now();
      next_ += period_;
      if (next_ < now) next_ = now + period_;
      arm();
    });
  }

  boost::asio::steady_timer timer_;
  std::string name_;
  std::chrono::milliseconds period_;
  std::function<void()> fire_;
  std::chrono::steady_clock::time_point next_;
  bool stopped_ = false;
};

}  // namespace qc::actors
