// Counters and a latency histogram for GET /metrics (Prometheus text).
//
// Owned by: the gateway actor (loop thread).
#pragma once

#include <array>
#include <cstdint>
#include <sstream>
#include <string>

namespace qc::actors {

/// A fixed-bucket latency histogram in milliseconds (Prometheus style:
/// cumulative buckets, sum and count).
class latency_histogram {
 public:
  static constexpr std::array<double, 14> bounds_ms = {0.5, 1, 2, 3, 5, 7.5, 10, 15, 25, 50, 100, 250, 500, 1000};

  /// Records one observation. Loop thread.
  void observe(double ms) {
    for (std::size_t i = 0; i < bounds_ms.size(); ++i)
      if (ms <= bounds_ms[i]) ++buckets_[i];
    ++count_;
    sum_ += ms;
  }

  /// Appends the histogram's lines for metric `name` to `os`.
  void render(std::ostringstream& os, const std::string& name, const std::string& help) const {
    os << "# HELP " << name << ' ' << help << "\n# TYPE " << name << " histogram\n";
    for (std::size_t i = 0; i < bounds_ms.size(); ++i)
      os << name << "_bucket{le=\"" << bounds_ms[i] / 1000.0 << "\"} " << buckets_[i] << '\n';
    os << name << "_bucket{le=\"+Inf\"} " << count_ << '\n';
    os << name << "_sum " << sum_ / 1000.0 << '\n' << name << "_count " << count_ << '\n';
  }

 private:
  std::array<std::uint64_t, bounds_ms.size()> buckets_{};
  std::uint64_t count_ = 0;
  double sum_ = 0;
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
  std::uint64_t events_sent = 0;
  std::uint64_t clients_dropped = 0;    ///< slow readers disconnected
  std::uint64_t logins_rate_limited = 0;  ///< password attempts refused by the login rate limits
  std::uint64_t writes_storage_full = 0;  ///< writes refused with storage_full
  latency_histogram commit_latency;     ///< client write: received -> applied here
};

}  // namespace qc::actors
