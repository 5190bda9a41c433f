// chatbench's histogram: quantiles within the promised relative error,
// exact extremes, merging.
#include <doctest/doctest.h>

#include <cmath>

#include "bench/histogram.h"

using qc::bench::histogram;

TEST_CASE("histogram: quantiles of 1..100000 within 1 %, extremes exact") {
  histogram h;
  for (std::uint64_t v = 1; v <= 100000; ++v) h.record(v);
  CHECK(h.count() == 100000);
  CHECK(h.min() == 1);
  CHECK(h.max() == 100000);
  CHECK(std::abs(h.mean() - 50000.5) < 1e-6);
  for (double q : {0.5, 0.9, 0.99, 0.999}) {
    const double want = q * 100000;
    const double got = static_cast<double>(h.quantile(q));
    CHECK(got >= want);  // the upper edge of the bucket holding the rank
    CHECK(got <= want * 1.01);
  }
  CHECK(h.quantile(1.0) == 100000);
}

TEST_CASE("histogram: small values are exact; empty is zero; merge adds") {
  histogram a, b, e;
  CHECK(e.quantile(0.5) == 0);
  CHECK(e.max() == 0);
  for (int i = 0; i < 10; ++i) a.record(7);
  for (int i = 0; i < 30; ++i) b.record(100);
  CHECK(a.quantile(0.99) == 7);
  a.merge(b);
  CHECK(a.count() == 40);
  CHECK(a.min() == 7);
  CHECK(a.quantile(0.25) == 7);
  CHECK(a.quantile(0.26) == 100);
  CHECK(a.max() == 100);
}

TEST_CASE("histogram: huge values are clamped, not lost") {
  histogram h;
  h.record(std::uint64_t{1} << 50);
  CHECK(h.count() == 1);
  CHECK(h.max() == (std::uint64_t{1} << 40) - 1);
  CHECK(h.quantile(0.5) == h.max());
}
