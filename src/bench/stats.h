// What a chatbench run measured: a latency histogram per op kind and in
// total, counts of ok replies, error codes and timeouts, and the wall time;
// rendered as a text table and as JSON.
//
// Owned by: the chatbench io thread while running; read by main afterwards.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include <boost/json/object.hpp>

#include "bench/histogram.h"

namespace qc::bench {

/// Results of one op kind (or of all of them).
struct op_stats {
  histogram latency;                          ///< ok replies only, microseconds
  std::uint64_t ok = 0;                       ///< replies with "ok": true
  std::uint64_t timeouts = 0;                 ///< no reply within the timeout
  std::map<std::string, std::uint64_t> errors;  ///< error code -> count (not timeouts)
  std::uint64_t error_count() const;
};

/// Everything a workload run measured.
struct run_stats {
  std::map<std::string, op_stats> by_op;  ///< "send", "history", "unread"
  op_stats total;
  double elapsed_s = 0;                   ///< measured window (after warm-up)

  /// Records one finished request: `code` is empty for ok, else the error code.
  void record(const std::string& op, std::uint64_t latency_us, const std::string& code);
  /// ok replies per second over the measured window.
  double throughput() const { return elapsed_s > 0 ? static_cast<double>(total.ok) / elapsed_s : 0; }
};

/// {"ok", "errors", "timeouts", "throughput", "latency_ms": {p50, p90, p99, p99_9, max, mean}}.
boost::json::object to_json(const op_stats& s, double elapsed_s);
/// The whole run: totals plus "by_op".
boost::json::object to_json(const run_stats& s);
/// A human-readable table, one line per op kind and a total.
std::string render(const run_stats& s);

}  // namespace qc::bench
