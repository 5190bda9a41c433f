// Small helpers shared by the two SQLite stores: opening a file with the
// durability settings we rely on, refusing damaged files, and a cache of
// prepared statements.
//
// Owned by: the thread that owns the store using them.
#pragma once

#include <filesystem>
#include <map>
#include <memory>
#include <cstdint>
#include <string>
#include <string_view>
#include <system_error>

#include <SQLiteCpp/Backup.h>
#include <SQLiteCpp/SQLiteCpp.h>
#include <sqlite3.h>

namespace qc::db {

/// Process-wide SQLite settings, applied before SQLite first initializes
/// (open_database and the VFS registrations call it; later calls do
/// nothing). Turns off SQLite's memory statistics: nothing reads them, and
/// they cost a global mutex and counters on every allocation (about 8% of
/// applying a send). Owned by: whichever actor opens a database first.
void configure_sqlite();

/// The most of a database quick_check maps into memory, through PRAGMA
/// mmap_size, instead of reading it with a pread(2) per page: 0.33 s
/// instead of 0.52 s for 350 MB, most of the difference system time.
/// quick_check reads only files nothing else writes meanwhile (chat.db
/// before the node serves, a received snapshot written whole), so no
/// mapped page can lose its backing. SQLite caps it at its compile-time
/// SQLITE_MAX_MMAP_SIZE (2 GiB in Debian's build) and reads the rest as
/// usual.
inline constexpr std::int64_t whole_read_mmap_bytes = std::int64_t{1} << 40;

/// Runs PRAGMA quick_check on `db` through a memory mapping; "ok" or the
/// first problems it reports, joined by "; ".
std::string quick_check(SQLite::Database& db);

/// Opens `path` for reading and writing (creating it if absent), switches
/// it to WAL with synchronous=FULL (NORMAL if `full_sync` is false: commits
/// survive a process kill, and a power loss may only roll back whole
/// recent transactions), and runs quick_check (unless `check` is false: a
/// file whose bytes were just checked). On failure returns nullptr and a
/// one-line reason naming the file. A zero-length or unreadable existing
/// file is refused, never recreated. `vfs` names the SQLite VFS to use
/// (nullptr: the default one). The connection takes no mutex of its own
/// (SQLITE_OPEN_NOMUTEX): each is used by one thread at a time, and the
/// per-call locking cost showed up in every query's profile.
std::unique_ptr<SQLite::Database> open_database(const std::filesystem::path& path, bool& created, std::string& err,
                                                bool full_sync = true, const char* vfs = nullptr, bool check = true);

/// The storage error (db/errc.h) behind an exception thrown by `db`:
/// disk_full for SQLITE_FULL or an errno of ENOSPC/EDQUOT, io_error else.
std::error_code storage_error(const std::exception& e, SQLite::Database& db);

/// What `e` (thrown by `db`) says, with SQLite's extended result code and
/// the last system errno when they add something, e.g. "disk I/O error
/// (SQLite code 522, errno 5: Input/output error)": enough to tell a short
/// read from a failed fsync in a log line.
std::string storage_error_text(const std::exception& e, SQLite::Database& db);

/// A prepared statement of SQLite's own C interface, finalized when dropped.
struct finalize_statement {
  void operator()(sqlite3_stmt* q) const { sqlite3_finalize(q); }
};
using raw_statement = std::unique_ptr<sqlite3_stmt, finalize_statement>;

/// Binds `v` to parameter `i` of `q` without a copy (it must outlive the
/// statement's next reset); throws SQLite::Exception on failure.
void bind_static(sqlite3* db, sqlite3_stmt* q, int i, std::string_view v);
/// Binds `v` to parameter `i` of `q`; throws SQLite::Exception on failure.
void bind_int64(sqlite3* db, sqlite3_stmt* q, int i, std::int64_t v);
/// Steps `q`: true with a row, false when it is done; throws
/// SQLite::Exception on an error.
bool step_row(sqlite3* db, sqlite3_stmt* q);
/// Text column `col` of `q`'s current row, in place (valid until `q` moves on).
inline std::string_view column_text(sqlite3_stmt* q, int col) {
  const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(q, col));  // before _bytes, as SQLite requires
  return p ? std::string_view(p, static_cast<std::size_t>(sqlite3_column_bytes(q, col))) : std::string_view();
}

/// Prepared statements by SQL text, reset before each reuse.
class statement_cache {
 public:
  explicit statement_cache(SQLite::Database& db) : db_(db) {}
  /// The statement for `sql`, reset and with bindings cleared.
  SQLite::Statement& operator()(const char* sql) {
    auto& slot = cache_[sql];
    if (!slot) slot = std::make_unique<SQLite::Statement>(db_, sql);
    slot->reset();
    slot->clearBindings();
    return *slot;
  }
  /// The same for a query whose rows are read on a hot path (a read reply's
  /// messages): SQLite's own statement, whose columns are read with no
  /// SQLiteCpp Column in between (each of those copies a shared_ptr, which
  /// cost more than reading the column), reset and with bindings cleared.
  sqlite3_stmt* raw(const char* sql);
  /// Drops every statement (after the database was replaced underneath).
  void clear() {
    cache_.clear();
    raw_.clear();
  }
  /// Resets every statement. A SELECT left mid-result keeps a read
  /// transaction open, which stops WAL checkpoints from ever restarting the
  /// WAL: it then grows without bound (we saw 2 GB at 1M messages).
  void reset_all() {
    for (auto& [sql, s] : cache_) s->tryReset();
    for (auto& [sql, q] : raw_) sqlite3_reset(q.get());
  }
  /// Calls reset_all() when it goes out of scope: one per public method.
  struct [[nodiscard]] reset_guard {
    statement_cache& c;
    ~reset_guard() { c.reset_all(); }
  };
  reset_guard guard() { return reset_guard{*this}; }
  /// The connection the statements belong to.
  sqlite3* handle() const { return db_.getHandle(); }

 private:
  SQLite::Database& db_;
  std::map<const char*, std::unique_ptr<SQLite::Statement>> cache_;
  std::map<const char*, raw_statement> raw_;
};

}  // namespace qc::db
