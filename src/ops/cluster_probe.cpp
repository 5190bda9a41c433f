#include "ops/cluster_probe.h"

#include <cstdio>
#include <iomanip>
#include <map>
#include <set>
#include <sstream>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>

#include "common/host_port.h"
#include "net/tls.h"
#include "net/ws_client.h"

namespace qc::ops {

namespace json = boost::json;
namespace http = boost::beast::http;

std::optional<std::pair<int, std::string>> http_get(const std::string& address, const std::string& path,
                                                    std::chrono::milliseconds timeout) {
  bool tls = false;
  const std::string host_port = net::strip_scheme(address, tls);
  const auto hp = common::parse_host_port(host_port);
  if (!hp) return std::nullopt;
  const std::string &host = hp->host, &port = hp->port;
  boost::asio::io_context io;
  net::stream s(io);
  std::string err;
  if (tls) {
    auto ctx = net::tool_client_context(err);
    if (!ctx || net::start_client_tls(s, *ctx, host)) return std::nullopt;
  }
  boost::beast::flat_buffer buf;
  http::response<http::string_body> res;
  http::request<http::empty_body> req(http::verb::get, path, 11);
  req.set(http::field::host, host);
  bool ok = false;
  boost::asio::ip::tcp::resolver resolver(io);
  s.next_layer().expires_after(timeout);
  auto exchange = [&] {
    http::async_write(s, req, [&](auto ec3, auto) {
      if (ec3) return;
      http::async_read(s, buf, res, [&](auto ec4, auto) { ok = !ec4; });
    });
  };
  resolver.async_resolve(host, port, [&](auto ec, auto results) {
    if (ec) return;
    s.next_layer().async_connect(results, [&](auto ec2, auto) {
      if (ec2) return;
      if (!s.is_tls()) return exchange();
      s.tls().async_handshake(boost::asio::ssl::stream_base::client, [&](auto ec3) {
        if (!ec3) exchange();
      });
    });
  });
  io.run_for(timeout + std::chrono::milliseconds(100));
  if (!ok) return std::nullopt;
  return std::make_pair(static_cast<int>(res.result_int()), res.body());
}

namespace {
std::string str(const json::object& o, const char* k) {
  auto* v = o.if_contains(k);
  return v && v->is_string() ? std::string(v->as_string()) : std::string();
}
std::uint64_t num(const json::object& o, const char* k) {
  auto* v = o.if_contains(k);
  if (!v) return 0;
  if (v->is_uint64()) return v->as_uint64();
  if (v->is_int64()) return static_cast<std::uint64_t>(std::max<std::int64_t>(0, v->as_int64()));
  return 0;
}
}  // namespace

int cluster_view::healthy_voters() const {
  int n = 0;
  std::uint64_t commit = 0;
  for (const auto& v : nodes)
    if (v.up) commit = std::max(commit, v.commit);
  for (const auto& v : nodes)
    if (v.up && v.voter && !v.leader.empty() && v.applied + 10'000 >= commit) ++n;
  return n;
}

std::size_t cluster_view::voters() const {
  std::size_t n = 0;
  for (const auto& v : nodes) n += v.voter ? 1 : 0;
  return n;
}

cluster_view probe_cluster(const std::vector<std::string>& seeds) {
  cluster_view out;
  std::map<std::string, node_view> by_addr;
  std::map<std::string, std::pair<std::string, bool>> members;  // address -> (id, voter), from the best source
  std::uint64_t best_term = 0;
  bool best_is_leader = false;
  std::vector<std::string> todo(seeds.begin(), seeds.end());
  std::set<std::string> probed;
  while (!todo.empty()) {
    const std::string addr = todo.back();
    todo.pop_back();
    if (!probed.insert(addr).second) continue;
    node_view nv;
    nv.address = addr;
    if (auto r = http_get(addr, "/status"); r && r->first == 200) {
      json::error_code ec;
      auto v = json::parse(r->second, ec);
      if (!ec && v.is_object()) {
        const auto& o = v.as_object();
        nv.up = true;
        nv.id = str(o, "node");
        nv.role = str(o, "role");
        nv.leader = str(o, "leader");
        nv.term = num(o, "term");
        nv.commit = num(o, "commit_index");
        nv.applied = num(o, "applied_index");
        auto* full = o.if_contains("storage_full");
        nv.storage_full = full && full->is_bool() && full->as_bool();
        nv.storage_used = num(o, "storage_used_bytes");
        nv.storage_quota = num(o, "storage_quota_bytes");
        // The leader's configuration (or the highest term's) is the truth.
        const bool is_leader = nv.role == "leader";
        if (auto* ms = o.if_contains("members"); ms && ms->is_array() &&
            (is_leader || (!best_is_leader && nv.term >= best_term))) {
          members.clear();
          for (const auto& m : ms->as_array()) {
            if (!m.is_object()) continue;
            const auto& mo = m.as_object();
            auto* vo = mo.if_contains("voter");
            members[str(mo, "address")] = {str(mo, "id"), vo && vo->is_bool() && vo->as_bool()};
            todo.push_back(str(mo, "address"));
          }
          best_term = nv.term;
          best_is_leader = best_is_leader || is_leader;
        }
      }
    }
    by_addr[addr] = nv;
  }
  std::map<std::string, int> leader_votes;
  for (auto& [addr, nv] : by_addr) {
    auto m = members.find(addr);
    if (m != members.end()) {
      if (nv.id.empty()) nv.id = m->second.first;
      nv.voter = m->second.second;
    } else if (!nv.up) {
      continue;  // a seed that is down and not a member: nothing to say
    }
    if (nv.up && !nv.leader.empty()) ++leader_votes[nv.leader];
    out.nodes.push_back(nv);
  }
  for (auto& [id, n] : leader_votes)
    if (leader_votes.size() == 1) out.leader = id;
  std::sort(out.nodes.begin(), out.nodes.end(), [](auto& a, auto& b) { return a.id < b.id; });
  return out;
}

namespace {
/// "1.2G/8.0G", "FULL 7.9M/8.0M", or "-" when the node does not say.
std::string storage_cell(const node_view& n) {
  if (n.storage_quota == 0) return "-";
  auto human = [](std::uint64_t b) {
    const char* units = "KMGT";
    double v = static_cast<double>(b) / 1024;
    int u = 0;
    while (v >= 1024 && u < 3) v /= 1024, ++u;
    char out[16];
    std::snprintf(out, sizeof out, "%.1f%c", v, units[u]);
    return std::string(out);
  };
  return (n.storage_full ? "FULL " : "") + human(n.storage_used) + "/" + human(n.storage_quota);
}
}  // namespace

std::string render_table(const cluster_view& v) {
  std::ostringstream os;
  os << std::left << std::setw(8) << "ID" << std::setw(22) << "ADDRESS" << std::setw(10) << "ROLE" << std::setw(7)
     << "TERM" << std::setw(8) << "LEADER" << std::setw(10) << "COMMIT" << std::setw(10) << "APPLIED"
     << std::setw(18) << "STORAGE" << "REACHABLE\n";
  for (const auto& n : v.nodes) {
    os << std::left << std::setw(8) << (n.id.empty() ? "?" : n.id) << std::setw(22) << n.address;
    if (n.up)
      os << std::setw(10) << (n.voter || n.role == "learner" ? n.role : n.role + "*") << std::setw(7) << n.term
         << std::setw(8) << (n.leader.empty() ? "-" : n.leader) << std::setw(10) << n.commit << std::setw(10)
         << n.applied << std::setw(18) << storage_cell(n) << "yes\n";
    else
      os << std::setw(10) << "down" << std::setw(7) << "-" << std::setw(8) << "-" << std::setw(10) << "-"
         << std::setw(10) << "-" << std::setw(18) << "-" << "no\n";
  }
  return os.str();
}

bool is_ok(const std::optional<json::object>& r) {
  return r && r->contains("ok") && r->at("ok").is_bool() && r->at("ok").as_bool();
}

namespace {
std::string error_field(const std::optional<json::object>& r, const char* key) {
  if (!r) return {};
  auto* e = r->if_contains("error");
  if (!e || !e->is_object()) return {};
  auto* v = e->as_object().if_contains(key);
  return v && v->is_string() ? std::string(v->as_string()) : std::string();
}
}  // namespace

std::string error_code_of(const std::optional<json::object>& r) { return error_field(r, "code"); }
std::string error_message_of(const std::optional<json::object>& r) { return error_field(r, "message"); }

std::optional<json::object> admin_call(const std::vector<std::string>& seeds, json::object req, std::string& err,
                                       std::chrono::milliseconds timeout) {
  for (const auto& s : seeds) {
    net::ws_client c;
    if (auto e = c.connect(s)) {
      err = e.what;
      continue;
    }
    auto r = c.request(req, err, timeout);
    if (r) return r;
  }
  if (err.empty()) err = "no node answered";
  return std::nullopt;
}

}  // namespace qc::ops
