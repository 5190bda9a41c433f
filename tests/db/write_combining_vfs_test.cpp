// The write-combining VFS under chat.db: a commit reaches the WAL in a few
// large writes instead of two per page, another connection sees every
// committed row, pages spilled in the middle of a transaction read back
// right, a rolled-back transaction leaves nothing, and a full disk fails
// the commit itself. Every commit is in the file when COMMIT returns, so a
// reader in another connection and a process killed right after it see all
// of it. A copy's source is read in large pieces, never through a
// mapping; what was read ahead in one read transaction is never served in
// the next, and copies taken while another connection commits and
// checkpoints each hold exactly one committed state. System calls are
// counted by swapping the default VFS's pwrite or pread for a counting one
// (SQLite's xSetSystemCall).
#include "db/write_combining_vfs.h"

#include <SQLiteCpp/SQLiteCpp.h>
#include <doctest/doctest.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <string>
#include <thread>
#include <type_traits>

#include "db/temp_store.h"

using namespace qc;
namespace fs = std::filesystem;

namespace {

/// Counts the unix VFS's pwrite()s (Write) or pread()s to files whose name
/// ends in `suffix`, and fails writes with ENOSPC while `disk_full` is set.
template <bool Write>
struct io_counter {
  using buffer = std::conditional_t<Write, const void*, void*>;
  static inline std::string suffix = "-wal";
  static inline int calls = 0;
  static inline bool disk_full = false;
  static inline sqlite3_syscall_ptr real = nullptr;
  static inline const char* name = nullptr;

  static ssize_t counting(int fd, buffer buf, size_t n, off_t off) {
    char link[64];
    char target[4096];
    std::snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    const auto len = ::readlink(link, target, sizeof target - 1);
    const bool wal = len > 0 && std::string_view(target, static_cast<std::size_t>(len)).ends_with(suffix);
    if (wal) ++calls;
    if (Write && wal && disk_full) {
      errno = ENOSPC;
      return -1;
    }
    return reinterpret_cast<ssize_t (*)(int, buffer, size_t, off_t)>(real)(fd, buf, n, off);
  }

  io_counter() {
    sqlite3_vfs* unix_vfs = sqlite3_vfs_find(nullptr);
    // SQLite uses pwrite64/pread64 where the platform has them.
    static constexpr const char* names[2][2] = {{"pread64", "pread"}, {"pwrite64", "pwrite"}};
    for (const char* n : names[Write]) {
      if (auto p = unix_vfs->xGetSystemCall(unix_vfs, n)) {
        real = p;
        name = n;
        break;
      }
    }
    REQUIRE(static_cast<bool>(real));
    REQUIRE(unix_vfs->xSetSystemCall(unix_vfs, name, reinterpret_cast<sqlite3_syscall_ptr>(&counting)) == SQLITE_OK);
    calls = 0;
    disk_full = false;
    suffix = "-wal";
  }
  ~io_counter() {
    sqlite3_vfs* unix_vfs = sqlite3_vfs_find(nullptr);
    unix_vfs->xSetSystemCall(unix_vfs, name, real);
  }
};
using pwrite_counter = io_counter<true>;
using pread_counter = io_counter<false>;

SQLite::Database open_wal(const fs::path& file, const char* vfs) {
  SQLite::Database db(file.c_str(), SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE, 0, vfs);
  db.exec("PRAGMA journal_mode=WAL");
  db.exec("PRAGMA synchronous=NORMAL");
  return db;
}

/// open_wal() on a new file, with the table the tests fill.
SQLite::Database new_table(const fs::path& file, const char* vfs) {
  auto db = open_wal(file, vfs);
  db.exec("CREATE TABLE t(k INTEGER PRIMARY KEY, v TEXT)");
  return db;
}

/// Inserts rows [from, to) with 300-byte bodies in one transaction, keys
/// scattered so that the transaction dirties pages all over the B-tree.
void insert_rows(SQLite::Database& db, int from, int to) {
  SQLite::Statement ins(db, "INSERT INTO t VALUES (?, ?)");
  for (int i = from; i < to; ++i) {
    ins.bind(1, static_cast<std::int64_t>(i) * 2654435761 % 1000003);
    ins.bind(2, std::string(300, static_cast<char>('a' + i % 26)));
    ins.exec();
    ins.reset();
  }
}

/// insert_rows() in a transaction of its own, committed.
void commit_rows(SQLite::Database& db, int from, int to) {
  db.exec("BEGIN");
  insert_rows(db, from, to);
  db.exec("COMMIT");
}

/// VACUUM INTO `dest`, from `src`.
void vacuum_into(SQLite::Database& src, const fs::path& dest) {
  SQLite::Statement q(src, "VACUUM INTO ?");
  q.bind(1, dest.string());
  q.exec();
}

/// The rows of table t in `file`, after checking that it passes integrity_check.
std::int64_t checked_rows(const fs::path& file) {
  SQLite::Database out(file.c_str(), SQLite::OPEN_READONLY);
  CHECK(out.execAndGet("PRAGMA integrity_check").getString() == "ok");
  return out.execAndGet("SELECT count(*) FROM t").getInt64();
}

std::int64_t count_rows(const fs::path& file) {
  SQLite::Database other(file.c_str(), SQLite::OPEN_READONLY);
  return other.execAndGet("SELECT count(*) FROM t").getInt64();
}

}  // namespace

TEST_CASE("a commit of many pages reaches the WAL in a few writes, and another connection sees all of it") {
  test::temp_dir dir;
  const auto file = dir.p / "a.db";
  auto measure = [&](const char* vfs) {
    fs::remove(file);
    pwrite_counter counter;
    auto db = new_table(file, vfs);
    counter.calls = 0;
    commit_rows(db, 0, 3000);
    const int writes = counter.calls;
    CHECK(count_rows(file) == 3000);
    return writes;
  };
  const int plain = measure(nullptr);
  const int combined = measure(db::write_combining_vfs());
  MESSAGE("WAL writes for one 3,000-row commit: default VFS ", plain, ", write-combining ", combined);
  CHECK(plain > 200);  // two per page
  CHECK(combined <= 3 + plain * 4120 / 2 / static_cast<int>(db::write_combining_limit));
}

TEST_CASE("pages spilled in the middle of a transaction read back right; a rollback leaves nothing") {
  test::temp_dir dir;
  const auto file = dir.p / "b.db";
  auto db = new_table(file, db::write_combining_vfs());
  db.exec("PRAGMA cache_size = 10");  // spill after ten dirty pages
  db.exec("BEGIN");
  insert_rows(db, 0, 2000);
  CHECK(db.execAndGet("SELECT count(*) FROM t").getInt64() == 2000);
  CHECK(db.execAndGet("SELECT sum(length(v)) FROM t").getInt64() == 2000 * 300);
  db.exec("ROLLBACK");
  CHECK(count_rows(file) == 0);
  commit_rows(db, 0, 2000);
  db.exec("BEGIN");
  insert_rows(db, 2000, 2500);
  db.exec("ROLLBACK");
  CHECK(count_rows(file) == 2000);
  CHECK(db.execAndGet("PRAGMA integrity_check").getString() == "ok");
}

TEST_CASE("many commits across checkpoints survive a reopen") {
  test::temp_dir dir;
  const auto file = dir.p / "c.db";
  {
    auto db = new_table(file, db::write_combining_vfs());
    db.exec("PRAGMA wal_autocheckpoint = 50");
    for (int c = 0; c < 40; ++c) {
      commit_rows(db, c * 100, c * 100 + 100);
    }
  }
  auto db = open_wal(file, db::write_combining_vfs());
  CHECK(db.execAndGet("PRAGMA integrity_check").getString() == "ok");
  CHECK(count_rows(file) == 4000);
}

TEST_CASE("a full disk fails the commit itself, which rolls back whole") {
  test::temp_dir dir;
  const auto file = dir.p / "d.db";
  pwrite_counter counter;
  auto db = new_table(file, db::write_combining_vfs());
  commit_rows(db, 0, 100);
  db.exec("BEGIN");
  insert_rows(db, 100, 1100);
  counter.disk_full = true;
  int code = SQLITE_OK;
  try {
    db.exec("COMMIT");
  } catch (const SQLite::Exception& e) {
    code = e.getErrorCode();
  }
  CHECK(code == SQLITE_FULL);
  counter.disk_full = false;
  if (sqlite3_get_autocommit(db.getHandle()) == 0) db.exec("ROLLBACK");
  CHECK(db.execAndGet("SELECT count(*) FROM t").getInt64() == 100);
  CHECK(count_rows(file) == 100);
  commit_rows(db, 100, 1100);
  CHECK(count_rows(file) == 1100);
  CHECK(db.execAndGet("PRAGMA integrity_check").getString() == "ok");
}

TEST_CASE("a VACUUM INTO copy is written in a few large writes, and is whole") {
  test::temp_dir dir;
  const auto file = dir.p / "e.db";
  {
    auto db = new_table(file, nullptr);
    commit_rows(db, 0, 3000);
  }
  auto copy = [&](const char* vfs, const char* name) {
    pwrite_counter counter;
    counter.suffix = name;
    SQLite::Database src(file.c_str(), SQLite::OPEN_READONLY, 0, vfs);
    vacuum_into(src, dir.p / name);
    const int writes = counter.calls;
    CHECK(checked_rows(dir.p / name) == 3000);
    return writes;
  };
  const int plain = copy(nullptr, "plain.db");
  const int combined = copy(db::write_combining_copy_vfs(), "combined.db");
  MESSAGE("writes for a copy of 3,000 rows: default VFS ", plain, ", write-combining ", combined);
  CHECK(plain > 200);  // one per page
  CHECK(combined <= 3 + plain * 4096 / static_cast<int>(db::write_combining_limit));
}

TEST_CASE("a copy's source is read in large pieces, never mapped, and the copy is whole") {
  test::temp_dir dir;
  const auto file = dir.p / "r.db";
  {
    // Keys in insertion order, as chat.db's messages (id = log index).
    auto db = new_table(file, nullptr);
    db.exec("BEGIN");
    SQLite::Statement ins(db, "INSERT INTO t VALUES (?, ?)");
    for (int i = 0; i < 3000; ++i) {
      ins.bind(1, i);
      ins.bind(2, std::string(300, static_cast<char>('a' + i % 26)));
      ins.exec();
      ins.reset();
    }
    db.exec("COMMIT");
    db.exec("PRAGMA wal_checkpoint(TRUNCATE)");  // every page in r.db itself
  }
  auto copy = [&](const char* vfs, const char* name, std::int64_t mmap_bytes) {
    pread_counter counter;
    counter.suffix = "r.db";
    SQLite::Database src(file.c_str(), SQLite::OPEN_READONLY, 0, vfs);
    src.exec("PRAGMA mmap_size = " + std::to_string(mmap_bytes));
    vacuum_into(src, dir.p / name);
    const int reads = counter.calls;
    CHECK(checked_rows(dir.p / name) == 3000);
    return reads;
  };
  const auto pages = static_cast<int>(fs::file_size(file) / 4096);
  const int pieces = 1 + pages * 4096 / static_cast<int>(db::read_ahead_bytes);
  const int plain = copy(nullptr, "plain.db", 0);
  const int mapped = copy(nullptr, "mapped.db", 1 << 30);
  const int ahead = copy(db::write_combining_copy_vfs(), "ahead.db", 1 << 30);  // the mapping asked for is declined
  MESSAGE("reads of the source for a copy of ", pages, " pages: default VFS ", plain, ", mapped ", mapped,
          ", copy VFS ", ahead, " (", pieces, " pieces)");
  CHECK(plain >= pages);
  CHECK(mapped < pages / 10);
  CHECK(ahead >= pieces);  // it read with pread, not through the mapping
  CHECK(ahead <= 3 * pieces);
}

TEST_CASE("what a copy's source read ahead in one transaction is never served in the next") {
  test::temp_dir dir;
  const auto file = dir.p / "s.db";
  auto writer = new_table(file, nullptr);
  commit_rows(writer, 0, 200);  // about 20 pages: the whole file fits in one piece read ahead
  writer.exec("PRAGMA wal_checkpoint(TRUNCATE)");
  REQUIRE(fs::file_size(file) < db::read_ahead_bytes);
  SQLite::Database src(file.c_str(), SQLite::OPEN_READONLY, 0, db::write_combining_copy_vfs());
  // A first read transaction reads every page: the whole file is read ahead.
  CHECK(src.execAndGet("SELECT sum(length(v)) FROM t").getInt64() == 200 * 300);
  // Between the two, every page changes under it: rows rewritten in place
  // and more added, all checkpointed into the database file.
  writer.exec("UPDATE t SET v = upper(v)");
  commit_rows(writer, 200, 400);
  writer.exec("PRAGMA wal_checkpoint(TRUNCATE)");
  vacuum_into(src, dir.p / "copy.db");
  CHECK(checked_rows(dir.p / "copy.db") == 400);
  SQLite::Database out((dir.p / "copy.db").c_str(), SQLite::OPEN_READONLY);
  CHECK(out.execAndGet("SELECT count(*) FROM t WHERE v = upper(v)").getInt64() == 200);  // the rows rewritten
}

TEST_CASE("a copy taken while another connection commits and checkpoints holds exactly one committed state") {
  test::temp_dir dir;
  const auto file = dir.p / "c.db";
  auto writer = new_table(file, nullptr);
  commit_rows(writer, 0, 500);
  std::atomic<bool> done{false};
  std::thread w([&] {
    // Batches of 100 rows, each committed whole; a checkpoint after each
    // copies the WAL into the database file under the readers.
    for (int b = 5; b < 60 && !done; ++b) {
      commit_rows(writer, b * 100, (b + 1) * 100);
      writer.exec("PRAGMA wal_checkpoint(PASSIVE)");
    }
    done = true;
  });
  struct joiner {  // also when a check below throws
    std::atomic<bool>& done;
    std::thread& t;
    ~joiner() {
      done = true;
      t.join();
    }
  } join_writer{done, w};
  int copies = 0;
  while (!done || copies == 0) {
    const auto name = dir.p / ("copy" + std::to_string(copies++) + ".db");
    SQLite::Database src(file.c_str(), SQLite::OPEN_READONLY, 0, db::write_combining_copy_vfs());
    vacuum_into(src, name);
    // Whole batches, the first ones: a multiple of 100 rows, with the keys of rows [0, n).
    const auto n = checked_rows(name);
    SQLite::Database out(name.c_str(), SQLite::OPEN_READONLY);
    CHECK(n % 100 == 0);
    std::int64_t want = 0;
    for (std::int64_t i = 0; i < n; ++i) want += i * 2654435761 % 1000003;
    CHECK(out.execAndGet("SELECT total(k) FROM t").getDouble() == static_cast<double>(want));
  }
  MESSAGE(copies, " copies taken while 5,500 rows were committed");
  CHECK(copies >= 1);
}

TEST_CASE("every commit is in the file when COMMIT returns, whatever its size: another connection reads it whole") {
  // Commits of 1 to 80 page-sized rows put the commit frame at every
  // position relative to the 120 KiB buffer, including a page that does
  // not fit behind its own header.
  test::temp_dir dir;
  const auto file = dir.p / "f.db";
  auto db = open_wal(file, db::write_combining_vfs());
  db.exec("CREATE TABLE t(k INTEGER PRIMARY KEY, v BLOB)");
  SQLite::Database reader(file.c_str(), SQLite::OPEN_READONLY);
  std::int64_t rows = 0;
  for (int k = 1; k <= 80; ++k) {
    db.exec("BEGIN");
    SQLite::Statement ins(db, "INSERT INTO t VALUES (?, randomblob(3900))");
    for (int i = 0; i < k; ++i, ++rows) {
      ins.bind(1, rows);
      ins.exec();
      ins.reset();
    }
    db.exec("COMMIT");
    INFO("after a commit of ", k, " rows");
    std::int64_t seen = -1, bytes = -1;
    try {
      SQLite::Statement q(reader, "SELECT count(*), sum(length(v)) FROM t");
      q.executeStep();
      seen = q.getColumn(0).getInt64();
      bytes = q.getColumn(1).getInt64();
    } catch (const std::exception& e) {
      FAIL_CHECK("the reader failed: ", std::string(e.what()));
    }
    CHECK(seen == rows);
    CHECK(bytes == rows * 3900);
    if (seen != rows) break;
  }
  CHECK(reader.execAndGet("PRAGMA quick_check").getString() == "ok");
}

TEST_CASE("a process killed right after COMMIT returned keeps that commit, also after pages were rewritten in place") {
  // A small page cache spills pages in the middle of the transaction and
  // writes some of them again in place; SQLite then rewrites the frame
  // checksums after the commit frame. Nothing of that may be left behind
  // in memory when COMMIT returns: recovery stops at the first frame whose
  // checksum does not match, and the commit would be gone.
  test::temp_dir dir;
  const auto file = dir.p / "g.db";
  {
    auto db = new_table(file, db::write_combining_vfs());
    commit_rows(db, 0, 100);
  }
  const pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    try {
      auto db = open_wal(file, db::write_combining_vfs());
      db.exec("PRAGMA cache_size = 10");
      db.exec("BEGIN");
      insert_rows(db, 100, 1100);
      db.exec("UPDATE t SET v = 'rewritten' WHERE k % 3 = 0");
      db.exec("COMMIT");
      ::_exit(0);  // with the connection open: whatever is still buffered is lost
    } catch (...) {
    }
    ::_exit(1);
  }
  int status = 0;
  REQUIRE(::waitpid(child, &status, 0) == child);
  REQUIRE(WIFEXITED(status));
  REQUIRE(WEXITSTATUS(status) == 0);
  CHECK(count_rows(file) == 1100);
  SQLite::Database db(file.c_str(), SQLite::OPEN_READONLY);
  CHECK(db.execAndGet("PRAGMA integrity_check").getString() == "ok");
}
