// The long mode's report: a Markdown summary (history, faults applied,
// verdict) and a PNG of latency over time with the fault windows shaded,
// drawn with gnuplot (Debian gnuplot-nox).
//
// Owned by: the runner thread at the end of a run.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "faults/checker.h"
#include "faults/history.h"
#include "faults/run/nemesis.h"

namespace qc::faults {

/// What the report needs besides the history.
struct run_summary {
  std::uint64_t seed = 0;
  double minutes = 0;
  int nodes = 0, clients = 0;
  std::string started;           ///< wall-clock start, UTC
  double convergence_s = -1;     ///< time to identical replicas after healing
  std::vector<std::string> crashes;
  std::vector<std::string> final_members;
  std::string command;           ///< how to reproduce
};

/// Writes `dir`/REPORT.md and `dir`/latency.png (the plot's data files go to
/// `work_dir`). Returns false (and `err`) if something could not be written;
/// a missing gnuplot is noted in the report instead.
bool write_report(const std::filesystem::path& dir, const std::filesystem::path& work_dir, const run_summary& s,
                  const std::vector<op_record>& history, const std::vector<fault_window>& windows,
                  const std::vector<std::string>& nemesis_log, const verdict& v, std::string& err);

}  // namespace qc::faults
