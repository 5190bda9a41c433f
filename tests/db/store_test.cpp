// Storage tests: every contract query uses an index, apply + applied_index
// survive SIGKILL atomically, snapshots round-trip, damaged files are refused.
#include <doctest/doctest.h>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "chat/command.h"
#include "db/chat_store.h"
#include "db/temp_store.h"

#include <SQLiteCpp/SQLiteCpp.h>

using namespace qc;
namespace fs = std::filesystem;

namespace {
fs::path temp_dir() {
  auto p = fs::temp_directory_path() / ("qc-db-" + std::to_string(::getpid()) + "-" + std::to_string(rand()));
  fs::create_directories(p);
  return p;
}
raft::entry cmd(std::uint64_t index, const chat::command& c) { return qc::test::command_entry(index, c); }
std::vector<raft::entry> workload(std::uint64_t from, std::uint64_t n) {
  std::vector<raft::entry> es;
  for (std::uint64_t i = from; i < from + n; ++i) {
    if (i == 1) es.push_back(cmd(i, chat::cmd_create_account{"a", "h", 1}));
    else if (i == 2) es.push_back(cmd(i, chat::cmd_create_account{"b", "h", 1}));
    else if (i % 7 == 0) es.push_back(cmd(i, chat::cmd_mark_read{"b", {}, std::string("a")}));
    else es.push_back(cmd(i, chat::cmd_send{i % 2 ? "a" : "b", i % 2 ? "b" : "a", "m" + std::to_string(i), std::nullopt, static_cast<std::int64_t>(i)}));
  }
  return es;
}
}  // namespace

TEST_CASE("every contract query is served by an index") {
  auto dir = temp_dir();
  db::open_error err;
  auto s = db::chat_store::open(dir / "chat.db", err);
  REQUIRE(s);
  for (auto& [name, plan] : s->query_plans()) {
    INFO(name << ":\n" << plan);
    CHECK(plan.find("SCAN messages") == std::string::npos);
    CHECK(plan.find("SCAN accounts") == std::string::npos);
    CHECK(plan.find("SCAN m ") == std::string::npos);
    CHECK((plan.find("USING") != std::string::npos || plan.find("PRIMARY KEY") != std::string::npos));
  }
  fs::remove_all(dir);
}

TEST_CASE("apply rules: conflict, nonce replay, forbidden delete, events") {
  auto dir = temp_dir();
  db::open_error err;
  auto s = db::chat_store::open(dir / "chat.db", err);
  REQUIRE(s);
  auto r = s->apply_batch({cmd(1, chat::cmd_create_account{"a", "h", 1}), cmd(2, chat::cmd_create_account{"a", "h", 1}),
                           cmd(3, chat::cmd_create_account{"b", "h", 1}), cmd(4, chat::cmd_create_account{"c", "h", 1}),
                           cmd(5, chat::cmd_send{"a", "b", "hi", std::string("n1"), 10}),
                           cmd(6, chat::cmd_send{"a", "b", "hi", std::string("n1"), 11}),
                           cmd(7, chat::cmd_send{"a", "zz", "hi", std::nullopt, 12}),
                           cmd(8, chat::cmd_delete_messages{"c", {5}}), cmd(9, chat::cmd_mark_read{"b", {5, 5, 99}, {}})});
  REQUIRE(r.size() == 9);
  CHECK(r[1].code == db::apply_code::conflict);
  CHECK(r[4].code == db::apply_code::ok);
  CHECK(r[4].events.size() == 2);
  CHECK(r[5].result_json.find("\"id\":5") != std::string::npos);  // the original
  CHECK(r[5].result_json.find("duplicate") != std::string::npos);
  CHECK(r[6].code == db::apply_code::not_found);
  CHECK(r[7].code == db::apply_code::forbidden);
  CHECK(r[8].result_json == "{\"marked\":1}");
  CHECK(s->message_count() == 1);
  CHECK(s->applied_index() == 9);
  auto convs = s->conversations("b");
  REQUIRE(convs.size() == 1);
  CHECK(convs[0].unread == 0);
  fs::remove_all(dir);
}

TEST_CASE("SIGKILL during applies never tears a commit from its applied_index") {
  auto dir = temp_dir();
  int ready[2];
  REQUIRE(::pipe(ready) == 0);
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::close(ready[0]);
    db::open_error err;
    auto s = db::chat_store::open(dir / "chat.db", err);
    // Batches of 10 in one transaction, committed every 50 entries.
    for (std::uint64_t i = 1;; i += 10) {
      s->apply_batch(workload(i, 10));
      if (s->uncommitted() == 50) s->commit();
      if (i == 1) {  // tell the parent that batches are being written now
        [[maybe_unused]] auto w = ::write(ready[1], "x", 1);
        ::close(ready[1]);
      }
    }
  }
  ::close(ready[1]);
  // Kill only once the child is applying: a fixed pause alone could end
  // before it even opened the database on a busy machine, and then the
  // test would check an empty store.
  char byte = 0;
  REQUIRE(::read(ready[0], &byte, 1) == 1);
  ::close(ready[0]);
  ::usleep(200 * 1000);
  ::kill(pid, SIGKILL);
  ::waitpid(pid, nullptr, 0);
  db::open_error err;
  auto s = db::chat_store::open(dir / "chat.db", err);
  REQUIRE(s);
  const auto applied = s->applied_index();
  CHECK(applied % 50 == 0);  // whole commits only
  auto ref = db::chat_store::open(dir / "ref.db", err);
  REQUIRE(ref);
  if (applied) ref->apply_batch(workload(1, applied));
  ref->commit();
  CHECK(ref->state_digest() == s->state_digest());
  MESSAGE("recovered at applied_index " << applied);
  fs::remove_all(dir);
}

TEST_CASE("snapshot round trip and continued applies") {
  auto dir = temp_dir();
  db::open_error err;
  auto a = db::chat_store::open(dir / "a.db", err);
  auto b = db::chat_store::open(dir / "b.db", err);
  a->apply_batch(workload(1, 200));
  REQUIRE_FALSE(a->snapshot_to(dir / "snap.db"));
  CHECK(db::chat_store::snapshot_applied_index(dir / "snap.db") == 200);
  REQUIRE_FALSE(b->install_snapshot(dir / "snap.db"));
  CHECK(b->applied_index() == 200);
  CHECK(a->state_digest() == b->state_digest());
  a->apply_batch(workload(201, 50));
  b->apply_batch(workload(201, 50));
  CHECK(a->state_digest() == b->state_digest());
  fs::remove_all(dir);
}

TEST_CASE("an install replaces chat.db's file: no WAL of the old one stays, the state survives a reopen") {
  auto dir = temp_dir();
  db::open_error err;
  auto a = db::chat_store::open(dir / "a.db", err);
  a->apply_batch(workload(1, 300));
  REQUIRE_FALSE(a->snapshot_to(dir / "snap.db"));
  std::string digest = a->state_digest();
  {
    // b holds other state, partly only in its WAL (committed, not yet
    // checkpointed) and partly uncommitted when the install comes.
    auto b = db::chat_store::open(dir / "b.db", err);
    b->apply_batch(workload(1, 120));
    b->commit();
    b->apply_batch(workload(121, 10));
    REQUIRE(fs::exists(dir / "b.db-wal"));
    REQUIRE_FALSE(b->install_snapshot(dir / "snap.db"));
    CHECK(b->applied_index() == 300);
    CHECK(b->state_digest() == digest);
    CHECK_FALSE(fs::exists(dir / "b.db.install"));
    CHECK(fs::exists(dir / "snap.db"));  // the snapshot itself stays
    b->apply_batch(workload(301, 20));
    b->commit();
    a->apply_batch(workload(301, 20));
    digest = a->state_digest();
  }
  // A copy a crash left behind is not a database anyone reads: it goes.
  { std::ofstream(dir / "b.db.install") << "partial"; }
  auto b = db::chat_store::open(dir / "b.db", err);
  REQUIRE(b);
  CHECK_FALSE(fs::exists(dir / "b.db.install"));
  CHECK(b->applied_index() == 320);
  CHECK(b->state_digest() == digest);
  fs::remove_all(dir);
}

TEST_CASE("damaged data is refused, never reset") {
  // (The Raft log's own refusals are in log_store_test.cpp.)
  auto dir = temp_dir();
  { std::ofstream(dir / "empty.db"); }
  db::open_error oe;
  CHECK(!db::chat_store::open(dir / "empty.db", oe));
  CHECK(oe.message.find("empty") != std::string::npos);
  { std::ofstream f(dir / "junk.db"); f << std::string(8192, 'J'); }
  CHECK(!db::chat_store::open(dir / "junk.db", oe));
  CHECK(fs::file_size(dir / "junk.db") == 8192);  // untouched
  fs::remove_all(dir);
}

TEST_CASE("the WAL stays bounded: automatic checkpoints are never blocked by a statement mid-read") {
  // Regression: a SELECT left stepped (not reset) while COMMIT ran kept the
  // checkpoint from happening at all; chat.db-wal reached 3 GB at 1M sends.
  auto dir = temp_dir();
  db::open_error err;
  auto s = db::chat_store::open(dir / "chat.db", err);
  REQUIRE(s);
  s->apply_batch({cmd(1, chat::cmd_create_account{"a", "h", 1}), cmd(2, chat::cmd_create_account{"b", "h", 1})});
  const std::string body(2000, 'x');
  std::uint64_t idx = 3;
  // 60 MB: past the 10,000 pages (~41 MB) at which a commit checkpoints.
  for (int b = 0; b < 300; ++b) {
    std::vector<raft::entry> es;
    for (int i = 0; i < 100; ++i, ++idx)
      es.push_back(cmd(idx, chat::cmd_send{"a", "b", body, "n" + std::to_string(idx), 1}));
    s->apply_batch(es);
    (void)s->unread("b", 5);  // reads between batches, as the gateway does
    (void)s->password_hash("a");
    s->commit();
  }
  const auto wal = fs::file_size(dir / "chat.db-wal");
  MESSAGE("60 MB of messages applied; chat.db-wal is " << wal / 1024 << " KiB");
  CHECK(wal < 48u * 1024 * 1024);
  CHECK(fs::file_size(dir / "chat.db") > 30u * 1024 * 1024);  // the data reached the database file
  fs::remove_all(dir);
}

TEST_CASE("an open transaction's dirty pages stay in memory up to 64 MiB: nothing spills into the WAL before its commit") {
  // The page cache keeps 16 MiB of clean pages, but a transaction may dirty
  // more before SQLite writes pages into the WAL mid-transaction (and reads
  // them back): cache_spill, not cache_size, decides that.
  qc::test::temp_dir dir;
  auto s = qc::test::open_store(dir.p / "chat.db");
  s->apply_batch({cmd(1, chat::cmd_create_account{"a", "h", 1}), cmd(2, chat::cmd_create_account{"b", "h", 1})});
  s->commit();
  const auto committed_wal = fs::file_size(dir.p / "chat.db-wal");
  const std::string body(2000, 'x');
  std::uint64_t idx = 3;
  // About 32 MB of rows: twice the clean-page budget, half the spill threshold.
  for (int b = 0; b < 160; ++b) {
    std::vector<raft::entry> es;
    for (int i = 0; i < 100; ++i, ++idx) es.push_back(cmd(idx, chat::cmd_send{"a", "b", body, std::nullopt, 1}));
    s->apply_batch(es);
  }
  CHECK(s->uncommitted() == 16'000);
  const auto open_wal = fs::file_size(dir.p / "chat.db-wal");
  MESSAGE("chat.db-wal: " << committed_wal / 1024 << " KiB after the first commit, " << open_wal / 1024
                          << " KiB with 32 MB applied in the open transaction");
  CHECK(open_wal == committed_wal);
  s->commit();
  CHECK(fs::file_size(dir.p / "chat.db-wal") > 30u * 1024 * 1024);  // the commit wrote them
  CHECK(s->message_count() == 16'000);
}

TEST_CASE("applies stay in one open transaction: this connection sees them, a copy only what was committed") {
  auto dir = temp_dir();
  auto s = qc::test::open_store(dir / "chat.db");
  s->apply_batch(workload(1, 100));
  s->commit();
  s->apply_batch(workload(101, 30));
  s->apply_batch(workload(131, 20));
  CHECK(s->uncommitted() == 50);
  CHECK(s->applied_index() == 150);
  CHECK(s->message_count() > 100);  // queries see the uncommitted applies
  // The background snapshot copies through its own connection.
  REQUIRE_FALSE(db::chat_store::snapshot_file_to(dir / "chat.db", dir / "a.db"));
  CHECK(db::chat_store::snapshot_applied_index(dir / "a.db") == 100);
  s->commit();
  CHECK(s->uncommitted() == 0);
  REQUIRE_FALSE(db::chat_store::snapshot_file_to(dir / "chat.db", dir / "b.db"));
  CHECK(db::chat_store::snapshot_applied_index(dir / "b.db") == 150);
  // A copy at 100 holds exactly the state of the first 100 entries.
  auto ref = qc::test::open_store(dir / "ref.db");
  ref->apply_batch(workload(1, 100));
  CHECK(qc::test::open_store(dir / "a.db")->state_digest() == ref->state_digest());
  fs::remove_all(dir);
}

namespace {
/// Turns a chat.db of this version back into schema 1 (sessions without
/// last_used; the indexes of schema 1), as an earlier version of the node left it.
void make_schema_1(const fs::path& file) {
  SQLite::Database db(file.string(), SQLite::OPEN_READWRITE);
  for (const char* sql : {"DROP INDEX messages_unread", "CREATE INDEX messages_unread ON messages(recipient, read, id)",
                          "CREATE INDEX messages_sender ON messages(sender)",
                          "CREATE INDEX conversations_recent ON conversations(user, last_id)",
                          "CREATE INDEX conversations_by_peer ON conversations(peer)",
                          "ALTER TABLE sessions DROP COLUMN last_used", "UPDATE meta SET value = 1 WHERE key = 'schema_version'"})
    db.exec(sql);
}
std::vector<std::string> indexes(const fs::path& file) {
  SQLite::Database db(file.string(), SQLite::OPEN_READONLY);
  SQLite::Statement q(db, "SELECT name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL ORDER BY name");
  std::vector<std::string> out;
  while (q.executeStep()) out.push_back(q.getColumn(0).getString());
  return out;
}
}  // namespace

TEST_CASE("a chat.db of schema 1 (and a snapshot of one) is upgraded in place; state and behaviour unchanged") {
  auto dir = temp_dir();
  qc::test::open_store(dir / "old.db")->apply_batch(workload(1, 300));  // committed as it closes
  make_schema_1(dir / "old.db");
  CHECK(indexes(dir / "old.db").size() == 6);
  auto ref = qc::test::open_store(dir / "ref.db");
  ref->apply_batch(workload(1, 300));
  {
    auto s = qc::test::open_store(dir / "old.db");
    CHECK(s->applied_index() == 300);
    CHECK(s->state_digest() == ref->state_digest());
    // Deleting an account still finds every message, through its conversations.
    const std::vector<raft::entry> more = {cmd(301, chat::cmd_create_account{"c", "h", 1}),
                                           cmd(302, chat::cmd_send{"c", "a", "x", std::nullopt, 1}),
                                           cmd(303, chat::cmd_send{"c", "c", "self", std::nullopt, 1}),
                                           cmd(304, chat::cmd_delete_account{"a"})};
    auto r = s->apply_batch(more);
    ref->apply_batch(more);
    CHECK(r.back().code == db::apply_code::ok);
    CHECK(s->state_digest() == ref->state_digest());
    CHECK(s->message_count() == 1);  // c's note to self
    CHECK(s->conversations("c").size() == 1);
    CHECK(s->conversations("b").empty());
  }
  const std::vector<std::string> v2 = {"messages_pair", "messages_unread", "sessions_by_user"};
  CHECK(indexes(dir / "old.db") == v2);
  // A snapshot written by a node of the earlier version installs and is upgraded.
  ref->commit();
  REQUIRE_FALSE(ref->snapshot_to(dir / "snap.db"));
  make_schema_1(dir / "snap.db");
  auto fresh = qc::test::open_store(dir / "fresh.db");
  const auto e = fresh->install_snapshot(dir / "snap.db");
  REQUIRE_MESSAGE(!e, e.what);
  CHECK(fresh->applied_index() == 304);
  CHECK(fresh->state_digest() == ref->state_digest());
  fresh->commit();
  CHECK(indexes(dir / "fresh.db") == v2);
  fs::remove_all(dir);
}

TEST_CASE("read_together: queries share one read transaction and see every apply, committed or not") {
  auto dir = temp_dir();
  db::open_error err;
  auto s = db::chat_store::open(dir / "chat.db", err);
  REQUIRE(s);
  s->apply_batch(workload(1, 20));
  s->commit();
  SQLite::Database other((dir / "chat.db").string(), SQLite::OPEN_READWRITE);
  std::size_t first = 0;
  std::size_t second = 0;
  s->read_together([&] {
    first = s->history("a", "b", 1000, std::nullopt).size();
    // A write by another connection between two queries of the batch is
    // not seen: both read one snapshot.
    other.exec("DELETE FROM messages");
    second = s->history("a", "b", 1000, std::nullopt).size();
  });
  CHECK(first > 0);
  CHECK(second == first);
  CHECK(s->history("a", "b", 1000, std::nullopt).empty());  // the batch ended: the next read sees it
  // Inside an open write transaction the batch reads the uncommitted applies.
  s->apply_batch(workload(21, 10));
  REQUIRE(s->uncommitted() > 0);
  std::size_t seen = 0;
  s->read_together([&] { seen = s->history("a", "b", 1000, std::nullopt).size(); });
  CHECK(seen > 0);
  CHECK(s->uncommitted() > 0);  // still open: read_together neither committed nor rolled it back
  s->commit();
  CHECK(s->applied_index() == 30);
  fs::remove_all(dir);
}

TEST_CASE("conversation rows as a build that updated both of a pair's rows left them: read and digested alike") {
  auto dir = temp_dir();
  const auto log = std::vector<raft::entry>{
      cmd(1, chat::cmd_create_account{"a", "h", 1}), cmd(2, chat::cmd_create_account{"b", "h", 1}),
      cmd(3, chat::cmd_create_account{"c", "h", 1}), cmd(4, chat::cmd_send{"a", "b", "1", std::nullopt, 4}),
      cmd(5, chat::cmd_send{"b", "a", "2", std::nullopt, 5}), cmd(6, chat::cmd_send{"a", "b", "3", std::nullopt, 6}),
      cmd(7, chat::cmd_send{"c", "a", "4", std::nullopt, 7}), cmd(8, chat::cmd_send{"c", "c", "5", std::nullopt, 8})};
  db::open_error err;
  auto now = db::chat_store::open(dir / "now.db", err);
  REQUIRE(now);
  now->apply_batch(log);
  {
    auto older = db::chat_store::open(dir / "older.db", err);
    REQUIRE(older);
    older->apply_batch(log);
  }
  {  // what the older build stored: every row points at the pair's newest message
    SQLite::Database raw((dir / "older.db").string(), SQLite::OPEN_READWRITE);
    CHECK(raw.exec("UPDATE conversations SET last_id = (SELECT MAX(id) FROM messages WHERE pa = MIN(user, peer) "
                   "AND pb = MAX(user, peer))") > 0);
  }
  auto older = db::chat_store::open(dir / "older.db", err);
  REQUIRE(older);
  const auto same = [&] {
    CHECK(now->state_digest() == older->state_digest());
    for (const char* u : {"a", "b", "c"}) {
      CAPTURE(u);
      const auto x = now->conversations(u), y = older->conversations(u);
      REQUIRE(x.size() == y.size());
      for (std::size_t k = 0; k < x.size(); ++k) {
        CHECK(x[k].with == y[k].with);
        CHECK(x[k].unread == y[k].unread);
        CHECK(x[k].last.id == y[k].last.id);
      }
    }
  };
  same();
  const auto of_a = now->conversations("a");
  REQUIRE(of_a.size() == 2);
  CHECK((of_a[0].with == "c" && of_a[0].last.id == 7));
  CHECK((of_a[1].with == "b" && of_a[1].last.id == 6));  // a's own row last received 5
  const auto more = std::vector<raft::entry>{cmd(9, chat::cmd_send{"b", "a", "6", std::nullopt, 9})};
  now->apply_batch(more);
  older->apply_batch(more);
  same();
  fs::remove_all(dir);
}
