#include "bench/histogram.h"

#include <algorithm>
#include <bit>
#include <cmath>

namespace qc::bench {

namespace {
constexpr int max_bits = 40;  // 2^40 us ~ 12.7 days
}

histogram::histogram() : counts_(static_cast<std::size_t>((max_bits - sub_bits_ + 1) << sub_bits_), 0) {}

std::size_t histogram::index_of(std::uint64_t v) {
  v = std::min<std::uint64_t>(v, (std::uint64_t{1} << max_bits) - 1);
  if (v < (std::uint64_t{1} << sub_bits_)) return static_cast<std::size_t>(v);
  const int msb = 63 - std::countl_zero(v);  // >= sub_bits_
  const int shift = msb - sub_bits_;         // >= 0
  // Octave `shift + 1` holds [2^msb, 2^(msb+1)) in 128 steps of 2^shift.
  const std::uint64_t sub = (v >> shift) - (std::uint64_t{1} << sub_bits_);
  return static_cast<std::size_t>(((shift + 1) << sub_bits_) + sub);
}

std::uint64_t histogram::upper_of(std::size_t idx) {
  const std::size_t octave = idx >> sub_bits_;
  const std::uint64_t sub = idx & ((std::size_t{1} << sub_bits_) - 1);
  if (octave == 0) return sub;
  const int shift = static_cast<int>(octave) - 1;
  return (((std::uint64_t{1} << sub_bits_) + sub + 1) << shift) - 1;
}

void histogram::record(std::uint64_t us) {
  us = std::min<std::uint64_t>(us, (std::uint64_t{1} << max_bits) - 1);  // clamp everything alike
  ++counts_[index_of(us)];
  ++count_;
  sum_ += us;
  min_ = std::min(min_, us);
  max_ = std::max(max_, us);
}

void histogram::merge(const histogram& o) {
  for (std::size_t i = 0; i < counts_.size(); ++i) counts_[i] += o.counts_[i];
  count_ += o.count_;
  sum_ += o.sum_;
  min_ = std::min(min_, o.min_);
  max_ = std::max(max_, o.max_);
}

std::uint64_t histogram::quantile(double q) const {
  if (count_ == 0) return 0;
  q = std::clamp(q, 0.0, 1.0);
  const auto rank = std::max<std::uint64_t>(1, static_cast<std::uint64_t>(std::ceil(q * static_cast<double>(count_))));
  std::uint64_t seen = 0;
  for (std::size_t i = 0; i < counts_.size(); ++i) {
    seen += counts_[i];
    if (seen >= rank) return std::min(upper_of(i), max_);
  }
  return max_;
}

}  // namespace qc::bench
