// Contract rules that span replicas or whole batches, on real chat stores:
// a token works on every node (sessions live in the replicated state, also
// through a snapshot), message ids are log indexes even with no-ops and
// configuration entries between them, a replayed batch changes nothing, and
// delete_account's effects on the other party (events, conversations) and on
// the deleted name's nonces.
#include <doctest/doctest.h>

#include <unistd.h>

#include <boost/json.hpp>
#include <filesystem>

#include "chat/command.h"
#include "chat/password.h"
#include "db/chat_store.h"
#include "db/temp_store.h"

using namespace qc;
namespace fs = std::filesystem;
namespace json = boost::json;

namespace {

using tmp_dir = qc::test::temp_dir;
std::unique_ptr<db::chat_store> open(const fs::path& f) { return qc::test::open_store(f); }

raft::entry cmd(std::uint64_t index, const chat::command& c, std::uint64_t term = 1) {
  return qc::test::command_entry(index, c, term);
}

}  // namespace

TEST_CASE("a token is valid on every replica: sessions are replicated state (also through a snapshot)") {
  tmp_dir d;
  auto n1 = open(d.p / "n1.db"), n2 = open(d.p / "n2.db"), n3 = open(d.p / "n3.db");
  const std::string token = chat::new_token();
  const std::string th = chat::token_hash(token);
  const std::vector<raft::entry> log = {cmd(1, chat::cmd_create_account{"alice", "h", 1}),
                                        cmd(2, chat::cmd_create_session{"alice", th, 2})};
  n1->apply_batch(log);
  n2->apply_batch(log);
  // resume on any node: the node hashes the presented token and looks it up
  CHECK(n1->session_user(chat::token_hash(token)) == "alice");
  CHECK(n2->session_user(chat::token_hash(token)) == "alice");
  // the token itself is never stored, only its hash
  CHECK(!n1->session_user(token));
  // a node that catches up from a snapshot knows the session too
  REQUIRE_FALSE(n1->snapshot_to(d.p / "snap.db"));
  REQUIRE_FALSE(n3->install_snapshot(d.p / "snap.db"));
  CHECK(n3->session_user(th) == "alice");
  // logout on one node (through the log) invalidates it everywhere
  const auto out = cmd(3, chat::cmd_drop_session{"alice", th});
  for (auto* s : {n1.get(), n2.get(), n3.get()}) {
    s->apply_batch({out});
    CHECK(!s->session_user(th));
  }
  // logout names the user: someone else's logout cannot drop alice's session
  const auto th2 = chat::token_hash(chat::new_token());
  n1->apply_batch({cmd(4, chat::cmd_create_account{"mallory", "h", 1}), cmd(5, chat::cmd_create_session{"alice", th2, 5}),
                   cmd(6, chat::cmd_drop_session{"mallory", th2})});
  CHECK(n1->session_user(th2) == "alice");
}

TEST_CASE("login inputs: only the hash is stored; it verifies the right password only; unknown users have none") {
  tmp_dir d;
  auto s = open(d.p / "chat.db");
  std::error_code ec;
  const auto hash = chat::hash_password("correct horse", {chat::hash_algorithm::argon2id, 1, 64, 1000}, ec);
  REQUIRE(!ec);
  s->apply_batch({cmd(1, chat::cmd_create_account{"alice", hash, 1})});
  const auto stored = s->password_hash("alice");
  REQUIRE(stored);
  CHECK(stored->find("correct horse") == std::string::npos);
  CHECK(chat::verify_password("correct horse", *stored, ec));
  CHECK(!chat::verify_password("correct hors", *stored, ec));
  CHECK(!chat::verify_password("", *stored, ec));
  CHECK(!ec);
  CHECK(!s->password_hash("bob"));  // the gateway answers invalid_credentials for both cases
  CHECK(!s->password_hash("Alice"));  // names are case-sensitive
}

TEST_CASE("message ids are log indexes: no-ops and conf entries in between, many per batch, replay is a no-op") {
  tmp_dir d;
  auto s = open(d.p / "chat.db");
  std::vector<raft::entry> batch = {
      cmd(1, chat::cmd_create_account{"a", "h", 1}),
      cmd(2, chat::cmd_create_account{"b", "h", 1}),
      raft::entry{2, 3, raft::entry_type::normal, ""},  // a new leader's no-op
      raft::entry{2, 4, raft::entry_type::conf_change, "conf1 0 n4 a4\n"},
      cmd(5, chat::cmd_send{"a", "b", "x", std::nullopt, 10}, 2),
      cmd(6, chat::cmd_send{"b", "a", "y", std::nullopt, 11}, 2),
      raft::entry{3, 7, raft::entry_type::normal, ""},
      cmd(8, chat::cmd_send{"a", "b", "z", std::nullopt, 12}, 3),
  };
  auto res = s->apply_batch(batch);
  REQUIRE(res.size() == 8);
  for (std::size_t k = 0; k < res.size(); ++k) {
    CHECK(res[k].index == batch[k].index);
    CHECK(res[k].term == batch[k].term);
  }
  CHECK(res[2].code == db::apply_code::noop);
  CHECK(res[3].code == db::apply_code::noop);
  std::vector<std::uint64_t> ids;
  for (auto& m : s->history("a", "b", 50, std::nullopt)) ids.push_back(m.id);
  CHECK(ids == std::vector<std::uint64_t>{5, 6, 8});
  CHECK(s->applied_index() == 8);
  // the same entries again (a restart replays the log from the snapshot):
  // skipped, nothing doubled, no results
  const auto digest = s->state_digest();
  CHECK(s->apply_batch(batch).empty());
  CHECK(s->state_digest() == digest);
  // a batch straddling the applied index applies only the new tail
  auto more = s->apply_batch({batch[7], cmd(9, chat::cmd_send{"b", "a", "w", std::nullopt, 13}, 3)});
  REQUIRE(more.size() == 1);
  CHECK(more[0].index == 9);
  CHECK(s->message_count() == 4);
}

TEST_CASE("delete_account: the other party is told, its conversation goes, and the name's nonces are forgotten") {
  tmp_dir d;
  auto s = open(d.p / "chat.db");
  std::uint64_t i = 0;
  auto apply = [&](const chat::command& c) {
    auto r = s->apply_batch({cmd(++i, c)});
    REQUIRE(r.size() == 1);
    return r[0];
  };
  for (auto u : {"alice", "bob", "carol"}) apply(chat::cmd_create_account{u, "h", 1});
  const auto m1 = apply(chat::cmd_send{"bob", "alice", "1", std::string("n"), 1}).index;
  const auto m2 = apply(chat::cmd_send{"alice", "bob", "2", std::nullopt, 2}).index;
  const auto m3 = apply(chat::cmd_send{"bob", "bob", "note", std::nullopt, 3}).index;
  const auto m4 = apply(chat::cmd_send{"carol", "alice", "3", std::nullopt, 4}).index;
  REQUIRE(s->conversations("alice").size() == 2);
  CHECK(s->unread_count("alice") == 2);
  auto r = apply(chat::cmd_delete_account{"bob"});
  REQUIRE(r.code == db::apply_code::ok);
  CHECK(json::parse(r.result_json).as_object().empty());  // the reply carries no fields
  // alice hears which of her messages went (both directions); bob's
  // note-to-self concerns nobody else
  REQUIRE(r.events.size() == 1);
  CHECK(r.events[0].user == "alice");
  auto ev = json::parse(*r.events[0].json);
  CHECK(ev.at("event") == "deleted");
  CHECK(ev.at("ids") == json::array{m1, m2});
  (void)m3;
  // alice's conversation with bob is gone; her unread count lost bob's message
  auto cs = s->conversations("alice");
  REQUIRE(cs.size() == 1);
  CHECK(cs[0].with == "carol");
  CHECK(cs[0].last.id == m4);
  CHECK(s->unread_count("alice") == 1);
  CHECK(s->message_count() == 1);
  // a new account of the same name starts clean: its first nonce "n" is a new message
  apply(chat::cmd_create_account{"bob", "h2", 5});
  auto again = apply(chat::cmd_send{"bob", "alice", "hello again", std::string("n"), 6});
  REQUIRE(again.code == db::apply_code::ok);
  auto o = json::parse(again.result_json).as_object();
  CHECK(!o.contains("duplicate"));
  CHECK(o.at("message").at("id").to_number<std::uint64_t>() == again.index);
}

TEST_CASE("conversations follow deletes and reads: last moves back, unread counts drop, empty ones vanish") {
  tmp_dir d;
  auto s = open(d.p / "chat.db");
  std::uint64_t i = 0;
  auto apply = [&](const chat::command& c) {
    auto r = s->apply_batch({cmd(++i, c)});
    REQUIRE(r.size() == 1);
    REQUIRE(r[0].code == db::apply_code::ok);
    return r[0];
  };
  for (auto u : {"alice", "bob"}) apply(chat::cmd_create_account{u, "h", 1});
  const auto b1 = apply(chat::cmd_send{"bob", "alice", "1", std::nullopt, 1}).index;
  const auto b2 = apply(chat::cmd_send{"bob", "alice", "2", std::nullopt, 2}).index;
  const auto self = apply(chat::cmd_send{"alice", "alice", "me", std::nullopt, 3}).index;
  auto cs = s->conversations("alice");
  REQUIRE(cs.size() == 2);
  CHECK(cs[0].with == "alice");  // newest first; a note to self is its own conversation
  CHECK(cs[0].unread == 1);
  CHECK(cs[1].with == "bob");
  CHECK(cs[1].unread == 2);
  CHECK(s->conversations("bob")[0].unread == 0);  // bob sent them: nothing unread for him
  apply(chat::cmd_delete_messages{"alice", {b2}});
  cs = s->conversations("alice");
  CHECK(cs[1].last.id == b1);  // the last message moved back
  CHECK(cs[1].unread == 1);
  apply(chat::cmd_mark_read{"alice", {self}, std::nullopt});
  CHECK(s->conversations("alice")[0].unread == 0);
  apply(chat::cmd_delete_messages{"bob", {b1}});
  cs = s->conversations("alice");
  REQUIRE(cs.size() == 1);  // nothing left with bob
  CHECK(cs[0].with == "alice");
  CHECK(s->conversations("bob").empty());
}

TEST_CASE("a replica's state and answers do not depend on where its transactions end") {
  // The apply actor commits when its count, bytes or timer say so, so two
  // replicas end their transactions at different entries. Replica `each`
  // commits after every entry; replica `once` keeps one transaction open
  // for the whole workload and answers queries inside it. Busy
  // conversations (three users, mostly one pair), with mark_read,
  // delete_messages and delete_account in between: the two must agree on
  // every reply, every query and the state digest, and on what the
  // commit leaves in the file.
  tmp_dir tmp;
  auto each = open(tmp.p / "each.db");
  auto once = open(tmp.p / "once.db");
  const std::vector<std::string> users = {"ann", "ben", "cat"};
  std::uint64_t index = 0;
  auto both = [&](const chat::command& c) {
    ++index;
    auto a = each->apply_batch({cmd(index, c)});
    each->commit();
    auto b = once->apply_batch({cmd(index, c)});
    REQUIRE(a.size() == 1);
    REQUIRE(b.size() == 1);
    CHECK(a[0].code == b[0].code);
    CHECK(a[0].result_json == b[0].result_json);
  };
  for (const auto& u : users) both(chat::cmd_create_account{u, "h", 1});
  for (int step = 0; step < 400; ++step) {
    CAPTURE(step);
    const auto& from = users[step % 7 == 0 ? 2 : step % 2];
    const auto& to = users[step % 5 == 0 ? 2 : 1 - step % 2];
    if (step % 23 == 22) both(chat::cmd_mark_read{to, {}, from});
    else if (step % 31 == 30) both(chat::cmd_mark_read{to, {index - 1, index - 3}, std::nullopt});
    else if (step % 37 == 36) both(chat::cmd_delete_messages{from, {index - 1, index - 2}});
    else if (step == 300) both(chat::cmd_delete_account{"cat"});
    else if (step == 301) both(chat::cmd_create_account{"cat", "h", 2});
    else both(chat::cmd_send{from, to, "m" + std::to_string(step), std::nullopt, 1'700'000'000'000 + step});
    // Queries between the sends of one transaction, on both replicas.
    if (step % 9 != 8) continue;
    for (const auto& u : users) {
      CAPTURE(u);
      auto x = each->conversations(u);
      auto y = once->conversations(u);
      REQUIRE(x.size() == y.size());
      for (std::size_t k = 0; k < x.size(); ++k) {
        CHECK(x[k].with == y[k].with);
        CHECK(x[k].unread == y[k].unread);
        CHECK(x[k].last == y[k].last);
      }
    }
    if (step % 36 == 8) CHECK(each->state_digest() == once->state_digest());  // every fourth round
  }
  // What the commit wrote, as read back from the file by a new connection.
  once->commit();
  once.reset();
  once = open(tmp.p / "once.db");
  CHECK(each->state_digest() == once->state_digest());
}
