// fault_suite: a Jepsen-style run against a real cluster.
//
//   fault_suite [--minutes M] [--seed S] [--nodes N] [--clients C] [--report DIR]
//
// Starts N chatnode processes with the [testing] fault filter enabled,
// creates C users, runs the clients (workload.h) and the nemesis
// (nemesis.h) for M minutes, heals everything, waits for identical
// replicas, reads the final state and checks the history (checker.h).
// Exit 0 on a clean verdict. QC_FAULT_SEED sets the seed when --seed is not
// given; QC_FAULT_MINUTES overrides --minutes (e.g. a longer CI run). On failure the run's directory (node logs, history.jsonl) is kept.
// --report DIR also writes DIR/REPORT.md and DIR/latency.png.
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <iostream>
#include <random>
#include <string>

#include <boost/json.hpp>

#include "faults/checker.h"
#include "faults/run/address_book.h"
#include "faults/run/fault_cluster.h"
#include "faults/run/final_read.h"
#include "faults/run/nemesis.h"
#include "faults/run/report.h"
#include "faults/run/workload.h"

using namespace qc::faults;
using namespace std::chrono_literals;
namespace json = boost::json;

namespace {

struct options {
  double minutes = 3;
  std::uint64_t seed = 0;
  int nodes = 5;
  int clients = 8;
  std::string report;
};

void write_history(const std::filesystem::path& file, const std::vector<op_record>& h) {
  std::ofstream f(file);
  for (const auto& op : h) {
    json::object o{{"p", op.process}, {"kind", static_cast<int>(op.kind)}, {"t0", op.invoke_ns}, {"t1", op.complete_ns},
                   {"result", op.result == outcome::ok ? "ok" : op.result == outcome::fail ? "fail" : "unknown"},
                   {"node", op.node}, {"user", op.user}, {"peer", op.peer}, {"body", op.body}, {"msg_id", op.msg_id},
                   {"error", op.error}};
    json::array ids;
    for (auto id : op.ids) ids.emplace_back(id);
    o["ids"] = std::move(ids);
    json::array ms;
    for (const auto& m : op.messages) ms.emplace_back(json::array{m.id, m.content, m.read});
    o["messages"] = std::move(ms);
    f << json::serialize(o) << "\n";
  }
}

}  // namespace

int main(int argc, char** argv) {
  options o;
  if (const char* s = std::getenv("QC_FAULT_SEED")) o.seed = std::strtoull(s, nullptr, 10);
  if (o.seed == 0) o.seed = std::random_device{}() % 1000000 + 1;
  const char* env_minutes = std::getenv("QC_FAULT_MINUTES");
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::cerr << "fault_suite: " << a << " needs a value\n";
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--minutes") o.minutes = std::stod(next());
    else if (a == "--seed") o.seed = std::stoull(next());
    else if (a == "--nodes") o.nodes = std::stoi(next());
    else if (a == "--clients") o.clients = std::stoi(next());
    else if (a == "--report") o.report = next();
    else {
      std::cerr << "usage: fault_suite [--minutes M] [--seed S] [--nodes N] [--clients C] [--report DIR]\n";
      return 2;
    }
  }
  if (env_minutes && *env_minutes) o.minutes = std::stod(env_minutes);
  const std::string command = "build/fault_suite --minutes " + std::to_string(o.minutes) + " --seed " +
                              std::to_string(o.seed) + " --nodes " + std::to_string(o.nodes) + " --clients " +
                              std::to_string(o.clients);
  std::fprintf(stderr, "fault_suite: seed %llu, %.1f minutes, %d nodes, %d clients (reproduce the schedule: %s)\n",
               static_cast<unsigned long long>(o.seed), o.minutes, o.nodes, o.clients, command.c_str());
  char started[64];
  const std::time_t now = std::time(nullptr);
  std::strftime(started, sizeof started, "%Y-%m-%d %H:%M:%S", std::gmtime(&now));

  // Small snapshots so restarts, lagging followers and new members exercise
  // snapshot installation, not only log replay.
  const std::string extra_toml = "\n[testing]\nenabled = true\n\n[raft]\nsnapshot_every = 500\n";
  fault_cluster cluster(o.nodes, extra_toml);
  const auto root = cluster.raw().root;
  cluster.start_all();
  if (!cluster.raw().wait_leader(30s)) {
    std::fprintf(stderr, "fault_suite: no leader within 30 s\n");
    cluster.raw().dump_logs();
    return 1;
  }
  run_clock clock;
  address_book book;
  book.set(cluster.member_addresses());

  std::string err;
  auto tokens = create_users(book, o.clients, "pw", err);
  if (tokens.empty()) {
    std::fprintf(stderr, "fault_suite: %s\n", err.c_str());
    return 1;
  }
  workload_options wo;
  wo.clients = o.clients;
  wo.seed = o.seed;
  workload clients(book, clock, wo, tokens);
  nemesis nem(cluster, book, clock, o.seed);
  const double t_start = clock.now_s();
  clients.start();
  nem.start();
  const double t_end = t_start + o.minutes * 60;
  double last_report = t_start;
  while (clock.now_s() < t_end) {
    std::this_thread::sleep_for(200ms);
    if (clock.now_s() - last_report >= 30) {
      last_report = clock.now_s();
      std::fprintf(stderr, "fault_suite: %.0f s of %.0f\n", last_report - t_start, o.minutes * 60);
    }
  }
  nem.stop();
  nem.heal_all();
  // A few seconds of traffic on the healed cluster, then stop the clients.
  std::this_thread::sleep_for(5s);
  clients.stop();
  const double heal_time = clock.now_s();

  final_state fin;
  const double converged = await_convergence(cluster, fin, 90s);
  std::vector<std::string> users;
  for (int i = 0; i < o.clients; ++i) users.push_back(user_of(i));
  const bool read_ok = read_conversations(cluster, users, tokens, fin, err);
  auto history = clients.history();
  auto v = check(history, fin);
  if (!read_ok) {
    v.counts["divergence"]++;
    v.violations["divergence"].push_back("final read failed: " + err);
  }
  if (converged < 0) {
    // Healed and idle, every member must reach the same state at the
    // leader's commit index.
    v.counts["divergence"]++;
    v.violations["divergence"].push_back("the members did not reach one state at the leader's commit index within 90 s");
  }
  const auto crashes = cluster.crashes();
  bool pass = v.ok() && crashes.empty();
  // The run must have done real work for its verdict to mean anything.
  if (v.sends_ok < 20 || v.reads_ok < 20 || nem.windows().size() < 3) {
    std::fprintf(stderr, "fault_suite: too little happened (%zu sends ok, %zu reads ok, %zu faults)\n", v.sends_ok,
                 v.reads_ok, nem.windows().size());
    pass = false;
  }

  std::fprintf(stderr, "\nfault_suite: %zu calls; sends ok %zu / unknown %zu / failed %zu; reads ok %zu; deletes ok %zu; "
               "marks ok %zu; unknown sends applied %zu; %zu faults applied; replicas identical %s\n",
               history.size(), v.sends_ok, v.sends_unknown, v.sends_failed, v.reads_ok, v.deletes_ok, v.marks_ok,
               v.unknown_applied, nem.windows().size(),
               converged >= 0 ? (std::to_string(converged) + " s after the clients stopped").c_str() : "NEVER");
  (void)heal_time;
  std::fprintf(stderr, "%s", v.describe().c_str());
  for (const auto& c : crashes) std::fprintf(stderr, "  node crash: %s\n", c.c_str());

  if (!o.report.empty()) {
    run_summary s;
    s.seed = o.seed;
    s.minutes = o.minutes;
    s.nodes = o.nodes;
    s.clients = o.clients;
    s.started = started;
    s.convergence_s = converged;
    s.crashes = crashes;
    s.final_members = cluster.members();
    s.command = command + " --report " + o.report;
    if (!write_report(o.report, root, s, history, nem.windows(), nem.log(), v, err))
      std::fprintf(stderr, "fault_suite: report: %s\n", err.c_str());
    else
      std::fprintf(stderr, "fault_suite: report written to %s/REPORT.md\n", o.report.c_str());
  }
  cluster.stop_all();
  if (!pass) {
    write_history(root / "history.jsonl", history);
    ::setenv("QC_KEEP_TEST_DIRS", "1", 1);
    std::fprintf(stderr, "fault_suite: FAIL (seed %llu); node logs and history.jsonl kept in %s\n",
                 static_cast<unsigned long long>(o.seed), root.c_str());
    return 1;
  }
  std::fprintf(stderr, "fault_suite: PASS (seed %llu)\n", static_cast<unsigned long long>(o.seed));
  return 0;
}
