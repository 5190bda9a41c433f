// A small deterministic generator for randomized tests (xorshift64): the
// same seed gives the same cases on every run and machine.
//
// Owned by: the test thread.
#pragma once

#include <cstdint>

namespace qc::test {

/// xorshift64; `x` is the seed (not 0).
struct xorshift {
  std::uint64_t x;
  std::uint64_t next() {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return x;
  }
  /// Uniform enough in [0, n) for test cases.
  std::uint64_t below(std::uint64_t n) { return next() % n; }
};

}  // namespace qc::test
