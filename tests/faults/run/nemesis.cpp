#include "faults/run/nemesis.h"

#include <algorithm>
#include <cstdio>
#include <sstream>

namespace qc::faults {

namespace json = boost::json;
using namespace std::chrono_literals;

namespace {
std::string join(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : ",") + x;
  return s;
}
}  // namespace

nemesis::nemesis(fault_cluster& cluster, address_book& book, const run_clock& clock, std::uint64_t seed)
    : cluster_(cluster), book_(book), clock_(clock), rng_(seed) {}

nemesis::~nemesis() { stop(); }

void nemesis::start() {
  thread_ = std::thread([this] { run(); });
}

void nemesis::stop() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

void nemesis::say(const std::string& line) {
  char t[32];
  std::snprintf(t, sizeof t, "[%7.1fs] ", clock_.now_s());
  log_.push_back(t + line);
  std::fprintf(stderr, "nemesis %s%s\n", t, line.c_str());
}

void nemesis::nap(double s) {
  const auto end = clock_.now_s() + s;
  while (!stop_ && clock_.now_s() < end) std::this_thread::sleep_for(50ms);
}

std::vector<std::string> nemesis::shuffled_members() {
  cluster_.refresh_members();
  auto m = cluster_.members();
  std::shuffle(m.begin(), m.end(), rng_);
  return m;
}

void nemesis::cut(std::map<std::string, std::set<std::string>>& drop, const std::vector<std::string>& a,
                  const std::vector<std::string>& b) {
  for (const auto& x : a)
    for (const auto& y : b) {
      drop[x].insert(y);
      drop[y].insert(x);
    }
}

void nemesis::run() {
  nap(uniform(2, 4));
  while (!stop_) {
    const double r = uniform(0, 1);
    if (r < 0.04) do_kill_all();
    else if (r < 0.17) do_kill();
    else if (r < 0.31) do_pause();
    else if (r < 0.45) do_partition();
    else if (r < 0.57) do_bridge();
    else if (r < 0.70) do_oneway();
    else if (r < 0.82) do_isolate_leader();
    else do_membership();
    nap(uniform(1.5, 4));
  }
}

std::string nemesis::pick_victim() {
  const auto m = shuffled_members();  // drawn first, whatever is chosen: a seed replays the same run
  if (uniform(0, 1) < 0.35)
    if (auto l = cluster_.leader()) return *l;
  for (const auto& id : m)
    if (cluster_.usable(id)) return id;
  return {};
}

void nemesis::do_kill() {
  const std::string victim = pick_victim();
  if (victim.empty()) return;
  fault_window w{"kill", victim, clock_.now_s(), 0};
  say("SIGKILL " + victim);
  cluster_.kill(victim);
  nap(uniform(1, 6));
  say("restart " + victim);
  cluster_.restart(victim);
  w.end_s = clock_.now_s();
  windows_.push_back(w);
}

void nemesis::do_kill_all() {
  auto m = shuffled_members();
  fault_window w{"kill", "all members: " + join(m), clock_.now_s(), 0};
  say("SIGKILL every member (" + join(m) + ")");
  for (const auto& id : m) cluster_.kill(id);
  nap(uniform(1, 4));
  say("restart every member");
  for (const auto& id : m) cluster_.restart(id);
  w.end_s = clock_.now_s();
  windows_.push_back(w);
}

void nemesis::do_pause() {
  const std::string victim = pick_victim();
  if (victim.empty()) return;
  fault_window w{"pause", victim, clock_.now_s(), 0};
  say("SIGSTOP " + victim);
  cluster_.pause(victim);
  nap(uniform(1, 7));
  say("SIGCONT " + victim);
  cluster_.resume(victim);
  w.end_s = clock_.now_s();
  windows_.push_back(w);
}

void nemesis::do_partition() {
  auto m = shuffled_members();
  if (m.size() < 3) return;
  const std::size_t minority = (m.size() - 1) / 2;
  std::vector<std::string> a(m.begin(), m.begin() + static_cast<std::ptrdiff_t>(minority)), b(m.begin() + static_cast<std::ptrdiff_t>(minority), m.end());
  std::map<std::string, std::set<std::string>> drop;
  cut(drop, a, b);
  fault_window w{"partition", join(a) + " | " + join(b), clock_.now_s(), 0};
  say("partition " + w.detail);
  cluster_.set_filters(drop);
  nap(uniform(2, 8));
  say("heal");
  cluster_.heal_network();
  w.end_s = clock_.now_s();
  windows_.push_back(w);
}

void nemesis::do_bridge() {
  auto m = shuffled_members();
  if (m.size() < 3) return;
  const std::string bridge = m[0];
  const std::size_t half = 1 + (m.size() - 1) / 2;
  std::vector<std::string> a(m.begin() + 1, m.begin() + static_cast<std::ptrdiff_t>(half)), b(m.begin() + static_cast<std::ptrdiff_t>(half), m.end());
  std::map<std::string, std::set<std::string>> drop;
  cut(drop, a, b);
  fault_window w{"bridge", join(a) + " | " + join(b) + " (bridge " + bridge + ")", clock_.now_s(), 0};
  say("bridge partition " + w.detail);
  cluster_.set_filters(drop);
  nap(uniform(2, 8));
  say("heal");
  cluster_.heal_network();
  w.end_s = clock_.now_s();
  windows_.push_back(w);
}

void nemesis::do_oneway() {
  auto m = shuffled_members();
  if (m.size() < 3) return;
  if (uniform(0, 1) < 0.5)
    if (auto l = cluster_.leader()) {
      m.erase(std::find(m.begin(), m.end(), *l));
      m.insert(m.begin(), *l);
    }
  const std::size_t n = uniform(0, 1) < 0.5 ? 1 : 2;
  std::vector<std::string> group(m.begin(), m.begin() + static_cast<std::ptrdiff_t>(n)), rest(m.begin() + static_cast<std::ptrdiff_t>(n), m.end());
  std::map<std::string, std::set<std::string>> drop;
  const bool into_group = uniform(0, 1) < 0.5;
  for (const auto& g : group)
    for (const auto& r : rest) {
      if (into_group) drop[g].insert(r);  // the group hears nothing from the rest
      else drop[r].insert(g);             // the rest hears nothing from the group
    }
  fault_window w{"oneway", into_group ? join(rest) + " -x-> " + join(group) : join(group) + " -x-> " + join(rest),
                 clock_.now_s(), 0};
  say("one-way partition " + w.detail);
  cluster_.set_filters(drop);
  nap(uniform(2, 8));
  say("heal");
  cluster_.heal_network();
  w.end_s = clock_.now_s();
  windows_.push_back(w);
}

void nemesis::do_isolate_leader() {
  auto m = shuffled_members();
  if (m.size() < 3) return;
  auto l = cluster_.leader();
  const std::string victim = l ? *l : m[0];
  std::vector<std::string> rest;
  for (const auto& id : m)
    if (id != victim) rest.push_back(id);
  std::map<std::string, std::set<std::string>> drop;
  cut(drop, {victim}, rest);
  fault_window w{"isolate", victim + (l ? " (leader)" : " (no leader known)"), clock_.now_s(), 0};
  say("isolate " + w.detail);
  cluster_.set_filters(drop);
  nap(uniform(2, 8));
  say("heal");
  cluster_.heal_network();
  w.end_s = clock_.now_s();
  windows_.push_back(w);
}

void nemesis::do_membership() {
  auto m = shuffled_members();
  if (m.size() < 4) return;
  auto l = cluster_.leader();
  if (!l) return;
  std::string victim, other;
  if (uniform(0, 1) < 0.25) victim = *l;
  for (const auto& id : m) {
    if (victim.empty() && cluster_.usable(id) && id != *l) victim = id;
    else if (other.empty() && id != victim && id != *l && cluster_.usable(id)) other = id;
  }
  if (victim.empty()) return;
  fault_window w{"membership", "", clock_.now_s(), 0};
  // The concurrent fault on another member.
  std::string during = "nothing else";
  const double how = uniform(0, 1);
  const bool isolate_other = how < 0.4;
  const bool kill_leader = how >= 0.75 && victim != *l;
  if (kill_leader) other = *l;
  if (!other.empty()) {
    if (kill_leader) {
      during = "leader " + other + " killed";
    } else if (isolate_other) {
      std::vector<std::string> rest;
      for (const auto& id : m)
        if (id != other) rest.push_back(id);
      std::map<std::string, std::set<std::string>> drop;
      cut(drop, {other}, rest);
      cluster_.set_filters(drop);
      during = other + " isolated";
    } else {
      cluster_.pause(other);
      during = other + " paused";
    }
  }
  say("membership: replace " + victim + (victim == *l ? " (leader)" : "") + " while " + during);

  const bool remove_live = uniform(0, 1) < 0.5;
  if (!remove_live) cluster_.kill(victim);
  test::client in_flight;  // kept open until the end: its reply is not needed
  if (kill_leader) {
    // Ask for the removal, then kill the leader while it runs the change.
    for (const auto& id : m)
      if (id != victim && id != other && cluster_.usable(id) && in_flight.connect(cluster_.port_of(id))) {
        in_flight.ws.send({{"op", "admin.remove_node"}, {"id", victim}, {"admin_token", cluster_.raw().admin_token}},
                          in_flight.err);
        break;
      }
    nap(uniform(0, 0.3));
    say("SIGKILL leader " + other + " during the change");
    cluster_.kill(other);
  }
  bool removed = false;
  const double give_up = clock_.now_s() + 45;
  while (clock_.now_s() < give_up) {
    auto r = cluster_.admin({{"op", "admin.remove_node"}, {"id", victim}}, 20s);
    const std::string code = test::client::code(r);
    if (test::client::ok(r) || code == "not_found") {
      removed = true;
      break;
    }
    say("remove " + victim + ": " + (r.empty() ? std::string("no reply") : json::serialize(r)));
    std::this_thread::sleep_for(500ms);
  }
  cluster_.kill(victim);
  std::string joined;
  if (removed) {
    say("removed " + victim + "; wiping its data directory");
    cluster_.wipe(victim);
    cluster_.refresh_members();
    // Not through the member cut off or killed for this window: a joiner
    // whose only seed cannot reach the leader waits out the window, and the
    // replacement this scenario is about never happens.
    std::string seed;
    for (const auto& id : cluster_.members())
      if (cluster_.usable(id) && id != other) seed = id;
    if (!seed.empty()) {
      joined = cluster_.start_joiner(seed);
      const bool by_admin = uniform(0, 1) < 0.5;
      say("starting " + joined + " (" + victim + "'s replacement, empty data dir) with --join " + seed +
          (by_admin ? " and admin.add_node" : ""));
      if (by_admin) {
        auto r = cluster_.admin({{"op", "admin.add_node"}, {"id", joined}, {"address", cluster_.raw().node(joined).address()}}, 60s);
        say("admin.add_node " + joined + ": " + (r.empty() ? std::string("no reply") : json::serialize(r)));
      }
      // Wait (bounded) until it is a voter.
      const double until = clock_.now_s() + 60;
      bool voter = false;
      while (!voter && clock_.now_s() < until) {
        for (const auto& id : cluster_.members()) {
          if (!cluster_.usable(id) || voter) continue;
          auto s = cluster_.raw().node(id).status();
          if (!s.is_object() || !s.as_object().contains("members")) continue;
          for (const auto& e : s.as_object().at("members").as_array())
            if (e.as_object().at("id").as_string() == joined && e.as_object().at("voter").as_bool()) voter = true;
        }
        if (!voter) std::this_thread::sleep_for(200ms);
      }
      say(joined + (voter ? " is a voter" : " is not a voter after 60 s"));
    }
  } else {
    say("could not remove " + victim + " within 45 s; restarting it with its data");
    cluster_.restart(victim);
  }
  if (!other.empty()) {
    if (kill_leader) cluster_.restart(other);
    else if (isolate_other) cluster_.heal_network();
    else cluster_.resume(other);
  }
  cluster_.refresh_members();
  book_.set(cluster_.member_addresses());
  w.detail = victim + " -> " + (joined.empty() ? "(none)" : joined) + " while " + during;
  w.end_s = clock_.now_s();
  windows_.push_back(w);
}

void nemesis::heal_all() {
  say("healing everything");
  cluster_.refresh_members();
  for (const auto& id : cluster_.members())
    if (cluster_.paused(id)) cluster_.resume(id);
  cluster_.heal_network();
  for (const auto& id : cluster_.members())
    if (!cluster_.alive(id)) cluster_.restart(id);
  cluster_.refresh_members();
  book_.set(cluster_.member_addresses());
}

}  // namespace qc::faults
