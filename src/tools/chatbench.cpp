// chatbench: load generator for Quorum Chat (docs/BENCHMARKS.md).
//
//   chatbench --nodes A,B,C [run]      workload mix, closed or open loop
//   chatbench --nodes A,B,C failover   steady writes while killing the leader
//   chatbench --nodes A capacity       C idle connections per node, RSS, burst
//   chatbench hash                     what one password hash costs here (no node)
//   chatbench apply                    what applying one send to chat.db costs (no node)
//
// Owned by: the main thread; all client I/O runs on one io_context thread.
#include <sys/resource.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include <boost/asio/io_context.hpp>
#include <boost/json.hpp>
#include <boost/program_options.hpp>

#include "bench/apply_cost.h"
#include "bench/capacity.h"
#include "bench/failover.h"
#include "bench/hash_cost.h"
#include "bench/sessions.h"
#include "bench/workload.h"

namespace po = boost::program_options;
namespace json = boost::json;
using namespace qc::bench;

namespace {

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  for (std::string item; std::getline(ss, item, sep);)
    if (!item.empty()) out.push_back(item);
  return out;
}

/// "send=1,history=5" -> weights; false on a bad entry.
bool parse_mix(const std::string& s, workload_options& w, std::string& err) {
  w.w_send = w.w_history = w.w_unread = w.w_login = w.w_hello = 0;
  for (const auto& part : split(s, ',')) {
    const auto eq = part.find_first_of("=:");
    const std::string name = part.substr(0, eq);
    double v = 1;
    if (eq != std::string::npos) v = std::stod(part.substr(eq + 1));
    if (name == "send") w.w_send = v;
    else if (name == "history") w.w_history = v;
    else if (name == "unread") w.w_unread = v;
    else if (name == "login") w.w_login = v;
    else if (name == "hello") w.w_hello = v;
    else return err = "unknown op in --mix: " + name, false;
  }
  if (w.w_send + w.w_history + w.w_unread + w.w_login + w.w_hello <= 0) return err = "--mix has no positive weight", false;
  return true;
}

void raise_nofile() {
  rlimit rl{};
  if (::getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &rl);
  }
}

std::string load_average() {
  std::ifstream in("/proc/loadavg");
  std::string a, b, c;
  in >> a >> b >> c;
  return a + " " + b + " " + c;
}

}  // namespace

int main(int argc, char** argv) {
  std::string mode = "run", nodes_s, mix = "send=1", json_path, ready_file, label, kill_cmd, restart_cmd, prefix;
  workload_options w;
  session_options so;
  failover_options fo;
  capacity_options co;
  double duration_s = 10, warmup_s = 1;
  std::uint64_t preload = 0;
  int timeout_ms = 5000, steady_ms = 2000, down_ms = 1000;
  po::options_description desc(
      "chatbench: load generator for Quorum Chat\n"
      "usage: chatbench --nodes IP:PORT[,IP:PORT...] [run|failover|capacity] [options]\noptions");
  desc.add_options()("help,h", "this help")("mode", po::value(&mode), "run | failover | capacity | hash | apply (or positional)")(
      "nodes", po::value(&nodes_s), "comma-separated IP:PORT of the nodes")(
      "connections,c", po::value(&so.connections)->default_value(64), "logged-in connections (K)")(
      "pin", po::value(&so.pin)->default_value(-1), "put every connection on node index N (default: round-robin)")(
      "mix", po::value(&mix)->default_value("send=1"), "op weights, e.g. send=1,history=5,unread=1 (login=1: password logins; hello=1: the floor of a round trip)")(
      "consistency", po::value(&w.consistency)->default_value("linearizable"), "reads: linearizable | local")(
      "duration", po::value(&duration_s)->default_value(10), "measured seconds (run mode)")(
      "warmup", po::value(&warmup_s)->default_value(1), "unmeasured seconds before (run mode)")(
      "ops", po::value(&w.ops)->default_value(0), "measured op count instead of a duration")(
      "inflight", po::value(&w.inflight)->default_value(1), "closed loop: requests in flight per connection")(
      "rate", po::value(&w.rate)->default_value(0), "open loop: total requests per second (0 = closed loop)")(
      "body", po::value(&w.body_bytes)->default_value(256), "send body bytes")(
      "preload", po::value(&preload)->default_value(0),
      "unmeasured sends per connection before the run (so history/unread have data)")(
      "limit", po::value(&w.history_limit)->default_value(20), "limit of history / unread")(
      "timeout-ms", po::value(&timeout_ms)->default_value(5000), "request timeout")(
      "json", po::value(&json_path), "also write the results as JSON to FILE")(
      "ready-file", po::value(&ready_file),
      "run mode: create FILE when the measured window begins (after set-up, preload and warm-up), "
      "so that a script can count server CPU over the same window")(
      "label", po::value(&label), "free text stored in the JSON")(
      "prefix", po::value(&prefix), "user name prefix (default: random)")(
      "kills", po::value(&fo.kills)->default_value(20), "failover: leader kills")(
      "kill-cmd", po::value(&kill_cmd), "failover: command killing node {id}")(
      "restart-cmd", po::value(&restart_cmd), "failover: command restarting node {id}")(
      "steady-ms", po::value(&steady_ms)->default_value(2000), "failover: healthy time before each kill")(
      "down-ms", po::value(&down_ms)->default_value(1000), "failover: time a killed node stays down after a new leader")(
      "per-node", po::value(&co.per_node)->default_value(1000), "capacity: idle connections per node")(
      "users", po::value(&co.users)->default_value(100), "capacity: users the connections are bound to");
  po::positional_options_description pos;
  pos.add("mode", 1);
  po::variables_map vm;
  try {
    po::store(po::command_line_parser(argc, argv).options(desc).positional(pos).run(), vm);
    po::notify(vm);
  } catch (const std::exception& e) {
    std::cerr << "chatbench: " << e.what() << "\n";
    return 2;
  }
  if (vm.count("help")) {
    std::cout << desc << "\n";
    return 0;
  }
  const auto nodes = split(nodes_s, ',');
  std::string err;
  // The modes that measure this machine alone, with no node: one result,
  // printed and optionally written as JSON.
  auto report_local = [&](const auto& result) {
    if (!err.empty()) {
      std::cerr << "chatbench: " << err << "\n";
      return 1;
    }
    std::cout << render(result) << "(load average " << load_average() << ")\n";
    if (!json_path.empty()) std::ofstream(json_path) << json::serialize(to_json(result)) << "\n";
    return 0;
  };
  // Password hashing alone.
  if (mode == "hash") return report_local(measure_hash_costs(w.ops > 0 ? static_cast<int>(w.ops) : 10, err));
  // The state machine alone: sends applied to a fresh chat.db.
  if (mode == "apply")
    return report_local(measure_apply_cost(w.ops > 0 ? w.ops : 20'000, w.body_bytes,
                                           std::filesystem::temp_directory_path().string(), err));
  if (nodes.empty()) err = "--nodes is required";
  else if (mode != "run" && mode != "failover" && mode != "capacity") err = "unknown mode " + mode;
  else if (so.pin >= static_cast<int>(nodes.size())) err = "--pin is beyond the node list";
  else if (w.consistency != "linearizable" && w.consistency != "local") err = "--consistency must be linearizable or local";
  else if (so.connections == 0 || w.inflight < 1) err = "--connections and --inflight must be >= 1";
  else if (mode == "failover" && (kill_cmd.empty() || w.rate <= 0)) err = "failover needs --kill-cmd and --rate";
  else parse_mix(mix, w, err);
  if (!err.empty()) {
    std::cerr << "chatbench: " << err << "\n";
    return 2;
  }
  raise_nofile();
  w.duration = std::chrono::milliseconds(static_cast<long>(duration_s * 1000));
  w.warmup = std::chrono::milliseconds(w.ops > 0 ? 0 : static_cast<long>(warmup_s * 1000));
  w.timeout = std::chrono::milliseconds(timeout_ms);
  so.nodes = nodes;
  so.prefix = prefix.empty() ? random_prefix() : prefix;
  w.password = so.password;

  json::object out;
  out["mode"] = mode;
  out["label"] = label;
  out["nodes"] = json::value_from(nodes);
  out["load_average_before"] = load_average();
  boost::asio::io_context io;
  int rc = 0;

  if (mode == "capacity") {
    co.nodes = nodes;
    co.prefix = so.prefix;
    out["per_node"] = co.per_node;
    out["users"] = co.users;
    auto r = run_capacity(io, co);
    std::cout << render(r);
    out["capacity"] = to_json(r);
    rc = r.error.empty() ? 0 : 1;
  } else {
    const auto t_setup = clock::now();
    auto sessions = open_sessions(io, so, err);
    if (!err.empty()) {
      std::cerr << "chatbench: setup: " << err << "\n";
      return 1;
    }
    const double setup_s = std::chrono::duration<double>(clock::now() - t_setup).count();
    std::fprintf(stderr, "chatbench: %zu connections logged in over %zu node(s) in %.2f s\n", sessions.size(),
                 nodes.size(), setup_s);
    out["connections"] = so.connections;
    out["pin"] = so.pin;
    out["mix"] = mix;
    out["consistency"] = w.consistency;
    out["loop"] = w.rate > 0 ? "open" : "closed";
    out["inflight"] = w.inflight;
    out["rate"] = w.rate;
    out["body"] = w.body_bytes;
    out["setup_s"] = setup_s;
    if (preload > 0) {
      workload_options pw = w;
      pw.w_send = 1;
      pw.w_history = pw.w_unread = pw.w_login = pw.w_hello = 0;
      pw.rate = 0;
      pw.inflight = std::max(w.inflight, 4);
      pw.ops = preload * sessions.size();
      pw.warmup = std::chrono::milliseconds(0);
      auto ps = run_workload(io, sessions, pw);
      std::fprintf(stderr, "chatbench: preloaded %llu messages in %.2f s (%.0f/s)\n",
                   static_cast<unsigned long long>(ps.total.ok), ps.elapsed_s, ps.throughput());
      out["preloaded"] = ps.total.ok;
    }
    if (mode == "run") {
      workload_hooks hooks;
      if (!ready_file.empty()) hooks.measuring = [&ready_file] { std::ofstream(ready_file) << "measuring\n"; };
      auto st = run_workload(io, sessions, w, hooks);
      std::cout << render(st);
      out["result"] = to_json(st);
      rc = st.total.ok > 0 ? 0 : 1;
    } else {
      fo.nodes = nodes;
      fo.kill_cmd = kill_cmd;
      fo.restart_cmd = restart_cmd;
      fo.steady = std::chrono::milliseconds(steady_ms);
      fo.down = std::chrono::milliseconds(down_ms);
      auto r = run_failover(io, sessions, w, fo);
      std::cout << render(r);
      out["failover"] = to_json(r);
      rc = r.error.empty() ? 0 : 1;
    }
    for (auto& s : sessions) s.conn->close();
  }
  out["load_average_after"] = load_average();
  if (!json_path.empty()) {
    std::ofstream f(json_path);
    f << json::serialize(out) << "\n";
    if (!f) {
      std::cerr << "chatbench: cannot write " << json_path << "\n";
      return 1;
    }
  }
  return rc;
}
