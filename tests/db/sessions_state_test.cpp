// Session state for idle expiry and password upgrades in the state machine:
// touch_session moves last_used forward only; a new session's entry drops
// the user's sessions idle past its cut-off; a rehash is a compare-and-set;
// replicas agree (digests); and a chat.db or snapshot written by an older
// node (schema 1, no last_used) is upgraded in place.
#include <doctest/doctest.h>

#include <SQLiteCpp/SQLiteCpp.h>

#include "db/temp_store.h"

using namespace qc;
using qc::test::command_entry;
using qc::test::open_store;
using qc::test::temp_dir;

TEST_CASE("touch_session moves last use forward; unknown sessions are not_found") {
  temp_dir d;
  auto s = open_store(d.p / "chat.db");
  s->apply_batch({command_entry(1, chat::cmd_create_account{"ann", "h", 1}),
                  command_entry(2, chat::cmd_create_session{"ann", "t1", 100})});
  REQUIRE(s->session("t1"));
  CHECK(s->session("t1")->user == "ann");
  CHECK(s->session("t1")->last_used == 100);
  auto r = s->apply_batch({command_entry(3, chat::cmd_touch_session{"ann", "t1", 500})});
  CHECK(r.at(0).code == db::apply_code::ok);
  CHECK(r.at(0).result_json == R"({"last_used":500})");
  CHECK(s->session("t1")->last_used == 500);
  s->apply_batch({command_entry(4, chat::cmd_touch_session{"ann", "t1", 300})});  // late: no step back
  CHECK(s->session("t1")->last_used == 500);
  r = s->apply_batch({command_entry(5, chat::cmd_touch_session{"ann", "nope", 600}),
                      command_entry(6, chat::cmd_touch_session{"bob", "t1", 600})});
  CHECK(r.at(0).code == db::apply_code::not_found);
  CHECK(r.at(1).code == db::apply_code::not_found);  // another user's token
  CHECK(s->session("t1")->last_used == 500);
}

TEST_CASE("a new session drops the user's sessions idle past the cut-off, and no one else's") {
  temp_dir d;
  auto s = open_store(d.p / "chat.db");
  s->apply_batch({command_entry(1, chat::cmd_create_account{"ann", "h", 1}),
                  command_entry(2, chat::cmd_create_account{"bob", "h", 1}),
                  command_entry(3, chat::cmd_create_session{"ann", "old", 100}),
                  command_entry(4, chat::cmd_create_session{"ann", "used", 100}),
                  command_entry(5, chat::cmd_create_session{"bob", "bobs", 100}),
                  command_entry(6, chat::cmd_touch_session{"ann", "used", 900})});
  s->apply_batch({command_entry(7, chat::cmd_create_session{"ann", "new", 1000, 500})});
  CHECK(!s->session("old"));
  CHECK(s->session("used"));
  CHECK(s->session("new"));
  CHECK(s->session("bobs"));
}

TEST_CASE("a rehash in the login entry is a compare-and-set, identical on every replica") {
  temp_dir d;
  auto a = open_store(d.p / "a.db"), b = open_store(d.p / "b.db");
  const std::vector<raft::entry> log = {
      command_entry(1, chat::cmd_create_account{"ann", "pbkdf2-old", 1}),
      command_entry(2, chat::cmd_create_session{"ann", "t1", 2, 0, "pbkdf2-old", "argon2-new"}),
      // A second login that proved an older hash (a race): must not overwrite.
      command_entry(3, chat::cmd_create_session{"ann", "t2", 3, 0, "pbkdf2-old", "argon2-other"}),
  };
  a->apply_batch(log);
  b->apply_batch(log);
  CHECK(a->password_hash("ann") == "argon2-new");
  CHECK(a->state_digest() == b->state_digest());
  // The digest covers last_used: replicas that disagree on it differ.
  b->apply_batch({command_entry(4, chat::cmd_touch_session{"ann", "t1", 99})});
  CHECK(a->state_digest() != b->state_digest());
}

TEST_CASE("a chat.db and a snapshot from an older node (schema 1) are upgraded in place") {
  temp_dir d;
  // What older nodes wrote: sessions without last_used, schema_version 1.
  // A frozen copy of that schema on purpose: it must not follow chat_store.
  auto make_v1 = [](const std::filesystem::path& f) {
    SQLite::Database db(f.string(), SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
    for (const char* sql : {
             "CREATE TABLE meta(key TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID",
             "CREATE TABLE accounts(name TEXT PRIMARY KEY, pw_hash TEXT NOT NULL, created INTEGER NOT NULL) WITHOUT ROWID",
             "CREATE TABLE sessions(token_hash TEXT PRIMARY KEY, user TEXT NOT NULL, created INTEGER NOT NULL) WITHOUT ROWID",
             "CREATE INDEX sessions_by_user ON sessions(user)",
             "CREATE TABLE messages(id INTEGER PRIMARY KEY, sender TEXT NOT NULL, recipient TEXT NOT NULL, body TEXT NOT NULL,"
             " ts INTEGER NOT NULL, read INTEGER NOT NULL, pa TEXT NOT NULL, pb TEXT NOT NULL)",
             "CREATE INDEX messages_unread ON messages(recipient, read, id)",
             "CREATE INDEX messages_pair ON messages(pa, pb, id)",
             "CREATE INDEX messages_sender ON messages(sender)",
             "CREATE TABLE conversations(user TEXT NOT NULL, peer TEXT NOT NULL, last_id INTEGER NOT NULL,"
             " unread INTEGER NOT NULL, PRIMARY KEY(user, peer)) WITHOUT ROWID",
             "CREATE INDEX conversations_recent ON conversations(user, last_id)",
             "CREATE INDEX conversations_by_peer ON conversations(peer)",
             "CREATE TABLE nonces(sender TEXT NOT NULL, nonce TEXT NOT NULL, msg_id INTEGER NOT NULL, recipient TEXT NOT NULL,"
             " ts INTEGER NOT NULL, PRIMARY KEY(sender, nonce)) WITHOUT ROWID",
             "INSERT INTO meta VALUES ('schema_version', 1), ('applied_index', 2)",
             "INSERT INTO accounts VALUES ('ann', 'pbkdf2-sha256$20000$00$00', 1)",
             "INSERT INTO sessions VALUES ('tok', 'ann', 1234)",
         })
      db.exec(sql);
  };
  make_v1(d.p / "chat.db");
  auto s = open_store(d.p / "chat.db");
  CHECK(s->applied_index() == 2);
  REQUIRE(s->session("tok"));
  CHECK(s->session("tok")->last_used == 1234);  // last use taken to be its creation
  s->apply_batch({command_entry(3, chat::cmd_touch_session{"ann", "tok", 5000})});
  CHECK(s->session("tok")->last_used == 5000);

  // A snapshot from an older leader, installed into a current store.
  make_v1(d.p / "old-snapshot.db");
  auto t = open_store(d.p / "t.db");
  const auto e = t->install_snapshot(d.p / "old-snapshot.db");
  REQUIRE_MESSAGE(!e, e.what);
  CHECK(t->applied_index() == 2);
  REQUIRE(t->session("tok"));
  CHECK(t->session("tok")->last_used == 1234);
  t->apply_batch({command_entry(3, chat::cmd_touch_session{"ann", "tok", 5000})});
  // Both upgraded stores now hold the same state.
  CHECK(t->state_digest() == s->state_digest());
}
