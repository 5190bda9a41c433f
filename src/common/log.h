// One-line-per-event logging to stderr. Header-only, used by every module
// outside the Raft core (which never logs: it has no I/O).
//
// Owned by: any thread; a line is written with one fwrite, so concurrent
// lines never interleave.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <sstream>
#include <string>
#include <string_view>

namespace qc::log {

/// Severity, ordered.
enum class level : int { trace = 0, debug = 1, info = 2, warn = 3, error = 4 };

/// The process-wide threshold; set once by main() from --log-level.
inline std::atomic<int>& threshold() {
  static std::atomic<int> t{static_cast<int>(level::info)};
  return t;
}

/// The node id shown on every line; set once by main().
inline std::string& node_tag() {
  static std::string tag;
  return tag;
}

/// Parses "trace|debug|info|warn|error"; false if unknown.
inline bool parse_level(std::string_view s, level& out) {
  static constexpr std::string_view names[] = {"trace", "debug", "info", "warn", "error"};
  for (int i = 0; i < 5; ++i)
    if (s == names[i]) {
      out = static_cast<level>(i);
      return true;
    }
  return false;
}

/// True if a line at `l` would be written (to skip building it).
inline bool enabled(level l) { return static_cast<int>(l) >= threshold().load(std::memory_order_relaxed); }

/// Writes "2026-11-24T10:00:00.123Z INFO n1 <args...>\n" to stderr.
template <typename... Args>
void write(level l, const Args&... args) {
  if (!enabled(l)) return;
  static constexpr const char* tags[] = {"TRACE", "DEBUG", "INFO", "WARN", "ERROR"};
  auto now = std::chrono::system_clock::now();
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
  std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char stamp[64];
  std::snprintf(stamp, sizeof stamp, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(ms % 1000));
  std::ostringstream os;
  os << stamp << ' ' << tags[static_cast<int>(l)] << ' ' << node_tag() << ' ';
  (os << ... << args);
  os << '\n';
  const std::string line = os.str();
  std::fwrite(line.data(), 1, line.size(), stderr);
}

template <typename... Args> void trace(const Args&... a) { write(level::trace, a...); }
template <typename... Args> void debug(const Args&... a) { write(level::debug, a...); }
template <typename... Args> void info(const Args&... a) { write(level::info, a...); }
template <typename... Args> void warn(const Args&... a) { write(level::warn, a...); }
template <typename... Args> void error(const Args&... a) { write(level::error, a...); }

}  // namespace qc::log
