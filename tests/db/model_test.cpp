// The chat state machine against a plain reference model of the op rules
// in docs/PROTOCOL.md.
// A seeded random workload of every replicated op (create_account, login /
// logout sessions, send with and without nonces, mark_read by ids and by
// peer, delete_messages incl. forbidden ones, delete_account) is applied to a
// real chat_store on a temporary SQLite file and to the model, which is the
// contract's text written as std::map code. After every op the outcome code
// and reply must agree; every few ops every query of the contract (history
// with limits and `before`, unread, conversations with unread counts,
// list_accounts pages, sessions) is compared for every user and pair.
#include <doctest/doctest.h>

#include <unistd.h>

#include <boost/json.hpp>
#include <filesystem>
#include <map>
#include <optional>
#include <random>
#include <set>

#include "chat/command.h"
#include "db/chat_store.h"
#include "db/temp_store.h"

using namespace qc;
namespace fs = std::filesystem;
namespace json = boost::json;

namespace {

/// Contract §4.3, literally.
struct model {
  std::set<std::string> accounts;
  std::map<std::string, std::string> sessions;  // token hash -> user
  std::map<std::uint64_t, chat::message> msgs;
  std::map<std::pair<std::string, std::string>, std::uint64_t> nonces;  // (sender, nonce) -> id

  struct outcome {
    db::apply_code code = db::apply_code::ok;
    json::object result;
  };

  std::uint64_t unread_to(const std::string& u) const {
    std::uint64_t n = 0;
    for (auto& [id, m] : msgs) n += m.to == u && !m.read;
    return n;
  }

  outcome apply(std::uint64_t index, const chat::command& c) {
    outcome o;
    if (auto* x = std::get_if<chat::cmd_create_account>(&c)) {
      if (accounts.count(x->user)) return {db::apply_code::conflict, {}};
      accounts.insert(x->user);
      o.result = {{"user", x->user}};
    } else if (auto* x = std::get_if<chat::cmd_create_session>(&c)) {
      if (!accounts.count(x->user)) return {db::apply_code::not_found, {}};
      sessions[x->token_hash] = x->user;
      o.result = {{"user", x->user}, {"unread", unread_to(x->user)}};
    } else if (auto* x = std::get_if<chat::cmd_drop_session>(&c)) {
      auto it = sessions.find(x->token_hash);
      if (it != sessions.end() && it->second == x->user) sessions.erase(it);
    } else if (auto* x = std::get_if<chat::cmd_send>(&c)) {
      if (!accounts.count(x->from)) return {db::apply_code::unauthenticated, {}};
      if (x->nonce) {
        auto it = nonces.find({x->from, *x->nonce});
        if (it != nonces.end()) {
          o.result = {{"duplicate", true}, {"id", it->second}};  // compared by id below
          return o;
        }
      }
      if (!accounts.count(x->to)) return {db::apply_code::not_found, {}};
      chat::message m{index, x->from, x->to, x->body, x->ts, false};
      msgs[index] = m;
      if (x->nonce) nonces[{x->from, *x->nonce}] = index;
      o.result = {{"id", index}};
    } else if (auto* x = std::get_if<chat::cmd_mark_read>(&c)) {
      if (x->with && !accounts.count(*x->with)) return {db::apply_code::not_found, {}};
      std::uint64_t marked = 0;
      if (x->with) {
        for (auto& [id, m] : msgs)
          if (m.to == x->user && m.from == *x->with && !m.read) m.read = true, ++marked;
      } else {
        for (auto id : std::set<std::uint64_t>(x->ids.begin(), x->ids.end())) {
          auto it = msgs.find(id);
          if (it != msgs.end() && it->second.to == x->user && !it->second.read) it->second.read = true, ++marked;
        }
      }
      o.result = {{"marked", marked}};
    } else if (auto* x = std::get_if<chat::cmd_delete_messages>(&c)) {
      std::set<std::uint64_t> victims;
      for (auto id : x->ids) {
        auto it = msgs.find(id);
        if (it == msgs.end()) continue;  // unknown ids are ignored
        if (it->second.from != x->user && it->second.to != x->user) return {db::apply_code::forbidden, {}};
        victims.insert(id);
      }
      for (auto id : victims) msgs.erase(id);
      o.result = {{"deleted", victims.size()}};
    } else if (auto* x = std::get_if<chat::cmd_delete_account>(&c)) {
      if (!accounts.count(x->user)) return {db::apply_code::not_found, {}};
      std::erase_if(msgs, [&](auto& kv) { return kv.second.from == x->user || kv.second.to == x->user; });
      std::erase_if(sessions, [&](auto& kv) { return kv.second == x->user; });
      std::erase_if(nonces, [&](auto& kv) { return kv.first.first == x->user; });
      accounts.erase(x->user);
    }
    return o;
  }

  std::vector<chat::message> history(const std::string& u, const std::string& w, std::size_t limit,
                                     std::optional<std::uint64_t> before) const {
    std::vector<chat::message> all;
    for (auto& [id, m] : msgs)
      if (((m.from == u && m.to == w) || (m.from == w && m.to == u)) && (!before || id < *before)) all.push_back(m);
    if (all.size() > limit) all.erase(all.begin(), all.end() - static_cast<std::ptrdiff_t>(limit));
    return all;
  }
  std::vector<chat::message> unread(const std::string& u, std::size_t limit) const {
    std::vector<chat::message> out;
    for (auto& [id, m] : msgs)
      if (m.to == u && !m.read && out.size() < limit) out.push_back(m);
    return out;
  }
  std::vector<db::conversation> conversations(const std::string& u) const {
    std::map<std::string, db::conversation> by_peer;
    for (auto& [id, m] : msgs) {
      if (m.from != u && m.to != u) continue;
      const std::string peer = m.from == u ? m.to : m.from;
      auto& c = by_peer[peer];
      c.with = peer;
      c.last = m;  // ascending ids: the last one wins
      c.unread += m.to == u && m.from == peer && !m.read;
    }
    std::vector<db::conversation> out;
    for (auto& [p, c] : by_peer) out.push_back(c);
    std::sort(out.begin(), out.end(), [](auto& a, auto& b) { return a.last.id > b.last.id; });
    return out;
  }
};

bool same(const std::vector<chat::message>& a, const std::vector<chat::message>& b) { return a == b; }

std::string show(const std::vector<chat::message>& ms) {
  std::string s;
  for (auto& m : ms) s += std::to_string(m.id) + (m.read ? "r " : "u ");
  return s;
}

}  // namespace

TEST_CASE("state machine equals the contract's reference model over a random workload of every op") {
  qc::test::temp_dir tmp("model");
  const fs::path dir = tmp.p;
  auto store = qc::test::open_store(dir / "chat.db");
  model ref;
  std::mt19937_64 rng(20261125);
  auto pick = [&](std::size_t n) { return static_cast<std::size_t>(rng() % n); };
  const std::vector<std::string> users = {"alice", "bob", "carol", "dave", "e.v-e_1"};
  std::vector<std::string> tokens;
  std::uint64_t index = 0;
  std::map<std::string, int> seen_codes;
  for (int step = 0; step < 1500; ++step) {
    const auto& u = users[pick(users.size())];
    const auto& v = users[pick(users.size())];
    std::vector<std::uint64_t> some_ids;
    // mostly ids of live messages (mine or someone else's), some unknown
    for (int k = 0, n = static_cast<int>(pick(4)); k < n; ++k) {
      if (!ref.msgs.empty() && pick(4) != 0) some_ids.push_back(std::next(ref.msgs.begin(), pick(ref.msgs.size()))->first);
      else some_ids.push_back(1 + pick(index + 3));
    }
    chat::command c;
    const auto r = pick(100);
    if (r < 8) c = chat::cmd_create_account{u, "pbkdf2-sha256$1$aa$bb", 1};
    else if (r < 14) {
      tokens.push_back("th" + std::to_string(step));
      c = chat::cmd_create_session{u, tokens.back(), 2};
    } else if (r < 17 && !tokens.empty()) c = chat::cmd_drop_session{u, tokens[pick(tokens.size())]};
    else if (r < 60) {
      std::optional<std::string> nonce;
      if (pick(3) == 0) nonce = "n" + std::to_string(pick(6));
      c = chat::cmd_send{u, v, "body " + std::to_string(step), nonce, 1'700'000'000'000 + step};
    } else if (r < 70) c = chat::cmd_mark_read{u, some_ids, std::nullopt};
    else if (r < 78) c = chat::cmd_mark_read{u, {}, v};
    else if (r < 92) c = chat::cmd_delete_messages{u, some_ids};
    else if (r < 95) c = chat::cmd_delete_account{u};
    else {
      // a leader no-op or a conf change: takes an index, changes no chat state
      ++index;
      const bool conf = pick(2) == 0;
      auto res = store->apply_batch(
          {raft::entry{1, index, conf ? raft::entry_type::conf_change : raft::entry_type::normal, conf ? "conf" : ""}});
      REQUIRE(res.size() == 1);
      CHECK(res[0].code == db::apply_code::noop);
      continue;
    }
    ++index;
    auto res = store->apply_batch({raft::entry{1, index, raft::entry_type::normal, chat::encode_command(c)}});
    REQUIRE(res.size() == 1);
    const auto want = ref.apply(index, c);
    CAPTURE(step);
    CAPTURE(chat::encode_command(c));
    REQUIRE(res[0].code == want.code);
    ++seen_codes[std::string(chat::command_name(c)) + ":" + db::to_string(res[0].code)];
    if (res[0].code == db::apply_code::ok) {
      auto got = json::parse(res[0].result_json).as_object();
      if (auto* s = std::get_if<chat::cmd_send>(&c)) {
        const auto& gm = got.at("message").as_object();
        CHECK(gm.at("id") == want.result.at("id"));
        CHECK(got.contains("duplicate") == want.result.contains("duplicate"));
        if (!got.contains("duplicate")) {
          CHECK(gm.at("ts").as_int64() == s->ts);  // fixed in the entry
          CHECK(gm.at("from").as_string() == s->from);
          CHECK(gm.at("to").as_string() == s->to);
          CHECK(gm.at("read") == false);
        }
      } else if (!std::holds_alternative<chat::cmd_drop_session>(c) &&
                 !std::holds_alternative<chat::cmd_delete_account>(c)) {
        CHECK(got == want.result);
      }
    }
    if (step % 10 != 9) continue;
    // Every query, every user and pair.
    CHECK(store->list_accounts("*", 1000, std::nullopt).accounts ==
          std::vector<std::string>(ref.accounts.begin(), ref.accounts.end()));
    for (auto& [th, user] : ref.sessions) CHECK(store->session_user(th) == user);
    for (auto& th : tokens)
      if (!ref.sessions.count(th)) CHECK(!store->session_user(th));
    for (const auto& a : users) {
      CAPTURE(a);
      CHECK(store->account_exists(a) == (ref.accounts.count(a) == 1));
      for (std::size_t lim : {std::size_t{1}, std::size_t{3}, std::size_t{1000}}) {
        INFO(show(store->unread(a, lim)) << " vs " << show(ref.unread(a, lim)));
        CHECK(same(store->unread(a, lim), ref.unread(a, lim)));
      }
      CHECK(store->unread_count(a) == ref.unread_to(a));
      auto gc = store->conversations(a);
      auto wc = ref.conversations(a);
      REQUIRE(gc.size() == wc.size());
      for (std::size_t k = 0; k < gc.size(); ++k) {
        CAPTURE(k);
        CHECK(gc[k].with == wc[k].with);
        CHECK(gc[k].last == wc[k].last);
        CHECK(gc[k].unread == wc[k].unread);
      }
      for (const auto& b : users) {
        CAPTURE(b);
        const std::optional<std::uint64_t> befores[] = {std::nullopt, index / 2 + 1, 1};
        for (auto before : befores)
          for (std::size_t lim : {std::size_t{2}, std::size_t{1000}}) {
            INFO(show(store->history(a, b, lim, before)) << " vs " << show(ref.history(a, b, lim, before)));
            CHECK(same(store->history(a, b, lim, before), ref.history(a, b, lim, before)));
          }
      }
    }
  }
  CHECK(store->applied_index() == index);
  // The workload reached every outcome of every op.
  for (const char* k : {"create_account:ok", "create_account:conflict", "login:ok", "login:not_found", "logout:ok",
                        "send:ok", "send:not_found", "send:unauthenticated", "mark_read:ok", "mark_read:not_found", "delete_messages:ok",
                        "delete_messages:forbidden", "delete_account:ok", "delete_account:not_found"})
    CHECK_MESSAGE(seen_codes[k] > 0, k);
  std::string summary;
  for (auto& [k, n] : seen_codes) summary += k + "=" + std::to_string(n) + " ";
  MESSAGE(index << " entries applied; outcomes: " << summary);
}
