#include "faults/run/report.h"

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <map>

namespace qc::faults {

namespace fs = std::filesystem;

namespace {

const char* kind_name(op_kind k) {
  switch (k) {
    case op_kind::send: return "send";
    case op_kind::read: return "history";
    case op_kind::mark_read: return "mark_read";
    case op_kind::del: return "delete";
  }
  return "?";
}

const char* fault_color(const std::string& kind) {
  if (kind == "kill") return "#e41a1c";
  if (kind == "pause") return "#ff7f00";
  if (kind == "membership") return "#4daf4a";
  return "#377eb8";  // network faults
}

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[static_cast<std::size_t>(p * static_cast<double>(v.size() - 1))];
}

bool draw(const fs::path& png, const fs::path& work, const std::vector<op_record>& h,
          const std::vector<fault_window>& windows, double end_s, std::string& note) {
  // One data file per series: ok calls by kind, then unknown outcomes.
  const op_kind kinds[] = {op_kind::send, op_kind::read, op_kind::mark_read, op_kind::del};
  std::map<std::string, std::ofstream> files;
  auto series = [&](const std::string& name) -> std::ofstream& {
    auto it = files.find(name);
    if (it == files.end()) it = files.emplace(name, std::ofstream(work / ("lat-" + name + ".dat"))).first;
    return it->second;
  };
  std::map<long, int> ok_per_s;
  for (const auto& op : h) {
    const double t = static_cast<double>(op.complete_ns) / 1e9;
    const double lat = static_cast<double>(op.complete_ns - op.invoke_ns) / 1e6;
    const std::string name = op.result == outcome::ok ? kind_name(op.kind) : op.result == outcome::unknown ? "unknown" : "failed";
    series(name) << t << ' ' << std::max(lat, 0.01) << '\n';
    if (op.result == outcome::ok) ++ok_per_s[static_cast<long>(t)];
  }
  {
    std::ofstream tp(work / "throughput.dat");
    for (long s = 0; s <= static_cast<long>(end_s); ++s) tp << s + 0.5 << ' ' << (ok_per_s.count(s) ? ok_per_s[s] : 0) << '\n';
  }
  for (auto& [n, f] : files) f.close();
  std::ofstream gp(work / "latency.gp");
  gp << "set terminal pngcairo size 1600,700 font 'sans,10' noenhanced\n"
     << "set output '" << png.string() << "'\n"
     << "set title 'Latency of every call (left, log scale) and acknowledged calls per second (right); "
        "shaded: red kill, orange pause, blue network, green membership'\n"
     << "set xlabel 'time since start (s)'\nset ylabel 'latency (ms)'\nset logscale y\n"
     << "set y2label 'ok calls / s'\nset y2tics\nset ytics nomirror\nset key outside right top\n"
     << "set xrange [0:" << end_s << "]\n";
  int obj = 1;
  for (const auto& w : windows)
    gp << "set object " << obj++ << " rect from " << w.start_s << ", graph 0 to " << w.end_s
       << ", graph 1 behind fc rgb '" << fault_color(w.kind) << "' fs transparent solid 0.18 noborder\n";
  gp << "plot ";
  bool first = true;
  for (auto k : kinds) {
    const std::string n = kind_name(k);
    if (!files.count(n)) continue;
    gp << (first ? "" : ", ") << "'" << (work / ("lat-" + n + ".dat")).string() << "' using 1:2 with points pt 7 ps 0.25 title '" << n << " ok'";
    first = false;
  }
  for (const char* n : {"unknown", "failed"}) {
    if (!files.count(n)) continue;
    gp << (first ? "" : ", ") << "'" << (work / (std::string("lat-") + n + ".dat")).string()
       << "' using 1:2 with points pt 2 ps 0.6 lc rgb '" << (n == std::string("unknown") ? "#000000" : "#a65628")
       << "' title '" << n << " outcome'";
    first = false;
  }
  gp << (first ? "" : ", ") << "'" << (work / "throughput.dat").string()
     << "' using 1:2 axes x1y2 with lines lw 1 lc rgb '#444444' title 'ok calls/s'\n";
  gp.close();
  const std::string cmd = "gnuplot '" + (work / "latency.gp").string() + "' 2>&1";
  FILE* p = ::popen(cmd.c_str(), "r");
  if (!p) {
    note = "gnuplot could not be started";
    return false;
  }
  char buf[256];
  std::string out;
  while (std::fgets(buf, sizeof buf, p)) out += buf;
  const int rc = ::pclose(p);
  if (rc != 0) {
    note = "gnuplot failed (install gnuplot-nox): " + out;
    return false;
  }
  return true;
}

}  // namespace

bool write_report(const fs::path& dir, const fs::path& work_dir, const run_summary& s, const std::vector<op_record>& h,
                  const std::vector<fault_window>& windows, const std::vector<std::string>& nemesis_log, const verdict& v,
                  std::string& err) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  double end_s = s.minutes * 60;
  for (const auto& op : h) end_s = std::max(end_s, static_cast<double>(op.complete_ns) / 1e9);
  std::string plot_note;
  const bool plotted = draw(dir / "latency.png", work_dir, h, windows, end_s, plot_note);

  std::ofstream md(dir / "REPORT.md");
  if (!md) {
    err = "cannot write " + (dir / "REPORT.md").string();
    return false;
  }
  md << "# Fault suite report\n\n"
     << "- started: " << s.started << " (UTC)\n"
     << "- length: " << s.minutes << " minutes of faults, " << s.nodes << " founding members, " << s.clients
     << " concurrent clients\n"
     << "- seed: " << s.seed << "\n"
     << "- reproduce: `" << s.command << "`\n\n";
  md << "## Verdict: " << (v.ok() && s.crashes.empty() ? "PASS" : "FAIL") << "\n\n```\n" << v.describe(10);
  md << "  node crashes: " << (s.crashes.empty() ? "none" : std::to_string(s.crashes.size())) << "\n";
  for (const auto& c : s.crashes) md << "    - " << c << "\n";
  md << "```\n\n";
  md << "Replicas identical " << (s.convergence_s >= 0 ? std::to_string(s.convergence_s) + " s after healing" : "NEVER")
     << "; final members:";
  for (const auto& m : s.final_members) md << " " << m;
  md << ".\n\n## History\n\n| call | ok | failed | unknown outcome | latency p50 / p99 / max of ok calls (ms) |\n|---|---|---|---|---|\n";
  for (auto k : {op_kind::send, op_kind::read, op_kind::mark_read, op_kind::del}) {
    std::size_t ok = 0, failed = 0, unknown = 0;
    std::vector<double> lat;
    for (const auto& op : h) {
      if (op.kind != k) continue;
      if (op.result == outcome::ok) {
        ++ok;
        lat.push_back(static_cast<double>(op.complete_ns - op.invoke_ns) / 1e6);
      } else if (op.result == outcome::fail) ++failed;
      else ++unknown;
    }
    char row[256];
    std::snprintf(row, sizeof row, "| %s | %zu | %zu | %zu | %.1f / %.1f / %.1f |\n", kind_name(k), ok, failed, unknown,
                  percentile(lat, 0.5), percentile(lat, 0.99), lat.empty() ? 0.0 : *std::max_element(lat.begin(), lat.end()));
    md << row;
  }
  std::map<std::string, std::size_t> errors;
  for (const auto& op : h)
    if (op.result != outcome::ok) ++errors[op.error];
  md << "\nErrors seen (unknown outcomes include timeouts and `unavailable`):\n\n";
  for (const auto& [e, n] : errors) md << "- `" << e << "`: " << n << "\n";
  md << "\nSends whose outcome was unknown to the client but which did take effect (once): " << v.unknown_applied
     << ". Messages in the final state: " << v.final_messages << ". Messages checked inside linearizable reads: "
     << v.reads_checked_messages << ".\n\n";
  md << "## Latency over time\n\n";
  if (plotted) md << "![latency](latency.png)\n\n";
  else md << "(no plot: " << plot_note << ")\n\n";
  std::map<std::string, int> per_kind;
  for (const auto& w : windows) ++per_kind[w.kind];
  md << "## Faults applied (" << windows.size() << ")\n\n";
  for (const auto& [k, n] : per_kind) md << "- " << k << ": " << n << "\n";
  md << "\n| start (s) | end (s) | fault | detail |\n|---|---|---|---|\n";
  for (const auto& w : windows) {
    char row[128];
    std::snprintf(row, sizeof row, "| %.1f | %.1f | ", w.start_s, w.end_s);
    md << row << w.kind << " | " << w.detail << " |\n";
  }
  md << "\n<details><summary>Nemesis log</summary>\n\n```\n";
  for (const auto& l : nemesis_log) md << l << "\n";
  md << "```\n</details>\n";
  return true;
}

}  // namespace qc::faults
