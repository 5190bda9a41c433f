// splitmix64: a tiny deterministic generator seeded by its caller. The Raft
// core draws its randomized election timeouts from it (no clock, no global
// state), and the simulation drives its faults with it.
//
// Owned by: whoever holds the instance (one thread).
#pragma once

#include <cstdint>

namespace qc::common {

/// splitmix64 (Steele, Lea and Flood, 2014): the state `s` is the seed.
struct splitmix64 {
  std::uint64_t s;
  /// The next 64 random bits.
  std::uint64_t next() {
    std::uint64_t z = (s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
};

}  // namespace qc::common
