// Counters and a latency histogram for GET /metrics (Prometheus text).
//
// Owned by: the gateway actor (loop thread).
#pragma once

#include <array>
#include <cstdint>
#include <initializer_list>
#include <sstream>
#include <string>
#include <vector>

namespace qc::actors {

/// A fixed-bucket latency histogram in milliseconds (Prometheus style:
/// cumulative buckets, sum and count).
class latency_histogram {
 public:
  /// Request latencies: sub-millisecond to a second.
  static constexpr std::array<double, 14> default_bounds_ms = {0.5, 1, 2, 3, 5, 7.5, 10, 15, 25, 50, 100, 250, 500, 1000};
  /// Stalls (a late event loop, a slow fsync): a few ms to seconds.
  static constexpr std::array<double, 12> stall_bounds_ms = {1, 5, 10, 25, 50, 100, 200, 300, 500, 1000, 2000, 5000};

  latency_histogram() : bounds_ms_(default_bounds_ms.begin(), default_bounds_ms.end()), buckets_(bounds_ms_.size()) {}
  template <std::size_t N>
  explicit latency_histogram(const std::array<double, N>& bounds)
      : bounds_ms_(bounds.begin(), bounds.end()), buckets_(bounds_ms_.size()) {}

  /// Records one observation. Loop thread.
  void observe(double ms) {
    for (std::size_t i = 0; i < bounds_ms_.size(); ++i)
      if (ms <= bounds_ms_[i]) ++buckets_[i];
    ++count_;
    sum_ += ms;
    if (ms > max_) max_ = ms;
  }

  /// Observations so far, and the largest (ms).
  std::uint64_t count() const { return count_; }
  double max_ms() const { return max_; }

  /// Appends the histogram's lines for metric `name` to `os`.
  void render(std::ostringstream& os, const std::string& name, const std::string& help) const {
    os << "# HELP " << name << ' ' << help << "\n# TYPE " << name << " histogram\n";
    for (std::size_t i = 0; i < bounds_ms_.size(); ++i)
      os << name << "_bucket{le=\"" << bounds_ms_[i] / 1000.0 << "\"} " << buckets_[i] << '\n';
    os << name << "_bucket{le=\"+Inf\"} " << count_ << '\n';
    os << name << "_sum " << sum_ / 1000.0 << '\n' << name << "_count " << count_ << '\n';
  }

 private:
  std::vector<double> bounds_ms_;
  std::vector<std::uint64_t> buckets_;
  std::uint64_t count_ = 0;
  double sum_ = 0;
  double max_ = 0;
};

/// Everything the node counts.
struct node_metrics {
  std::uint64_t requests = 0;
  std::uint64_t request_errors = 0;
  std::uint64_t proposals = 0;          ///< proposals this node made as leader
  std::uint64_t proposals_forwarded = 0;
  std::uint64_t proposals_failed = 0;   ///< timed out or lost
  std::uint64_t reads_linearizable = 0;
  std::uint64_t reads_local = 0;
  /// Reads answered on the event loop from chat.db's committed state
  /// (actors/gateway_reads.cpp); the rest ran on the apply thread.
  std::uint64_t reads_on_loop = 0;
  std::uint64_t events_sent = 0;
  std::uint64_t clients_dropped = 0;    ///< slow readers disconnected
  std::uint64_t logins_rate_limited = 0;  ///< password attempts refused by the login rate limits
  std::uint64_t writes_storage_full = 0;  ///< writes refused with storage_full
  latency_histogram commit_latency;     ///< client write: received -> applied here
  /// How late the event loop ran a timer due every loop_monitor period.
  latency_histogram loop_lag{latency_histogram::stall_bounds_ms};
  /// One Raft log record: write + fdatasync on the storage thread.
  latency_histogram log_persist{latency_histogram::stall_bounds_ms};
  /// Ready batch handed to the storage actor -> its ack back on the loop.
  latency_histogram persist_round_trip{latency_histogram::stall_bounds_ms};
};

}  // namespace qc::actors
