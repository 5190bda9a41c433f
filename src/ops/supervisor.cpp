#include "ops/supervisor.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <ctime>
#include <iostream>
#include <map>
#include <set>
#include <thread>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/json.hpp>

#include "ops/cluster_probe.h"
#include "ops/spawn.h"

namespace qc::ops {

namespace json = boost::json;
using clock = std::chrono::steady_clock;

namespace {

void say(const std::string& what) {
  std::time_t t = std::time(nullptr);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
  std::cout << buf << " supervisor: " << what << std::endl;
}

void replace_all(std::string& s, const std::string& from, const std::string& to) {
  for (std::size_t p = 0; (p = s.find(from, p)) != std::string::npos; p += to.size()) s.replace(p, from.size(), to);
}

int free_port(const std::string& host) {
  boost::asio::io_context io;
  boost::asio::ip::tcp::acceptor a(io, {boost::asio::ip::make_address(host), 0});
  return a.local_endpoint().port();
}

/// Starts `cmd` with /bin/sh in its own session; output to `log`.
pid_t spawn(const std::string& cmd, const std::string& log) {
  return spawn_process({"/bin/sh", "-c", cmd}, log, {.new_session = true});
}


constexpr std::chrono::minutes add_bound{10};  // a big snapshot may take a while

/// admin.remove_node, retried while another change is in progress or the
/// leader is changing (a joiner's own request may be finishing). Returns the
/// last reply (or error) as text.
std::string remove_member(const std::vector<std::string>& seeds, const std::string& id, const std::string& admin_token,
                          std::chrono::milliseconds interval) {
  std::string last;
  for (int attempt = 0; attempt < 60; ++attempt) {
    std::string err;
    auto r = admin_call(seeds, json::object{{"op", "admin.remove_node"}, {"admin_token", admin_token}, {"id", id}}, err);
    last = r ? json::serialize(*r) : err;
    const auto code = error_code_of(r);
    if (is_ok(r) || code == "not_found") return last;
    if (r && code != "conflict" && code != "unavailable") return last;
    std::this_thread::sleep_for(interval);
  }
  return last;
}

/// Adds the freshly spawned node `id` and waits until it is a voter. The node
/// itself also asks to join (--join), so admin.add_node may meet that change
/// in progress (it waits for it, answered `unavailable` after 25 s while the
/// node still catches up), another change (`conflict`) or a leader change
/// (`unavailable`): all are retried; admin.add_node of a node that is already a voter answers ok at
/// once. Gives up (false) if the child process exits or `bound` passes.
bool add_until_voter(std::vector<std::string> seeds, const std::string& id, const std::string& address, pid_t child,
                     const std::string& admin_token, std::chrono::milliseconds bound,
                     std::chrono::milliseconds interval) {
  const auto end = clock::now() + bound;
  while (clock::now() < end) {
    int status = 0;
    if (child > 0 && ::waitpid(child, &status, WNOHANG) == child) {
      say("new node " + id + " exited (status " + std::to_string(status) + ") before it became a voter");
      return false;
    }
    std::string err;
    auto r = admin_call(seeds, json::object{{"op", "admin.add_node"}, {"admin_token", admin_token}, {"id", id}, {"address", address}},
                        err);
    if (is_ok(r)) return true;
    say("add " + id + ": " + (r ? json::serialize(*r) : err) + "; waiting for the change in progress");
    std::this_thread::sleep_for(interval);
    // Keep seeds fresh: the leader (or the node we asked) may have changed.
    for (const auto& n : probe_cluster(seeds).nodes)
      if (n.up && std::find(seeds.begin(), seeds.end(), n.address) == seeds.end()) seeds.push_back(n.address);
  }
  say("add " + id + ": not a voter within the time bound");
  return false;
}

}  // namespace

std::string expand_template(std::string tpl, const std::string& id, const std::string& address,
                            const std::string& data_dir, const std::string& join) {
  std::string n;
  for (auto it = id.rbegin(); it != id.rend() && std::isdigit(static_cast<unsigned char>(*it)); ++it) n.insert(n.begin(), *it);
  const auto colon = address.rfind(':');
  replace_all(tpl, "{id}", id);
  replace_all(tpl, "{n}", n);
  replace_all(tpl, "{port}", colon == std::string::npos ? "" : address.substr(colon + 1));
  replace_all(tpl, "{address}", address);
  replace_all(tpl, "{data_dir}", data_dir);
  replace_all(tpl, "{join}", join);
  return tpl;
}

int run_supervisor(const supervisor_options& o) {
  std::map<std::string, clock::time_point> down_since;
  std::map<std::string, clock::time_point> restarted_at;
  std::map<pid_t, std::string> children;
  std::vector<std::string> seeds = o.seeds;
  int spawned = 0;
  say("watching " + std::to_string(seeds.size()) + " seed(s), target " + std::to_string(o.target) + " voters");

  for (int iter = 0; o.max_iterations == 0 || iter < o.max_iterations; ++iter) {
    for (pid_t p; (p = ::waitpid(-1, nullptr, WNOHANG)) > 0;) children.erase(p);
    auto view = probe_cluster(seeds);
    // Learn every member's address as a seed for next time.
    for (const auto& n : view.nodes)
      if (std::find(seeds.begin(), seeds.end(), n.address) == seeds.end()) seeds.push_back(n.address);

    std::string live;
    for (const auto& n : view.nodes)
      if (n.up && !n.leader.empty()) live = n.address;
    const auto now = clock::now();
    const int healthy = view.healthy_voters();

    // 1. Dead members: restart within the grace period, replace after it.
    bool acted = false;
    for (const auto& n : view.nodes) {
      if (n.up || !n.voter) {
        down_since.erase(n.id);
        continue;
      }
      auto [it, fresh] = down_since.emplace(n.id, now);
      if (fresh) say("member " + n.id + " (" + n.address + ") is down");
      const auto down_for = now - it->second;
      if (down_for < o.grace) {
        auto r = restarted_at.find(n.id);
        if (r == restarted_at.end() || now - r->second > o.grace / 2) {
          const std::string cmd = expand_template(o.spawn_template, n.id, n.address, o.data_root + "/" + n.id, live);
          say("restarting " + n.id + ": " + cmd);
          children[spawn(cmd, o.data_root + "/" + n.id + ".supervised.log")] = n.id;
          restarted_at[n.id] = now;
        }
        acted = true;
        continue;
      }
      if (live.empty()) {
        say("cannot replace " + n.id + ": no live member with a leader");
        acted = true;
        break;
      }
      // Replace: add a new voter first, then remove the dead one.
      const std::string id = "r" + std::to_string(::getpid() % 10000) + "x" + std::to_string(++spawned);
      const std::string address = o.host + ":" + std::to_string(free_port(o.host));
      const std::string cmd = expand_template(o.spawn_template, id, address, o.data_root + "/" + id, live);
      say(n.id + " down for " +
          std::to_string(std::chrono::duration_cast<std::chrono::seconds>(down_for).count()) +
          "s: replacing it with " + id + " at " + address + ": " + cmd);
      const pid_t child = spawn(cmd, o.data_root + "/" + id + ".supervised.log");
      children[child] = id;
      if (!add_until_voter({live}, id, address, child, o.admin_token, add_bound, o.interval)) {
        // Leave no half-added learner behind; the next round tries afresh.
        say("gave up on " + id + "; removing it: " + remove_member({live}, id, o.admin_token, o.interval));
        if (child > 0) ::kill(-child, SIGTERM);
        acted = true;
        break;
      }
      say(id + " is a voter; removing " + n.id);
      say(std::string("removed ") + n.id + ": " + remove_member({live}, n.id, o.admin_token, o.interval));
      down_since.erase(n.id);
      acted = true;
      break;  // one change at a time
    }

    // 2. Below target with everyone up (e.g. a member was removed): grow.
    if (!acted && static_cast<int>(view.voters()) < o.target && !live.empty() && healthy == static_cast<int>(view.voters())) {
      const std::string id = "r" + std::to_string(::getpid() % 10000) + "x" + std::to_string(++spawned);
      const std::string address = o.host + ":" + std::to_string(free_port(o.host));
      const std::string cmd = expand_template(o.spawn_template, id, address, o.data_root + "/" + id, live);
      say("only " + std::to_string(view.voters()) + " voters, target " + std::to_string(o.target) + ": adding " + id + ": " + cmd);
      const pid_t child = spawn(cmd, o.data_root + "/" + id + ".supervised.log");
      children[child] = id;
      if (add_until_voter({live}, id, address, child, o.admin_token, add_bound, o.interval)) {
        say(id + " is a voter");
      } else {
        say("gave up on " + id + "; removing it: " + remove_member({live}, id, o.admin_token, o.interval));
        if (child > 0) ::kill(-child, SIGTERM);
      }
    }
    std::this_thread::sleep_for(o.interval);
  }
  return 0;
}

}  // namespace qc::ops
