#include "bench/stats.h"

#include <cstdio>

namespace qc::bench {

namespace json = boost::json;

std::uint64_t op_stats::error_count() const {
  std::uint64_t n = 0;
  for (const auto& [code, c] : errors) n += c;
  return n;
}

void run_stats::record(const std::string& op, std::uint64_t latency_us, const std::string& code) {
  for (op_stats* s : {&by_op[op], &total}) {
    if (code.empty()) {
      ++s->ok;
      s->latency.record(latency_us);
    } else if (code == "timeout") {
      ++s->timeouts;
    } else {
      ++s->errors[code];
    }
  }
}

namespace {
double ms(std::uint64_t us) { return static_cast<double>(us) / 1000.0; }
}  // namespace

json::object to_json(const op_stats& s, double elapsed_s) {
  json::object o;
  o["ok"] = s.ok;
  json::object errs;
  for (const auto& [code, c] : s.errors) errs[code] = c;
  o["errors"] = std::move(errs);
  o["error_count"] = s.error_count();
  o["timeouts"] = s.timeouts;
  o["throughput"] = elapsed_s > 0 ? static_cast<double>(s.ok) / elapsed_s : 0.0;
  const auto& h = s.latency;
  o["latency_ms"] = json::object{{"p50", ms(h.quantile(0.50))}, {"p90", ms(h.quantile(0.90))},
                                 {"p99", ms(h.quantile(0.99))},  {"p99_9", ms(h.quantile(0.999))},
                                 {"max", ms(h.max())},           {"min", ms(h.min())},
                                 {"mean", h.mean() / 1000.0}};
  return o;
}

json::object to_json(const run_stats& s) {
  json::object o = to_json(s.total, s.elapsed_s);
  o["elapsed_s"] = s.elapsed_s;
  json::object by;
  for (const auto& [op, st] : s.by_op) by[op] = to_json(st, s.elapsed_s);
  o["by_op"] = std::move(by);
  return o;
}

std::string render(const run_stats& s) {
  std::string out;
  char line[256];
  std::snprintf(line, sizeof line, "%-8s %9s %10s %8s %8s %8s %8s %9s %7s %8s\n", "op", "ok", "ops/s", "p50 ms",
                "p90 ms", "p99 ms", "p99.9", "max ms", "errors", "timeouts");
  out += line;
  auto row = [&](const std::string& name, const op_stats& st) {
    const auto& h = st.latency;
    std::snprintf(line, sizeof line, "%-8s %9llu %10.1f %8.2f %8.2f %8.2f %8.2f %9.2f %7llu %8llu\n", name.c_str(),
                  static_cast<unsigned long long>(st.ok), s.elapsed_s > 0 ? static_cast<double>(st.ok) / s.elapsed_s : 0.0,
                  ms(h.quantile(0.5)), ms(h.quantile(0.9)), ms(h.quantile(0.99)), ms(h.quantile(0.999)), ms(h.max()),
                  static_cast<unsigned long long>(st.error_count()), static_cast<unsigned long long>(st.timeouts));
    out += line;
  };
  for (const auto& [op, st] : s.by_op) row(op, st);
  if (s.by_op.size() != 1) row("total", s.total);
  for (const auto& [code, c] : s.total.errors) {
    std::snprintf(line, sizeof line, "  error %s: %llu\n", code.c_str(), static_cast<unsigned long long>(c));
    out += line;
  }
  return out;
}

}  // namespace qc::bench
