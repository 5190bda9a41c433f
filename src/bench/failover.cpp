#include "bench/failover.h"

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <thread>

#include <boost/json.hpp>

#include "ops/cluster_probe.h"

namespace qc::bench {

namespace json = boost::json;

namespace {

std::string substitute(std::string cmd, const std::string& id) {
  for (std::size_t p; (p = cmd.find("{id}")) != std::string::npos;) cmd.replace(p, 4, id);
  return cmd;
}

/// The leader id that some live node reports, or empty.
std::string find_leader(const std::vector<std::string>& nodes, const std::string& not_this = "") {
  for (const auto& n : nodes) {
    auto r = ops::http_get(n, "/status", std::chrono::milliseconds(300));
    if (!r || r->first != 200) continue;
    json::error_code ec;
    auto v = json::parse(r->second, ec);
    if (ec || !v.is_object()) continue;
    auto* l = v.as_object().if_contains("leader");
    if (l && l->is_string() && !l->as_string().empty() && std::string(l->as_string()) != not_this)
      return std::string(l->as_string());
  }
  return "";
}

bool all_healthy(const std::vector<std::string>& nodes) {
  for (const auto& n : nodes) {
    auto r = ops::http_get(n, "/health", std::chrono::milliseconds(300));
    if (!r || r->first != 200) return false;
  }
  return true;
}

double median(std::vector<double> v) {
  if (v.empty()) return -1;
  std::sort(v.begin(), v.end());
  return v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
}

}  // namespace

failover_result run_failover(boost::asio::io_context& io, std::vector<session>& sessions, const workload_options& w,
                             const failover_options& f) {
  failover_result res;
  std::atomic<bool> done{false};
  std::mutex mu;
  std::vector<std::pair<std::string, clock::time_point>> kill_times;
  std::string killer_error;
  const auto t0 = clock::now();

  std::thread killer([&] {
    auto sleep_for = [&](std::chrono::milliseconds d) { std::this_thread::sleep_for(d); };
    for (int k = 0; k < f.kills; ++k) {
      sleep_for(f.steady);
      std::string leader;
      for (int tries = 0; tries < 500 && leader.empty(); ++tries) {
        leader = find_leader(f.nodes);
        if (leader.empty()) sleep_for(std::chrono::milliseconds(20));
      }
      if (leader.empty()) {
        std::lock_guard lk(mu);
        killer_error = "no leader found before kill " + std::to_string(k + 1);
        break;
      }
      if (std::system(substitute(f.kill_cmd, leader).c_str()) != 0) {
        std::lock_guard lk(mu);
        killer_error = "kill command failed for " + leader;
        break;
      }
      // The kill happened somewhere inside the command (a shell start takes
      // milliseconds): its return is the first instant known to be after it.
      const auto tk = clock::now();
      {
        std::lock_guard lk(mu);
        kill_times.emplace_back(leader, tk);
      }
      std::fprintf(stderr, "chatbench: kill %d: %s\n", k + 1, leader.c_str());
      // Wait for a new leader, keep the old one down a while, then restart it.
      for (int tries = 0; tries < 1000 && find_leader(f.nodes, leader).empty(); ++tries)
        sleep_for(std::chrono::milliseconds(20));
      sleep_for(f.down);
      if (!f.restart_cmd.empty()) {
        if (std::system(substitute(f.restart_cmd, leader).c_str()) != 0) {
          std::lock_guard lk(mu);
          killer_error = "restart command failed for " + leader;
          break;
        }
        for (int tries = 0; tries < 1500 && !all_healthy(f.nodes); ++tries) sleep_for(std::chrono::milliseconds(20));
      }
    }
    sleep_for(f.steady);
    done = true;
  });

  std::vector<ack_record> acks;
  workload_options wo = w;
  wo.ops = 0;
  wo.warmup = std::chrono::milliseconds(0);
  wo.duration = std::chrono::hours(24);
  wo.reconnect = true;
  workload_hooks hooks;
  hooks.acks = &acks;
  hooks.nodes = f.nodes;
  hooks.stop = [&] { return done.load(); };
  res.stats = run_workload(io, sessions, wo, hooks);
  killer.join();
  res.error = killer_error;

  std::sort(acks.begin(), acks.end(), [](const ack_record& a, const ack_record& b) { return a.acked < b.acked; });
  auto ms = [](clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); };
  for (const auto& [leader, tk] : kill_times) {
    kill_record kr;
    kr.leader = leader;
    kr.at_s = std::chrono::duration<double>(tk - t0).count();
    std::optional<clock::time_point> before, after;
    for (const auto& a : acks) {
      if (a.acked < tk) before = a.acked;
      if (a.issued >= tk && (!after || a.acked < *after)) after = a.acked;
    }
    if (after) kr.kill_to_ack_ms = ms(*after - tk);
    if (before && after) kr.window_ms = ms(*after - *before);
    res.kills.push_back(kr);
  }
  return res;
}

json::object to_json(const failover_result& r) {
  json::object o;
  json::array ks;
  std::vector<double> w;
  for (const auto& k : r.kills) {
    ks.push_back(json::object{{"leader", k.leader}, {"at_s", k.at_s}, {"window_ms", k.window_ms},
                              {"kill_to_ack_ms", k.kill_to_ack_ms}});
    if (k.window_ms >= 0) w.push_back(k.window_ms);
  }
  o["kills"] = std::move(ks);
  o["window_ms"] = json::object{{"median", median(w)},
                                {"max", w.empty() ? -1.0 : *std::max_element(w.begin(), w.end())},
                                {"min", w.empty() ? -1.0 : *std::min_element(w.begin(), w.end())},
                                {"measured", w.size()}};
  o["writes"] = to_json(r.stats);
  if (!r.error.empty()) o["error"] = r.error;
  return o;
}

std::string render(const failover_result& r) {
  std::string out;
  char line[200];
  std::vector<double> w;
  for (std::size_t i = 0; i < r.kills.size(); ++i) {
    const auto& k = r.kills[i];
    std::snprintf(line, sizeof line, "kill %2zu at %7.2fs  leader %-6s  window %8.1f ms  (kill -> ack %8.1f ms)\n", i + 1,
                  k.at_s, k.leader.c_str(), k.window_ms, k.kill_to_ack_ms);
    out += line;
    if (k.window_ms >= 0) w.push_back(k.window_ms);
  }
  std::snprintf(line, sizeof line, "windows: %zu  median %.1f ms  max %.1f ms  min %.1f ms\n", w.size(), median(w),
                w.empty() ? -1.0 : *std::max_element(w.begin(), w.end()),
                w.empty() ? -1.0 : *std::min_element(w.begin(), w.end()));
  out += line;
  if (!r.error.empty()) out += "error: " + r.error + "\n";
  return out;
}

}  // namespace qc::bench
