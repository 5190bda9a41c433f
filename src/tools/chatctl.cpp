// chatctl: the operations tool. Talks to nodes with the client protocol
// (src/net/ws_client) and GET /status.
//
//   chatctl status   --cluster HOST:PORT[,...]
//   chatctl call     --node HOST:PORT  'JSON' ['JSON' ...]    (one connection, in order)
//   chatctl add      --cluster ... --admin-token T ID ADDRESS
//   chatctl remove   --cluster ... --admin-token T ID
//   chatctl transfer --cluster ... --admin-token T ID
//   chatctl watch    --cluster ... [--target N] [--interval MS] [--check]
//   chatctl supervise --cluster ... --target N --spawn 'CMD TEMPLATE' [...]
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <iostream>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <boost/json.hpp>

#include "net/ws_client.h"
#include "ops/cluster_probe.h"
#include "ops/supervisor.h"

namespace json = boost::json;
using namespace std::chrono_literals;

namespace {

struct args {
  std::string cmd;
  std::vector<std::string> cluster;
  std::string node;
  std::string admin_token = "dev-admin";
  int target = 0;
  int interval_ms = 1000;
  bool check = false;
  bool once = false;
  std::string spawn;
  std::string data_root = "data";
  int grace_ms = 10'000;
  std::vector<std::string> positional;
};

void usage() {
  std::fputs(
      "usage: chatctl COMMAND [options]\n"
      "  status    --cluster H:P[,H:P...]            print the cluster table\n"
      "  call      --node H:P 'JSON' ['JSON'...]     send requests on one connection, print replies\n"
      "  add       --cluster ... --admin-token T ID ADDRESS   add a node (learner, then voter)\n"
      "  remove    --cluster ... --admin-token T ID           remove a node\n"
      "  transfer  --cluster ... --admin-token T ID           transfer leadership to ID\n"
      "  watch     --cluster ... [--target N] [--interval MS] [--check] [--once]\n"
      "            live health monitor; --check exits 1 when healthy voters < target\n"
      "  supervise --cluster ... --target N --spawn 'CMD' [--grace MS] [--admin-token T]\n"
      "            restart dead local members; replace members dead past the grace period.\n"
      "            CMD may use {id} {port} {address} {data_dir} {join}\n",
      stderr);
}

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, sep))
    if (!item.empty()) out.push_back(item);
  return out;
}

bool parse(int argc, char** argv, args& a) {
  if (argc < 2) return false;
  a.cmd = argv[1];
  for (int i = 2; i < argc; ++i) {
    std::string s = argv[i];
    auto next = [&]() -> std::string { return i + 1 < argc ? argv[++i] : ""; };
    if (s == "--cluster") a.cluster = split(next(), ',');
    else if (s == "--node") a.node = next();
    else if (s == "--admin-token") a.admin_token = next();
    else if (s == "--target") a.target = std::atoi(next().c_str());
    else if (s == "--interval") a.interval_ms = std::atoi(next().c_str());
    else if (s == "--check") a.check = true;
    else if (s == "--once") a.once = true;
    else if (s == "--spawn") a.spawn = next();
    else if (s == "--data-root") a.data_root = next();
    else if (s == "--grace") a.grace_ms = std::atoi(next().c_str());
    else if (s == "-h" || s == "--help") return false;
    else a.positional.push_back(s);
  }
  if (a.cluster.empty() && !a.node.empty()) a.cluster = {a.node};
  if (a.node.empty() && !a.cluster.empty()) a.node = a.cluster.front();
  return true;
}

int cmd_call(const args& a) {
  qc::net::ws_client c;
  if (auto e = c.connect(a.node)) {
    std::fprintf(stderr, "chatctl: cannot connect to %s: %s\n", a.node.c_str(), e.what.c_str());
    return 1;
  }
  std::string err;
  int rc = 0;
  for (const auto& text : a.positional) {
    json::error_code ec;
    auto v = json::parse(text, ec);
    if (ec || !v.is_object()) {
      std::fprintf(stderr, "chatctl: not a JSON object: %s\n", text.c_str());
      return 2;
    }
    auto r = c.request(v.as_object(), err);
    if (!r) {
      std::fprintf(stderr, "chatctl: no reply: %s\n", err.c_str());
      return 1;
    }
    std::cout << json::serialize(*r) << std::endl;
    if (auto* ok = r->if_contains("ok"); !ok || !ok->is_bool() || !ok->as_bool()) rc = 1;
  }
  return rc;
}

int cmd_admin(const args& a) {
  json::object req{{"admin_token", a.admin_token}};
  if (a.cmd == "add") {
    if (a.positional.size() != 2) return usage(), 2;
    req["op"] = "admin.add_node";
    req["id"] = a.positional[0];
    req["address"] = a.positional[1];
  } else if (a.cmd == "remove") {
    if (a.positional.size() != 1) return usage(), 2;
    req["op"] = "admin.remove_node";
    req["id"] = a.positional[0];
  } else {
    if (a.positional.size() != 1) return usage(), 2;
    req["op"] = "admin.transfer_leader";
    req["to"] = a.positional[0];
  }
  std::string err;
  auto r = qc::ops::admin_call(a.cluster, req, err);
  // An add is answered within 30 s while its node still catches up, and
  // goes on: ask again (it waits for the same add) for up to 5 minutes.
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::minutes(5);
  const auto catching_up = [](const std::optional<json::object>& reply) {
    return qc::ops::error_code_of(reply) == "unavailable" &&
           qc::ops::error_message_of(reply).find("still catching up") != std::string::npos;
  };
  while (a.cmd == "add" && catching_up(r) && std::chrono::steady_clock::now() < give_up) {
    std::fprintf(stderr, "chatctl: %s; asking again\n", qc::ops::error_message_of(r).c_str());
    r = qc::ops::admin_call(a.cluster, req, err);
  }
  if (!r) {
    std::fprintf(stderr, "chatctl: %s\n", err.c_str());
    return 1;
  }
  std::cout << json::serialize(*r) << std::endl;
  return qc::ops::is_ok(r) ? 0 : 1;
}

int cmd_watch(const args& a) {
  for (;;) {
    auto view = qc::ops::probe_cluster(a.cluster);
    const int healthy = view.healthy_voters();
    const int target = a.target > 0 ? a.target : static_cast<int>(view.voters());
    if (!a.check || !a.once) {
      if (!a.once && isatty(1)) std::cout << "\x1b[H\x1b[2J";
      std::cout << qc::ops::render_table(view);
      std::cout << "healthy voters: " << healthy << " / target " << target
                << (healthy < target ? "   BELOW TARGET" : "   ok") << "\n"
                << std::flush;
    }
    if (a.check && healthy < target) return 1;
    if (a.once || a.check) return 0;
    std::this_thread::sleep_for(std::chrono::milliseconds(a.interval_ms));
  }
}

}  // namespace

int main(int argc, char** argv) {
  args a;
  if (!parse(argc, argv, a)) {
    usage();
    return 2;
  }
  if (a.cluster.empty()) a.cluster = {"127.0.0.1:7001"};
  if (a.cmd == "status") {
    auto view = qc::ops::probe_cluster(a.cluster);
    std::cout << qc::ops::render_table(view);
    return view.nodes.empty() ? 1 : 0;
  }
  if (a.cmd == "call") return cmd_call(a);
  if (a.cmd == "add" || a.cmd == "remove" || a.cmd == "transfer") return cmd_admin(a);
  if (a.cmd == "watch") return cmd_watch(a);
  if (a.cmd == "supervise") {
    if (a.target <= 0 || a.spawn.empty()) {
      usage();
      return 2;
    }
    qc::ops::supervisor_options o;
    o.seeds = a.cluster;
    o.target = a.target;
    o.spawn_template = a.spawn;
    o.admin_token = a.admin_token;
    o.data_root = a.data_root;
    o.grace = std::chrono::milliseconds(a.grace_ms);
    o.interval = std::chrono::milliseconds(a.interval_ms);
    return qc::ops::run_supervisor(o);
  }
  usage();
  return 2;
}
