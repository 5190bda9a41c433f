#include "faults/run/fault_cluster.h"

#include <algorithm>

namespace qc::faults {

namespace json = boost::json;
using namespace std::chrono_literals;

fault_cluster::fault_cluster(int n, std::string extra_toml) : c_(n, extra_toml), extra_toml_(std::move(extra_toml)) {
  for (const auto& p : c_.nodes) members_.push_back(p.id);
  next_id_ = n;
}

void fault_cluster::start_all() { c_.start_all(); }

bool fault_cluster::refresh_members() {
  for (const auto& id : members_) {
    if (!usable(id)) continue;
    auto s = c_.node(id).status();
    if (!s.is_object()) continue;
    const auto& o = s.as_object();
    auto* l = o.if_contains("leader");
    auto* m = o.if_contains("members");
    if (!l || !l->is_string() || !m || !m->is_array() || m->as_array().empty()) continue;
    std::vector<std::string> ids;
    for (const auto& e : m->as_array())
      if (e.is_object() && e.as_object().contains("id")) ids.emplace_back(e.as_object().at("id").as_string());
    members_ = ids;
    return true;
  }
  return false;
}

std::vector<std::string> fault_cluster::member_addresses() const {
  std::vector<std::string> out;
  for (const auto& p : c_.nodes)
    if (std::find(members_.begin(), members_.end(), p.id) != members_.end()) out.push_back(p.address());
  return out;
}

std::optional<std::string> fault_cluster::leader() {
  std::optional<std::string> best;
  std::int64_t best_term = -1;
  for (const auto& id : members_) {
    if (!usable(id)) continue;
    auto s = c_.node(id).status();
    if (!s.is_object()) continue;
    const auto& o = s.as_object();
    auto* role = o.if_contains("role");
    auto* term = o.if_contains("term");
    if (role && role->is_string() && role->as_string() == "leader" && term && term->is_int64() &&
        term->as_int64() > best_term) {
      best = id;
      best_term = term->as_int64();
    }
  }
  return best;
}

bool fault_cluster::alive(const std::string& id) {
  auto& p = c_.node(id);
  if (p.pid <= 0) return false;
  int status = 0;
  if (::waitpid(p.pid, &status, WNOHANG) == 0) return true;
  // It exited on its own: a crash (or a refusal to start) unless it was told to stop.
  crashes_.push_back(id + ": exited with " +
                     (WIFSIGNALED(status) ? "signal " + std::to_string(WTERMSIG(status))
                                          : "status " + std::to_string(WEXITSTATUS(status))) +
                     "; log " + p.log_file.string());
  p.pid = -1;
  paused_.erase(id);
  return false;
}

void fault_cluster::kill(const std::string& id) {
  auto& p = c_.node(id);
  if (paused_.erase(id)) ::kill(p.pid, SIGCONT);  // a killed process is no longer paused
  p.signal(SIGKILL);
}

void fault_cluster::restart(const std::string& id) {
  if (alive(id)) return;
  c_.node(id).start();
}

void fault_cluster::pause(const std::string& id) {
  auto& p = c_.node(id);
  if (p.pid <= 0 || paused_.count(id)) return;
  p.signal(SIGSTOP);
  paused_.insert(id);
}

void fault_cluster::resume(const std::string& id) {
  auto& p = c_.node(id);
  if (!paused_.erase(id) || p.pid <= 0) return;
  p.signal(SIGCONT);
}

json::object fault_cluster::call(const std::string& id, json::object req, std::chrono::milliseconds timeout) {
  test::client cl;
  if (!cl.connect(c_.node(id).port)) return {};
  return cl.call(std::move(req), timeout);
}

void fault_cluster::set_filters(const std::map<std::string, std::set<std::string>>& drop) {
  for (const auto& id : members_) {
    if (!usable(id)) continue;
    json::array from;
    if (auto it = drop.find(id); it != drop.end())
      for (const auto& d : it->second) from.emplace_back(d);
    call(id, {{"op", "admin.net_filter"}, {"admin_token", c_.admin_token}, {"drop_from", std::move(from)}}, 3s);
  }
}

json::object fault_cluster::admin(json::object req, std::chrono::milliseconds timeout) {
  req["admin_token"] = c_.admin_token;
  // A member cut off from the leader answers `unavailable` after its
  // bound: then ask the next one.
  auto order = members_;
  std::shuffle(order.begin(), order.end(), rng_);
  json::object last;
  for (const auto& id : order) {
    if (!usable(id)) continue;
    auto r = call(id, req, timeout);
    if (r.empty()) continue;
    if (test::client::code(r) != "unavailable") return r;
    last = std::move(r);
  }
  return last;
}

std::string fault_cluster::start_joiner(const std::string& seed_id) {
  const std::string id = "n" + std::to_string(++next_id_);
  const std::string seed = c_.node(seed_id).address();
  auto& p = c_.add_joiner(id, extra_toml_);
  p.start({"--join", seed});
  return id;
}

void fault_cluster::wipe(const std::string& id) {
  std::error_code ec;
  std::filesystem::remove_all(c_.node(id).dir, ec);
}

void fault_cluster::stop_all() {
  for (auto& p : c_.nodes) {
    if (paused_.count(p.id) && p.pid > 0) ::kill(p.pid, SIGCONT);
    if (p.pid > 0) p.signal(SIGKILL);
  }
  paused_.clear();
}

}  // namespace qc::faults
