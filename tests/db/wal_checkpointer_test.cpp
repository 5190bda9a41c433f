// The WAL checkpointer: the thread does the copying, the committing
// connection only finishes it, and the WAL still restarts within its bound.
//
// Owned by: the test thread.
#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include <SQLiteCpp/SQLiteCpp.h>

#include "db/temp_store.h"
#include "db/wal_checkpointer.h"

namespace fs = std::filesystem;
using namespace qc;

namespace {
constexpr std::uint64_t bound = 200;  // frames

/// A WAL database with one table, on SQLite's default VFS.
std::unique_ptr<SQLite::Database> open_wal(const fs::path& file) {
  auto db = std::make_unique<SQLite::Database>(file.string(), SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
  db->exec("PRAGMA journal_mode=WAL");
  db->exec("PRAGMA synchronous=NORMAL");
  db->exec("PRAGMA journal_size_limit = " + std::to_string(bound * 4096));
  db->exec("CREATE TABLE IF NOT EXISTS t(k INTEGER PRIMARY KEY, v BLOB)");
  return db;
}

/// Commits `n` transactions of `rows` rows of 2 KB each (20 rows: ~11 pages). Like the apply
/// thread, each transaction starts right after the last commit (its first
/// insert takes its read snapshot before the thread can copy that commit);
/// with `c`, the thread then finishes whatever it was asked before the
/// transaction commits, as it does between the apply thread's commits,
/// which are a second apart.
void write(SQLite::Database& db, int n, int& k, const db::wal_checkpointer* c = nullptr, int rows = 20) {
  SQLite::Statement ins(db, "INSERT INTO t VALUES (?, zeroblob(2000))");
  for (int t = 0; t < n; ++t) {
    SQLite::Transaction tx(db);
    for (int i = 0; i < rows; ++i) {
      ins.bind(1, ++k);
      ins.exec();
      ins.reset();
      if (i == 0 && c)
        while (c->busy()) std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
    tx.commit();
  }
}
/// A WAL database in a directory of its own, and its keys so far.
struct wal_db {
  test::temp_dir d{"ckpt"};
  fs::path file = d.p / "x.db";
  std::unique_ptr<SQLite::Database> db = open_wal(file);
  int k = 0;
  std::uintmax_t wal_size() const { return fs::file_size(fs::path(file.string() + "-wal")); }
  /// Commits `commits` transactions one by one (as write() does) and
  /// returns the largest the WAL file was after any of them.
  std::uintmax_t largest_wal(int commits, const db::wal_checkpointer& c) {
    std::uintmax_t largest = 0;
    for (int i = 0; i < commits; ++i) {
      write(*db, 1, k, &c);
      largest = std::max(largest, wal_size());
    }
    return largest;
  }
};
/// A reader that keeps its read transaction (as a snapshot copy does)
/// until it goes: no checkpoint may copy past what it reads.
struct long_reader {
  explicit long_reader(const fs::path& file)
      : db(file.string(), SQLite::OPEN_READONLY), tx(db), q(db, "SELECT count(*) FROM t") {
    REQUIRE(q.executeStep());
  }
  ~long_reader() { q.reset(); }
  SQLite::Database db;
  SQLite::Transaction tx;
  SQLite::Statement q;
};
}  // namespace

TEST_CASE("wal checkpointer: the thread copies, the commit after it finishes and the WAL restarts") {
  wal_db w;
  auto& [dir, file, db, k] = w;
  {
    db::wal_checkpointer c(file, nullptr, bound);
    c.hook(db->getHandle());
    // ~11 pages per commit: 300 commits are 3,300 pages, 16 bounds. The
    // thread's copy always trails the transaction that has begun, so only
    // the commit after it, copying what is left inline, can leave nothing
    // uncopied and let the WAL restart.
    const auto largest = w.largest_wal(300, c);
    // The WAL restarted instead of growing to the whole 3,300 pages (or to
    // twice the bound, where a commit no longer waits for the thread): it
    // never grows much past the bound plus the frames of two commits.
    CHECK(largest < (bound + 40) * (4096 + 24) + 32);
    for (int i = 0; i < 200 && c.done() == 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    CHECK(c.done() > 0);
    CHECK(c.last_error().empty());
    db::wal_checkpointer::unhook(db->getHandle());
  }
  // Everything reached the database file through the checkpoints.
  CHECK(fs::file_size(file) > 300u * 20 * 2000 * 9 / 10);
  SQLite::Statement n(*db, "SELECT count(*) FROM t");
  REQUIRE(n.executeStep());
  CHECK(n.getColumn(0).getInt() == k);
}

TEST_CASE("wal checkpointer: a reader holds the WAL; once it is gone the WAL restarts again") {
  wal_db w;
  auto& [dir, file, db, k] = w;
  db::wal_checkpointer c(file, nullptr, bound);
  c.hook(db->getHandle());
  write(*db, 5, k);
  SUBCASE("the reader leaves past twice the bound") {
    {
      long_reader reader(file);
      write(*db, 60, k, &c);  // 660 pages, past three bounds
      CHECK(w.wal_size() > 600u * 4096);
    }
    // Past twice the bound every commit checkpoints inline: a few small
    // ones after the reader left copy everything and restart the WAL.
    write(*db, 4, k, &c, 1);
    // Restarted and cut back to journal_size_limit.
    CHECK(w.wal_size() <= (bound + 40) * (4096 + 24) + 32);
    write(*db, 150, k, &c);
    CHECK(w.wal_size() <= (bound + 40) * (4096 + 24) + 32);
  }
  SUBCASE("the reader leaves below twice the bound; small commits restart the WAL") {
    {
      long_reader reader(file);
      // Past the bound (short of twice it), up to a checkpoint of the
      // thread and the commit that finishes it: both stop at the reader.
      while (w.wal_size() < (bound + 20) * 4096) write(*db, 1, k, &c);
      for (const auto d0 = c.done(); c.done() == d0;) write(*db, 1, k, &c);
      write(*db, 1, k, &c);
      // Small commits go on while the reader stays.
      write(*db, 6, k, &c, 1);
      CHECK(w.wal_size() < 2 * bound * 4096);
    }
    // One-row commits barely grow the WAL; still each one past the bound
    // asks for a checkpoint or finishes one, so what the reader held back is
    // copied and the WAL restarts, cut back to journal_size_limit (asking
    // only at every quarter bound of growth, it would wait for the WAL to
    // grow that much first).
    write(*db, 6, k, &c, 1);
    CHECK(w.wal_size() <= bound * 4096);
  }
  CHECK(c.last_error().empty());
  db::wal_checkpointer::unhook(db->getHandle());
}

TEST_CASE("wal checkpointer: commits larger than a quarter of the bound checkpoint inline, as SQLite would") {
  wal_db w;
  auto& [dir, file, db, k] = w;
  constexpr std::uint64_t small = 30;  // frames: fewer than three of these commits
  db::wal_checkpointer c(file, nullptr, small);
  c.hook(db->getHandle());
  const auto largest = w.largest_wal(40, c);
  // The thread would have let the WAL reach the bound plus two commits or
  // more; inline, the commit that passes the bound copies everything and
  // the next one restarts the WAL.
  CHECK(largest < (small + 12) * (4096 + 24) + 32);
  CHECK(c.done() == 0);
  db::wal_checkpointer::unhook(db->getHandle());
}

TEST_CASE("wal checkpointer: a shorter first bound moves the cycle; later cycles take the whole bound") {
  // The commits (of ~11 pages each) after which the thread had finished
  // its first and its second checkpoint.
  auto cycles = [](std::uint64_t first_frames) {
    wal_db w;
    db::wal_checkpointer c(w.file, nullptr, bound, first_frames);
    c.hook(w.db->getHandle());
    std::vector<int> at;
    for (int i = 1; i <= 100 && at.size() < 2; ++i) {
      write(*w.db, 1, w.k, &c);
      while (c.busy()) std::this_thread::sleep_for(std::chrono::microseconds(200));
      if (c.done() > at.size()) at.push_back(i);
    }
    CHECK(c.last_error().empty());
    db::wal_checkpointer::unhook(w.db->getHandle());
    return at;
  };
  const auto whole = cycles(0);
  const auto half = cycles(bound / 2);
  REQUIRE(whole.size() == 2);
  REQUIRE(half.size() == 2);
  // The thread is asked one commit before the bound: after 18 commits of
  // ~11 pages with the whole bound of 200, after 9 with a first bound of 100.
  CHECK(whole[0] >= 16);
  CHECK(half[0] <= whole[0] / 2 + 1);
  // From the first restart on, both take the whole bound: the phase stays.
  CHECK(half[1] - half[0] == whole[1] - whole[0]);
  CHECK(whole[1] - whole[0] >= 16);
}
