// An HDR-style latency histogram: log-linear buckets (128 sub-buckets per
// power of two, < 0.8 % relative error) over microseconds, fixed memory,
// O(1) record, mergeable across threads.
//
// Owned by: one chatbench worker thread; merged by the main thread at the end.
#pragma once

#include <cstdint>
#include <vector>

namespace qc::bench {

/// Latency histogram in microseconds. Not thread-safe; one per worker.
class histogram {
 public:
  histogram();
  /// Records one value (microseconds; values beyond ~2^40 us are clamped).
  void record(std::uint64_t us);
  /// Adds every count of `o` to this histogram.
  void merge(const histogram& o);
  std::uint64_t count() const { return count_; }
  std::uint64_t max() const { return max_; }
  std::uint64_t min() const { return count_ ? min_ : 0; }
  double mean() const { return count_ ? static_cast<double>(sum_) / static_cast<double>(count_) : 0.0; }
  /// The value at quantile q in [0, 1] (upper edge of its bucket, capped at max).
  std::uint64_t quantile(double q) const;

 private:
  static constexpr int sub_bits_ = 7;  ///< 128 linear sub-buckets per octave
  static std::size_t index_of(std::uint64_t v);
  static std::uint64_t upper_of(std::size_t idx);

  std::vector<std::uint64_t> counts_;
  std::uint64_t count_ = 0;
  std::uint64_t sum_ = 0;
  std::uint64_t min_ = UINT64_MAX;
  std::uint64_t max_ = 0;
};

}  // namespace qc::bench
