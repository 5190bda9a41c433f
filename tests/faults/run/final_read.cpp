#include "faults/run/final_read.h"

#include <thread>

namespace qc::faults {

namespace json = boost::json;
using namespace std::chrono_literals;

double await_convergence(fault_cluster& c, final_state& out, std::chrono::seconds timeout) {
  const auto start = std::chrono::steady_clock::now();
  const auto deadline = start + timeout;
  for (;;) {
    c.refresh_members();
    out.digests.clear();
    out.unreachable.clear();
    for (const auto& id : c.members()) {
      auto r = c.call(id, {{"op", "admin.digest"}, {"admin_token", c.raw().admin_token}, {"consistency", "local"}}, 5s);
      if (!test::client::ok(r)) {
        out.unreachable.push_back(id);
        continue;
      }
      out.digests[id] = {std::string(r.at("digest").as_string()), r.at("applied_index").to_number<std::uint64_t>()};
    }
    bool same = out.unreachable.empty() && !out.digests.empty();
    for (const auto& [id, d] : out.digests) same = same && d == out.digests.begin()->second;
    // Equal digests must also be final: the leader's commit index reached.
    if (same) {
      if (auto l = c.leader()) {
        auto s = c.raw().node(*l).status();
        if (s.is_object() && s.as_object().at("commit_index").to_number<std::uint64_t>() ==
                                 out.digests.begin()->second.second)
          return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      }
    }
    if (std::chrono::steady_clock::now() > deadline) return -1;
    std::this_thread::sleep_for(500ms);
  }
}

bool read_conversations(fault_cluster& c, const std::vector<std::string>& users,
                        const std::vector<std::string>& tokens, final_state& out, std::string& err) {
  constexpr std::size_t page = 1000;
  for (std::size_t i = 0; i < users.size(); ++i) {
    for (std::size_t j = i; j < users.size(); ++j) {
      bool done = false;
      for (const auto& id : c.members()) {
        if (done || !c.usable(id)) continue;
        test::client cl;
        if (!cl.connect(c.port_of(id))) continue;
        if (!test::client::ok(cl.call({{"op", "resume"}, {"token", tokens[i]}}, 10s))) continue;
        std::vector<message> all;
        std::optional<std::uint64_t> before;
        bool failed = false;
        for (;;) {
          json::object req{{"op", "history"}, {"with", users[j]}, {"limit", page}};
          if (before) req["before"] = *before;
          auto r = cl.call(req, 10s);
          if (!test::client::ok(r)) {
            err = "final read of " + users[i] + "/" + users[j] + " on " + id + ": " + json::serialize(r);
            failed = true;
            break;
          }
          std::vector<message> got;
          for (const auto& v : r.at("messages").as_array()) {
            const auto& o = v.as_object();
            got.push_back({o.at("id").to_number<std::uint64_t>(), std::string(o.at("from").as_string()),
                           std::string(o.at("to").as_string()), std::string(o.at("body").as_string()),
                           o.at("read").as_bool()});
          }
          all.insert(all.begin(), got.begin(), got.end());
          if (got.size() < page) break;
          before = got.front().id;
        }
        if (failed) continue;
        out.conversations[conv_key(users[i], users[j])] = std::move(all);
        done = true;
      }
      if (!done) {
        if (err.empty()) err = "no member could serve the final read of " + users[i] + "/" + users[j];
        return false;
      }
    }
  }
  return true;
}

}  // namespace qc::faults
