#include "faults/run/workload.h"

#include <optional>
#include <random>

#include <boost/json.hpp>

#include "net/ws_client.h"

namespace qc::faults {

namespace json = boost::json;
using namespace std::chrono_literals;

namespace {

bool is_ok(const json::object& r) {
  auto* v = r.if_contains("ok");
  return v && v->is_bool() && v->as_bool();
}

std::string error_code(const json::object& r) {
  auto* e = r.if_contains("error");
  if (!e || !e->is_object()) return "malformed reply";
  auto* c = e->as_object().if_contains("code");
  return c && c->is_string() ? std::string(c->as_string()) : "malformed reply";
}

std::optional<message> parse_message(const json::value& v) {
  if (!v.is_object()) return std::nullopt;
  const auto& o = v.as_object();
  auto* id = o.if_contains("id");
  auto* from = o.if_contains("from");
  auto* to = o.if_contains("to");
  auto* body = o.if_contains("body");
  auto* read = o.if_contains("read");
  if (!id || !id->is_number() || !from || !from->is_string() || !to || !to->is_string() || !body || !body->is_string())
    return std::nullopt;
  message m;
  m.id = id->to_number<std::uint64_t>();
  m.from = std::string(from->as_string());
  m.to = std::string(to->as_string());
  m.body = std::string(body->as_string());
  m.read = read && read->is_bool() && read->as_bool();
  return m;
}

/// Writes that may have happened even though the node said so: the node
/// gives up waiting on `unavailable`, but the entry may still commit.
bool outcome_unknown(const std::string& code) { return code == "unavailable" || code == "internal"; }

}  // namespace

std::string user_of(int i) { return "u" + std::to_string(i); }

std::vector<std::string> create_users(const address_book& book, int n, const std::string& password, std::string& err) {
  std::vector<std::string> tokens;
  std::mt19937_64 rng(7);
  const auto deadline = std::chrono::steady_clock::now() + 60s;
  for (int i = 0; i < n; ++i) {
    for (;;) {
      if (std::chrono::steady_clock::now() > deadline) {
        err = "could not create user " + user_of(i) + ": " + err;
        return {};
      }
      net::ws_client ws;
      if (auto e = ws.connect(book.pick(rng))) {
        err = e.what;
        std::this_thread::sleep_for(200ms);
        continue;
      }
      auto c = ws.request({{"op", "create_account"}, {"user", user_of(i)}, {"password", password}}, err, 10s);
      if (!c || (!is_ok(*c) && error_code(*c) != "conflict")) {
        if (c) err = json::serialize(*c);
        std::this_thread::sleep_for(200ms);
        continue;
      }
      auto l = ws.request({{"op", "login"}, {"user", user_of(i)}, {"password", password}}, err, 10s);
      if (!l || !is_ok(*l)) {
        if (l) err = json::serialize(*l);
        std::this_thread::sleep_for(200ms);
        continue;
      }
      tokens.emplace_back(l->at("token").as_string());
      break;
    }
  }
  return tokens;
}

workload::workload(const address_book& book, const run_clock& clock, workload_options opt, std::vector<std::string> tokens)
    : book_(book), clock_(clock), opt_(opt), tokens_(std::move(tokens)), records_(opt.clients) {}

workload::~workload() { stop(); }

void workload::start() {
  for (int i = 0; i < opt_.clients; ++i) threads_.emplace_back([this, i] { run_client(i); });
}

void workload::stop() {
  stop_ = true;
  for (auto& t : threads_)
    if (t.joinable()) t.join();
  threads_.clear();
}

std::vector<op_record> workload::history() const {
  std::vector<op_record> all;
  for (const auto& r : records_) all.insert(all.end(), r.begin(), r.end());
  return all;
}

void workload::run_client(int i) {
  std::mt19937_64 rng(opt_.seed * 1000003 + static_cast<std::uint64_t>(i));
  auto chance = [&](double p) { return std::uniform_real_distribution<double>(0, 1)(rng) < p; };
  const std::string me = user_of(i);
  auto& out = records_[i];
  net::ws_client ws;
  std::string node, err;
  std::uint64_t seq = 0;
  std::optional<std::pair<std::string, std::string>> retry;  // (to, body) of a send with unknown outcome
  std::vector<message> seen;                                 // recent messages of my conversations

  auto reconnect = [&] {
    ws.close();
    while (!stop_) {
      const std::string addr = book_.pick(rng, node);
      if (!addr.empty() && !ws.connect(addr, "/ws", 2000ms)) {
        auto r = ws.request({{"op", "resume"}, {"token", tokens_[i]}}, err, 5s);
        if (r && is_ok(*r)) {
          node = addr;
          return true;
        }
        ws.close();
      }
      std::this_thread::sleep_for(200ms);
    }
    return false;
  };

  while (!stop_) {
    if (!ws.is_open() && !reconnect()) break;
    op_record rec;
    rec.process = i;
    rec.user = me;
    rec.node = node;
    json::object req;
    const double dice = std::uniform_real_distribution<double>(0, 1)(rng);
    if (retry || dice < 0.45) {
      rec.kind = op_kind::send;
      if (retry) {
        rec.peer = retry->first;
        rec.body = retry->second;
        retry.reset();
      } else {
        rec.peer = user_of(static_cast<int>(rng() % static_cast<std::uint64_t>(opt_.clients)));
        rec.body = me + "-" + std::to_string(++seq);
      }
      rec.nonce = rec.body;
      req = {{"op", "send"}, {"to", rec.peer}, {"body", rec.body}, {"nonce", rec.nonce}};
    } else if (dice < 0.78 || seen.empty()) {
      rec.kind = op_kind::read;
      rec.peer = user_of(static_cast<int>(rng() % static_cast<std::uint64_t>(opt_.clients)));
      req = {{"op", "history"}, {"with", rec.peer}, {"limit", opt_.history_limit}};
      rec.local = chance(0.15);
      if (rec.local) req["consistency"] = "local";
    } else if (dice < 0.90) {
      rec.kind = op_kind::mark_read;
      std::vector<std::size_t> mine;
      for (std::size_t k = 0; k < seen.size(); ++k)
        if (seen[k].to == me && !seen[k].read) mine.push_back(k);
      for (int k = 0; k < 4 && !mine.empty(); ++k) rec.ids.push_back(seen[mine[rng() % mine.size()]].id);
      if (rec.ids.empty()) rec.ids.push_back(seen[rng() % seen.size()].id);  // not mine: ignored by the node
      json::array ids;
      for (auto id : rec.ids) ids.emplace_back(id);
      req = {{"op", "mark_read"}, {"ids", std::move(ids)}};
    } else {
      rec.kind = op_kind::del;
      const std::size_t k = rng() % seen.size();
      rec.ids.push_back(seen[k].id);
      seen.erase(seen.begin() + static_cast<std::ptrdiff_t>(k));
      json::array ids;
      for (auto id : rec.ids) ids.emplace_back(id);
      req = {{"op", "delete_messages"}, {"ids", std::move(ids)}};
    }

    rec.invoke_ns = clock_.now_ns();
    auto r = ws.request(std::move(req), err, opt_.call_timeout);
    rec.complete_ns = clock_.now_ns();
    if (!r) {
      rec.result = outcome::unknown;
      rec.error = err.empty() ? "no reply" : err;
      ws.close();  // stalled or dead: go elsewhere
    } else if (is_ok(*r)) {
      rec.result = outcome::ok;
      if (rec.kind == op_kind::send) {
        auto m = r->if_contains("message") ? parse_message(r->at("message")) : std::nullopt;
        if (m) rec.msg_id = m->id;
        else rec.result = outcome::unknown, rec.error = "ok reply without a message";
      } else if (rec.kind == op_kind::read) {
        auto* ms = r->if_contains("messages");
        if (ms && ms->is_array()) {
          for (const auto& v : ms->as_array())
            if (auto m = parse_message(v)) {
              rec.messages.push_back(entry_of(*m));
              if (seen.size() >= 200) seen.erase(seen.begin());
              seen.push_back(*m);
            } else {
              rec.result = outcome::unknown;
              rec.error = "malformed message in a reply";
            }
          rec.read_full = rec.messages.size() >= opt_.history_limit;
        } else {
          rec.result = outcome::unknown;
          rec.error = "ok reply without messages";
        }
      }
    } else {
      rec.error = error_code(*r);
      rec.result = outcome_unknown(rec.error) ? outcome::unknown : outcome::fail;
      if (rec.error == "unavailable" && chance(0.5)) ws.close();  // maybe a minority node: try another
    }
    if (rec.kind == op_kind::send && rec.result == outcome::unknown && chance(0.7))
      retry = std::make_pair(rec.peer, rec.body);
    out.push_back(std::move(rec));
    while (ws.is_open() && ws.next_event(0ms, err)) {
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(rng() % static_cast<std::uint64_t>(opt_.max_think.count() + 1)));
  }
  ws.close();
}

}  // namespace qc::faults
