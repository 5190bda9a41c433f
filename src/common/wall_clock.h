// Wall-clock milliseconds since the epoch: the timestamps the leader fixes
// inside log entries (message ts, session creation and last use).
//
// Owned by: pure function, any thread.
#pragma once

#include <chrono>
#include <cstdint>

namespace qc::common {

/// Milliseconds since the Unix epoch (system_clock).
inline std::int64_t wall_clock_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace qc::common
