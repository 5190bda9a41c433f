// The gateway's views of the node for humans and monitors: `hello`,
// `status` / GET /status (docs/PROTOCOL.md), GET /health and GET /metrics.
#include <sstream>

#include <boost/json.hpp>

#include "actors/gateway_actor.h"

namespace qc::web {
extern const std::string_view index_html;
extern const std::string_view cluster_html;
}

namespace qc::actors {

namespace json = boost::json;

std::string gateway_actor::hello_json() const {
  json::object o;
  o["node"] = view_->id;
  o["role"] = view_->role_name();
  o["leader"] = view_->leader.empty() ? json::value(nullptr) : json::value(view_->leader);
  o["term"] = view_->term;
  o["version"] = version_;
  return json::serialize(o);
}

std::string gateway_actor::status_json() const {
  json::object o;
  o["node"] = view_->id;
  o["role"] = view_->role_name();
  o["term"] = view_->term;
  o["leader"] = view_->leader.empty() ? json::value(nullptr) : json::value(view_->leader);
  o["commit_index"] = view_->commit_index;
  o["applied_index"] = applied_index_;
  o["snapshot_index"] = view_->snapshot_index;
  o["last_index"] = view_->last_index;
  json::array members;
  for (const auto& m : view_->config.members) {
    json::object mo;
    mo["id"] = m.id;
    mo["address"] = m.address;
    mo["voter"] = m.voter;
    mo["reachable"] = m.id == view_->id || reachable(m.id);
    json::value match = nullptr;
    for (const auto& p : view_->progress)
      if (p.id == m.id) match = p.match;
    if (m.id == view_->id) match = view_->last_index;
    mo["match_index"] = match;
    members.push_back(std::move(mo));
  }
  o["members"] = std::move(members);
  o["clients"] = conns_.size();
  // [storage]: this node's alarm, its figures, and the members whose alarm
  // this node knows of (the leader hears every voter's).
  o["storage_full"] = alarm_.full();
  o["storage_used_bytes"] = alarm_.used_bytes();
  o["storage_quota_bytes"] = alarm_.quota_bytes();
  o["storage_reserved_bytes"] = alarm_.reserved_bytes();
  o["storage_available_bytes"] = alarm_.available_bytes();
  const auto disk_error = alarm_.disk_error();
  o["storage_error"] = disk_error.empty() ? json::value(nullptr) : json::value(disk_error);
  json::array full;
  for (auto& id : alarm_.full_members(view_->id, view_->config, std::chrono::steady_clock::now())) full.emplace_back(id);
  o["storage_full_members"] = std::move(full);
  return json::serialize(o);
}

bool gateway_actor::healthy() const {
  // A known leader, membership, and the state machine keeping up.
  return !view_->leader.empty() && view_->member &&
         applied_index_ + 10'000 >= view_->commit_index;
}

std::string gateway_actor::metrics_text() const {
  std::ostringstream os;
  auto gauge = [&](const char* name, const char* help, auto value, const std::string& labels = "") {
    os << "# HELP " << name << ' ' << help << "\n# TYPE " << name << " gauge\n"
       << name << labels << ' ' << value << '\n';
  };
  auto counter = [&](const char* name, const char* help, std::uint64_t value) {
    os << "# HELP " << name << ' ' << help << "\n# TYPE " << name << " counter\n"
       << name << ' ' << value << '\n';
  };
  const std::string role = view_->role_name();
  os << "# HELP qc_role Current Raft role (1 for the role this node is in).\n# TYPE qc_role gauge\n";
  for (const char* r : {"leader", "follower", "candidate", "learner", "removed"})
    os << "qc_role{role=\"" << r << "\"} " << (role == r ? 1 : 0) << '\n';
  gauge("qc_term", "Current Raft term.", view_->term);
  gauge("qc_commit_index", "Highest log index known committed.", view_->commit_index);
  gauge("qc_applied_index", "Highest log index applied to the state machine.", applied_index_);
  gauge("qc_last_index", "Last index in the local log.", view_->last_index);
  gauge("qc_snapshot_index", "Index of the latest snapshot.", view_->snapshot_index);
  std::size_t linked = 0;
  for (const auto& m : view_->config.members)
    if (m.id != view_->id && reachable(m.id)) ++linked;
  gauge("qc_peers_reachable", "Peers with a live authenticated link.", linked);
  gauge("qc_members", "Members in the configuration.", view_->config.members.size());
  gauge("qc_clients_connected", "Client WebSocket connections.", conns_.size());
  gauge("qc_pending_writes", "Client writes waiting for commit.", writes_.size());
  gauge("qc_storage_used_bytes", "Bytes of the data directory in use (less SQLite free pages).", alarm_.used_bytes());
  gauge("qc_storage_quota_bytes", "[storage] quota_bytes.", alarm_.quota_bytes());
  gauge("qc_storage_reserved_bytes", "Room kept under the quota for the next snapshot copy.", alarm_.reserved_bytes());
  gauge("qc_storage_available_bytes", "Free bytes of the data directory's file system.", alarm_.available_bytes());
  gauge("qc_storage_full", "1 while this node's storage alarm is up (quota reached or disk full).",
        alarm_.full() ? 1 : 0);
  gauge("qc_storage_full_members", "Members whose storage alarm this node knows to be up.",
        alarm_.full_members(view_->id, view_->config, std::chrono::steady_clock::now()).size());
  counter("qc_requests_total", "Client requests received.", metrics_.requests);
  counter("qc_raft_steps_refused_total", "Peer messages the Raft core refused (other than stale ones).",
          view_->steps_refused);
  counter("qc_request_errors_total", "Client requests answered with an error.", metrics_.request_errors);
  counter("qc_logins_rate_limited_total", "Password attempts refused by the login rate limits.",
          metrics_.logins_rate_limited);
  counter("qc_writes_storage_full_total", "Writes refused with storage_full.", metrics_.writes_storage_full);
  gauge("qc_password_hashes_pending", "Password hashes queued or running.", hash_pool_.pending());
  counter("qc_password_hashes_refused_total", "Password ops refused because the hash queue was full.",
          hash_pool_.refused());
  counter("qc_login_limiter_evicted_total", "Partial login counts forgotten to make room (table full).",
          login_per_user_.evicted() + login_per_conn_.evicted());
  counter("qc_proposals_total", "Entries proposed by this node as leader.", metrics_.proposals);
  counter("qc_proposals_forwarded_total", "Proposals forwarded to the leader.", metrics_.proposals_forwarded);
  counter("qc_proposals_failed_total", "Writes not committed within the bound.", metrics_.proposals_failed);
  counter("qc_reads_linearizable_total", "Linearizable reads served.", metrics_.reads_linearizable);
  counter("qc_reads_local_total", "Local reads served.", metrics_.reads_local);
  counter("qc_reads_on_loop_total", "Reads answered on the event loop from chat.db's committed state, without the apply thread.",
          metrics_.reads_on_loop);
  counter("qc_events_sent_total", "Live events pushed to clients.", metrics_.events_sent);
  counter("qc_clients_dropped_total", "Slow clients disconnected.", metrics_.clients_dropped);
  metrics_.commit_latency.render(os, "qc_commit_latency_seconds",
                                 "Client write latency, received to applied on this node.");
  metrics_.loop_lag.render(os, "qc_loop_lag_seconds",
                           "How late the event loop ran a timer due every 50 ms (every actor but storage and apply runs there).");
  metrics_.log_persist.render(os, "qc_log_persist_seconds",
                              "One Raft log record written and fdatasynced (storage thread).");
  metrics_.persist_round_trip.render(os, "qc_persist_round_trip_seconds",
                                     "A ready batch handed to the storage thread until its ack is back on the loop.");
  return os.str();
}

net::http_reply gateway_actor::http_get(const std::string& target) {
  const std::string path = target.substr(0, target.find('?'));
  if (path == "/" || path == "/index.html")
    return {200, "text/html; charset=utf-8", std::string(web::index_html)};
  if (path == "/cluster") return {200, "text/html; charset=utf-8", std::string(web::cluster_html)};
  // Public, read-only, secret-free JSON: other origins (dashboards) may read it.
  if (path == "/status") return {200, "application/json", status_json(), true};
  if (path == "/health") {
    const bool ok = healthy();
    return {ok ? 200u : 503u, "application/json",
            boost::json::serialize(boost::json::object{
                {"healthy", ok},
                {"node", view_->id},
                {"leader", view_->leader.empty() ? boost::json::value(nullptr) : boost::json::value(view_->leader)}}),
            true};
  }
  if (path == "/metrics") return {200, "text/plain; version=0.0.4; charset=utf-8", metrics_text()};
  return {404, "text/plain; charset=utf-8", "not found\n"};
}

}  // namespace qc::actors
