// Every op's rules and errors, applied to the real state machine (chat.db on
// a temporary file), op by op as docs/PROTOCOL.md states them. Request-level
// validation is in tests/chat/request_test.cpp; the wire-level run of every
// op is tests/integration/single_node_test.cpp.
#include <doctest/doctest.h>

#include <unistd.h>

#include <boost/json.hpp>
#include <filesystem>

#include "chat/command.h"
#include "db/chat_store.h"
#include "db/temp_store.h"

using namespace qc;
namespace fs = std::filesystem;
namespace json = boost::json;

namespace {

/// A fresh store plus a log index counter: each apply is the next entry.
struct sm {
  qc::test::temp_dir dir{"ops"};
  std::unique_ptr<db::chat_store> s = qc::test::open_store(dir.p / "chat.db");
  std::uint64_t next = 1;
  db::apply_result apply(const chat::command& c, std::uint64_t term = 1) {
    auto r = s->apply_batch({raft::entry{term, next++, raft::entry_type::normal, chat::encode_command(c)}});
    REQUIRE(r.size() == 1);
    return r[0];
  }
  json::object result(const chat::command& c) {
    auto r = apply(c);
    REQUIRE(r.code == db::apply_code::ok);
    return json::parse(r.result_json).as_object();
  }
  std::uint64_t send(const std::string& from, const std::string& to, const std::string& body,
                     std::optional<std::string> nonce = std::nullopt, std::int64_t ts = 1000) {
    auto o = result(chat::cmd_send{from, to, body, nonce, ts});
    return o.at("message").at("id").to_number<std::uint64_t>();
  }
  void accounts(std::initializer_list<const char*> names) {
    for (auto n : names) REQUIRE(apply(chat::cmd_create_account{n, "pbkdf2$h", 1}).code == db::apply_code::ok);
  }
};

std::vector<std::uint64_t> ids_of(const std::vector<chat::message>& ms) {
  std::vector<std::uint64_t> out;
  for (auto& m : ms) out.push_back(m.id);
  return out;
}

std::vector<std::string> users_of(const std::vector<db::user_event>& evs, const std::string& kind) {
  std::vector<std::string> out;
  for (auto& e : evs)
    if (json::parse(*e.json).at("event").as_string() == kind) out.push_back(e.user);
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

TEST_CASE("create_account: the name is taken once; conflict after; never a plaintext password") {
  sm m;
  auto r = m.apply(chat::cmd_create_account{"alice", "pbkdf2-sha256$1000$salt$hash", 5});
  CHECK(r.code == db::apply_code::ok);
  CHECK(json::parse(r.result_json) == json::parse(R"({"user":"alice"})"));
  CHECK(m.s->account_exists("alice"));
  CHECK(m.s->password_hash("alice") == "pbkdf2-sha256$1000$salt$hash");
  CHECK(m.apply(chat::cmd_create_account{"alice", "other", 6}).code == db::apply_code::conflict);
  CHECK(m.s->password_hash("alice") == "pbkdf2-sha256$1000$salt$hash");  // unchanged
  CHECK(!m.s->account_exists("bob"));
  CHECK(!m.s->password_hash("bob"));
}

TEST_CASE("sessions: a token (by hash) maps to its user until logout or account deletion") {
  sm m;
  m.accounts({"alice", "bob"});
  CHECK(m.apply(chat::cmd_create_session{"alice", "t1", 1}).code == db::apply_code::ok);
  CHECK(m.apply(chat::cmd_create_session{"alice", "t2", 1}).code == db::apply_code::ok);
  CHECK(m.apply(chat::cmd_create_session{"bob", "t3", 1}).code == db::apply_code::ok);
  CHECK(m.s->session_user("t1") == "alice");
  CHECK(m.s->session_user("t3") == "bob");
  CHECK(!m.s->session_user("nope"));
  m.apply(chat::cmd_drop_session{"alice", "t1"});
  CHECK(!m.s->session_user("t1"));
  CHECK(m.s->session_user("t2") == "alice");  // other sessions live on
  // a session for a user that does not exist is refused
  CHECK(m.apply(chat::cmd_create_session{"ghost", "t9", 1}).code != db::apply_code::ok);
  CHECK(!m.s->session_user("t9"));
}

TEST_CASE("send: id is the log index, ts comes from the entry, unknown recipient is not_found") {
  sm m;
  m.accounts({"alice", "bob"});
  const auto at = m.next;
  auto r = m.apply(chat::cmd_send{"alice", "bob", "hi", std::nullopt, 1732400000123});
  REQUIRE(r.code == db::apply_code::ok);
  auto msg = json::parse(r.result_json).at("message");
  CHECK(msg.at("id").to_number<std::uint64_t>() == at);
  CHECK(msg.at("ts").to_number<std::int64_t>() == 1732400000123);
  CHECK(msg.at("from") == "alice");
  CHECK(msg.at("to") == "bob");
  CHECK(msg.at("body") == "hi");
  CHECK(msg.at("read") == false);
  // the recipient and the sender's other connections get the event
  CHECK(users_of(r.events, "message") == std::vector<std::string>{"alice", "bob"});
  CHECK(m.apply(chat::cmd_send{"alice", "nobody", "x", std::nullopt, 1}).code == db::apply_code::not_found);
  // a sender whose account is gone is no longer authenticated
  CHECK(m.apply(chat::cmd_send{"ghost", "bob", "x", std::nullopt, 1}).code == db::apply_code::unauthenticated);
  // sending to oneself is allowed
  auto self = m.apply(chat::cmd_send{"bob", "bob", "note", std::nullopt, 2});
  CHECK(self.code == db::apply_code::ok);
  CHECK(m.s->message_count() == 2);
}

TEST_CASE("send with a nonce: a replay returns the original, per sender") {
  sm m;
  m.accounts({"alice", "bob"});
  const auto first = m.send("alice", "bob", "once", std::string("n-1"));
  auto replay = m.apply(chat::cmd_send{"alice", "bob", "once", std::string("n-1"), 9999});
  REQUIRE(replay.code == db::apply_code::ok);
  auto o = json::parse(replay.result_json).as_object();
  CHECK(o.at("message").at("id").to_number<std::uint64_t>() == first);
  CHECK(o.at("message").at("ts").to_number<std::int64_t>() == 1000);  // the original's
  CHECK(o.at("duplicate") == true);
  CHECK(replay.events.empty());  // nothing new to deliver
  // the same nonce from another sender is another message
  CHECK(m.send("bob", "alice", "once", std::string("n-1")) != first);
  CHECK(m.s->message_count() == 2);
  // a replay after the original was deleted says so and does not resurrect it
  m.apply(chat::cmd_delete_messages{"alice", {first}});
  auto after = m.apply(chat::cmd_send{"alice", "bob", "once", std::string("n-1"), 1});
  CHECK(after.code == db::apply_code::ok);
  CHECK(json::parse(after.result_json).at("deleted") == true);
  CHECK(m.s->message_count() == 1);
}

TEST_CASE("send with a nonce to a missing user: not_found, and the nonce stays free") {
  sm m;
  m.accounts({"alice", "bob"});
  CHECK(m.apply(chat::cmd_send{"alice", "nobody", "lost", std::string("n-1"), 1}).code == db::apply_code::not_found);
  // The same nonce, now to someone who exists, is a new message, not a replay.
  auto o = m.result(chat::cmd_send{"alice", "bob", "found", std::string("n-1"), 2});
  CHECK(!o.contains("duplicate"));
  CHECK(o.at("message").at("body") == "found");
  CHECK(m.s->message_count() == 1);
}

TEST_CASE("send right after the recipient's account was deleted: not_found, though a send found it just before") {
  sm m;
  m.accounts({"alice", "bob"});
  m.send("alice", "bob", "first");  // bob is looked up, and known
  m.apply(chat::cmd_delete_account{"bob"});
  CHECK(m.apply(chat::cmd_send{"alice", "bob", "late", std::nullopt, 1}).code == db::apply_code::not_found);
  CHECK(m.apply(chat::cmd_send{"bob", "alice", "ghost", std::nullopt, 1}).code == db::apply_code::unauthenticated);
  m.accounts({"bob"});  // a new account of the same name
  CHECK(m.apply(chat::cmd_send{"alice", "bob", "again", std::nullopt, 1}).code == db::apply_code::ok);
}

TEST_CASE("history: the newest `limit` before `before`, oldest first, only this pair") {
  sm m;
  m.accounts({"alice", "bob", "carol"});
  std::vector<std::uint64_t> ab;
  for (int i = 0; i < 6; ++i) {
    ab.push_back(m.send(i % 2 ? "bob" : "alice", i % 2 ? "alice" : "bob", "m" + std::to_string(i)));
    m.send("alice", "carol", "other" + std::to_string(i));
  }
  CHECK(ids_of(m.s->history("alice", "bob", 50, std::nullopt)) == ab);
  CHECK(ids_of(m.s->history("bob", "alice", 50, std::nullopt)) == ab);  // symmetric
  CHECK(ids_of(m.s->history("alice", "bob", 2, std::nullopt)) == std::vector<std::uint64_t>{ab[4], ab[5]});
  CHECK(ids_of(m.s->history("alice", "bob", 2, ab[4])) == std::vector<std::uint64_t>{ab[2], ab[3]});
  CHECK(m.s->history("alice", "bob", 50, ab[0]).empty());
  CHECK(m.s->history("bob", "carol", 50, std::nullopt).empty());  // not bob's conversation
  CHECK(m.s->history("alice", "nobody", 50, std::nullopt).empty());
}

TEST_CASE("unread and mark_read: only messages to me; by ids or by sender; receipts to senders") {
  sm m;
  m.accounts({"alice", "bob", "carol"});
  const auto a1 = m.send("alice", "bob", "1");
  const auto c1 = m.send("carol", "bob", "2");
  const auto a2 = m.send("alice", "bob", "3");
  const auto to_alice = m.send("bob", "alice", "4");
  CHECK(ids_of(m.s->unread("bob", 50)) == std::vector<std::uint64_t>{a1, c1, a2});
  CHECK(ids_of(m.s->unread("bob", 2)) == std::vector<std::uint64_t>{a1, c1});  // oldest first
  CHECK(m.s->unread_count("bob") == 3);
  // ids not addressed to me are ignored, not counted; duplicates count once
  auto r = m.apply(chat::cmd_mark_read{"bob", {a1, a1, to_alice, 424242}, std::nullopt});
  CHECK(json::parse(r.result_json) == json::parse(R"({"marked":1})"));
  CHECK(users_of(r.events, "read") == std::vector<std::string>{"alice", "bob"});  // sender + reader
  for (auto& e : r.events) {
    auto ev = json::parse(*e.json);
    CHECK(ev.at("by") == "bob");
    CHECK(ev.at("ids").as_array().size() == 1);
  }
  // already read: not counted again
  CHECK(m.result(chat::cmd_mark_read{"bob", {a1}, std::nullopt}).at("marked") == 0);
  // by sender: all from alice
  CHECK(m.result(chat::cmd_mark_read{"bob", {}, std::string("alice")}).at("marked") == 1);
  CHECK(ids_of(m.s->unread("bob", 50)) == std::vector<std::uint64_t>{c1});
  CHECK(ids_of(m.s->unread("alice", 50)) == std::vector<std::uint64_t>{to_alice});
  CHECK(m.s->history("alice", "bob", 50, std::nullopt)[0].read);
}

TEST_CASE("delete_messages: mine only, all or nothing, unknown ids ignored, both parties told") {
  sm m;
  m.accounts({"alice", "bob", "carol"});
  const auto ab = m.send("alice", "bob", "x");
  const auto ba = m.send("bob", "alice", "y");
  const auto cb = m.send("carol", "bob", "z");
  // alice may not delete carol->bob: forbidden and nothing is deleted
  CHECK(m.apply(chat::cmd_delete_messages{"alice", {ab, cb}}).code == db::apply_code::forbidden);
  CHECK(m.s->message_count() == 3);
  // sender or recipient may delete; unknown ids are ignored
  auto r = m.apply(chat::cmd_delete_messages{"alice", {ab, ba, 999999}});
  REQUIRE(r.code == db::apply_code::ok);
  CHECK(json::parse(r.result_json) == json::parse(R"({"deleted":2})"));
  CHECK(users_of(r.events, "deleted") == std::vector<std::string>{"alice", "bob"});
  CHECK(m.s->history("alice", "bob", 50, std::nullopt).empty());
  CHECK(m.result(chat::cmd_delete_messages{"bob", {cb}}).at("deleted") == 1);  // the recipient
  CHECK(m.result(chat::cmd_delete_messages{"bob", {cb}}).at("deleted") == 0);  // already gone
  CHECK(m.s->message_count() == 0);
}

TEST_CASE("conversations: newest first, with the last message and my unread count") {
  sm m;
  m.accounts({"alice", "bob", "carol"});
  m.send("bob", "alice", "b1");
  m.send("bob", "alice", "b2");
  const auto c1 = m.send("carol", "alice", "c1");
  const auto last_b = m.send("alice", "bob", "a->b");
  auto cs = m.s->conversations("alice");
  REQUIRE(cs.size() == 2);
  CHECK(cs[0].with == "bob");
  CHECK(cs[0].last.id == last_b);
  CHECK(cs[0].unread == 2);
  CHECK(cs[1].with == "carol");
  CHECK(cs[1].last.id == c1);
  CHECK(cs[1].unread == 1);
  CHECK(m.s->conversations("bob").size() == 1);
  CHECK(m.s->conversations("bob")[0].unread == 1);
}

TEST_CASE("delete_account: the account, its sessions and every message to or from it") {
  sm m;
  m.accounts({"alice", "bob", "carol"});
  m.apply(chat::cmd_create_session{"bob", "tb", 1});
  m.send("alice", "bob", "1");
  m.send("bob", "carol", "2");
  const auto ac = m.send("alice", "carol", "3");
  auto r = m.apply(chat::cmd_delete_account{"bob"});
  REQUIRE(r.code == db::apply_code::ok);
  CHECK(!m.s->account_exists("bob"));
  CHECK(!m.s->session_user("tb"));
  CHECK(m.s->message_count() == 1);
  CHECK(ids_of(m.s->history("alice", "carol", 50, std::nullopt)) == std::vector<std::uint64_t>{ac});
  CHECK(m.s->conversations("alice").size() == 1);
  CHECK(m.apply(chat::cmd_send{"alice", "bob", "x", std::nullopt, 1}).code == db::apply_code::not_found);
  CHECK(m.apply(chat::cmd_delete_account{"bob"}).code != db::apply_code::ok);
  // the name is free again, and the new bob starts empty
  CHECK(m.apply(chat::cmd_create_account{"bob", "h2", 1}).code == db::apply_code::ok);
  CHECK(m.s->conversations("bob").empty());
}

TEST_CASE("list_accounts: glob, sorted, paginated with `after` and `next`") {
  sm m;
  m.accounts({"bob", "alice", "al", "alfred", "carol", "a.b-c_d"});
  auto all = m.s->list_accounts("*", 50, std::nullopt);
  CHECK(all.accounts == std::vector<std::string>{"a.b-c_d", "al", "alfred", "alice", "bob", "carol"});
  CHECK(!all.next);
  CHECK(m.s->list_accounts("al*", 50, std::nullopt).accounts == std::vector<std::string>{"al", "alfred", "alice"});
  CHECK(m.s->list_accounts("al???", 50, std::nullopt).accounts == std::vector<std::string>{"alice"});
  CHECK(m.s->list_accounts("?o?", 50, std::nullopt).accounts == std::vector<std::string>{"bob"});
  CHECK(m.s->list_accounts("a.b*", 50, std::nullopt).accounts == std::vector<std::string>{"a.b-c_d"});
  CHECK(m.s->list_accounts("zz*", 50, std::nullopt).accounts.empty());
  // `_` and `%` are literal names characters, not SQL wildcards
  CHECK(m.s->list_accounts("a_b*", 50, std::nullopt).accounts.empty());
  auto p1 = m.s->list_accounts("*", 2, std::nullopt);
  CHECK(p1.accounts == std::vector<std::string>{"a.b-c_d", "al"});
  REQUIRE(p1.next);
  auto p2 = m.s->list_accounts("*", 2, p1.next);
  CHECK(p2.accounts == std::vector<std::string>{"alfred", "alice"});
  auto p3 = m.s->list_accounts("*", 2, p2.next);
  CHECK(p3.accounts == std::vector<std::string>{"bob", "carol"});
  CHECK(!p3.next);
}

TEST_CASE("apply is deterministic: two replicas of the same entries are identical") {
  sm a, b;
  for (auto* r : {&a, &b}) {
    r->accounts({"alice", "bob"});
    r->send("alice", "bob", "x", std::string("n"), 77);
    r->apply(chat::cmd_mark_read{"bob", {}, std::string("alice")});
    r->send("bob", "alice", "y", std::nullopt, 78);
  }
  CHECK(a.s->state_digest() == b.s->state_digest());
  b.send("bob", "alice", "z");
  CHECK(a.s->state_digest() != b.s->state_digest());
  // an undecodable entry is recorded as applied, changes nothing, never throws
  auto before = a.s->state_digest();
  auto r = a.s->apply_batch({raft::entry{1, a.next++, raft::entry_type::normal, "{not a command"}});
  REQUIRE(r.size() == 1);
  CHECK(r[0].code == db::apply_code::bad_entry);
  CHECK(a.s->state_digest() == before);
  CHECK(a.s->applied_index() == a.next - 1);
}
