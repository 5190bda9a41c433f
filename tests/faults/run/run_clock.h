// The run's clock: monotonic nanoseconds since the run started.
//
// Owned by: shared read-only by every thread of the runner.
#pragma once

#include <chrono>
#include <cstdint>

namespace qc::faults {

/// Monotonic time since construction (the start of the run).
class run_clock {
 public:
  run_clock() : start_(std::chrono::steady_clock::now()) {}
  /// Nanoseconds since the start.
  std::int64_t now_ns() const {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - start_).count();
  }
  double now_s() const { return static_cast<double>(now_ns()) / 1e9; }

 private:
  std::chrono::steady_clock::time_point start_;
};

}  // namespace qc::faults
