#include "bench/capacity.h"

#include <cstdio>
#include <thread>

#include <boost/json.hpp>

#include "bench/node_proc.h"

namespace qc::bench {

namespace json = boost::json;

capacity_result run_capacity(boost::asio::io_context& io, const capacity_options& o) {
  capacity_result res;
  // Users (and one sender) logged in once each, spread over the nodes.
  session_options so;
  so.nodes = o.nodes;
  so.connections = o.users + 1;
  so.prefix = o.prefix;
  std::string err;
  auto base = open_sessions(io, so, err);
  if (!err.empty()) {
    res.error = err;
    return res;
  }
  session sender = base.back();
  base.pop_back();

  for (const auto& a : o.nodes) {
    capacity_node n;
    n.address = a;
    if (auto pid = pid_listening_on(std::stoi(a.substr(a.rfind(':') + 1)))) {
      n.pid = *pid;
      n.rss_before_kib = rss_kib(n.pid).value_or(0);
    }
    res.nodes.push_back(n);
  }

  const auto t_open = clock::now();
  std::vector<session> idle;
  for (std::size_t i = 0; i < o.nodes.size(); ++i) {
    auto more = open_resumed(io, base, o.nodes[i], i, o.per_node, o.concurrency, err);
    idle.insert(idle.end(), std::make_move_iterator(more.begin()), std::make_move_iterator(more.end()));
    if (!err.empty()) {
      res.error = "node " + o.nodes[i] + ": " + err + " (after " + std::to_string(idle.size()) + " connections)";
      return res;
    }
  }
  res.open_s = std::chrono::duration<double>(clock::now() - t_open).count();
  res.connections = idle.size();
  // Let the node settle (allocator, queues), keeping our sockets serviced.
  run_until(io, [] { return false; }, o.settle_s);
  for (auto& n : res.nodes) {
    if (n.pid < 0) continue;
    n.rss_after_kib = rss_kib(n.pid).value_or(0);
    n.bytes_per_conn = o.per_node ? (static_cast<double>(n.rss_after_kib) - static_cast<double>(n.rss_before_kib)) *
                                        1024.0 / static_cast<double>(o.per_node)
                                  : 0;
  }

  // The burst: one message to every user; each idle connection must see one event.
  std::vector<bool> got(idle.size(), false);
  clock::time_point t_burst;
  for (std::size_t i = 0; i < idle.size(); ++i)
    idle[i].conn->on_event([&, i](json::object& ev) {
      if (got[i] || ev["event"] != "message") return;
      got[i] = true;
      ++res.delivered;
      res.per_conn_us.record(static_cast<std::uint64_t>(
          std::chrono::duration_cast<std::chrono::microseconds>(clock::now() - t_burst).count()));
    });
  std::size_t acked = 0;
  t_burst = clock::now();
  for (const auto& u : base)
    sender.conn->request({{"op", "send"}, {"to", u.user}, {"body", "burst"}}, [&](json::object&) { ++acked; });
  res.burst_messages = base.size();
  run_until(io, [&] { return res.delivered == idle.size() && acked == base.size(); }, 120);
  if (res.delivered == idle.size()) res.deliver_ms = static_cast<double>(res.per_conn_us.max()) / 1000.0;
  else res.error = "burst reached only " + std::to_string(res.delivered) + " of " + std::to_string(idle.size()) + " connections";
  for (auto& s : idle) s.conn->close();
  for (auto& s : base) s.conn->close();
  sender.conn->close();
  run_until(io, [] { return false; }, 0.2);
  return res;
}

json::object to_json(const capacity_result& r) {
  json::object o;
  json::array ns;
  for (const auto& n : r.nodes)
    ns.push_back(json::object{{"address", n.address}, {"pid", n.pid}, {"rss_before_kib", n.rss_before_kib},
                              {"rss_after_kib", n.rss_after_kib}, {"bytes_per_conn", n.bytes_per_conn}});
  o["nodes"] = std::move(ns);
  o["connections"] = r.connections;
  o["open_s"] = r.open_s;
  o["burst_messages"] = r.burst_messages;
  o["delivered"] = r.delivered;
  o["deliver_ms"] = r.deliver_ms;
  o["deliver_p50_ms"] = static_cast<double>(r.per_conn_us.quantile(0.5)) / 1000.0;
  o["deliver_p99_ms"] = static_cast<double>(r.per_conn_us.quantile(0.99)) / 1000.0;
  if (!r.error.empty()) o["error"] = r.error;
  return o;
}

std::string render(const capacity_result& r) {
  std::string out;
  char line[256];
  for (const auto& n : r.nodes) {
    std::snprintf(line, sizeof line, "node %s pid %d: RSS %llu -> %llu KiB, %.1f KiB per connection\n", n.address.c_str(),
                  n.pid, static_cast<unsigned long long>(n.rss_before_kib),
                  static_cast<unsigned long long>(n.rss_after_kib), n.bytes_per_conn / 1024.0);
    out += line;
  }
  std::snprintf(line, sizeof line,
                "%zu idle connections opened in %.2f s; burst of %zu messages reached %zu connections: "
                "last %.1f ms, p50 %.1f ms, p99 %.1f ms\n",
                r.connections, r.open_s, r.burst_messages, r.delivered, r.deliver_ms,
                static_cast<double>(r.per_conn_us.quantile(0.5)) / 1000.0,
                static_cast<double>(r.per_conn_us.quantile(0.99)) / 1000.0);
  out += line;
  if (!r.error.empty()) out += "error: " + r.error + "\n";
  return out;
}

}  // namespace qc::bench
