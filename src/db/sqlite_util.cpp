#include "db/sqlite_util.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstring>
#include <string>

#include <sqlite3.h>

#include "db/errc.h"

namespace qc::db {

namespace fs = std::filesystem;

void configure_sqlite() {
  // SQLITE_MISUSE if SQLite was initialized already: then the defaults stay.
  static const int rc = sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
  (void)rc;
}

std::unique_ptr<SQLite::Database> open_database(const fs::path& path, bool& created, std::string& err,
                                                bool full_sync, const char* vfs, bool check) {
  configure_sqlite();
  std::error_code ec;
  created = !fs::exists(path, ec);
  if (!created) {
    const auto size = fs::file_size(path, ec);
    if (ec) {
      err = path.string() + ": cannot read: " + ec.message();
      return nullptr;
    }
    if (size == 0) {
      err = path.string() + ": file is empty (truncated?); refusing to start";
      return nullptr;
    }
  }
  try {
    auto db = std::make_unique<SQLite::Database>(
        path.c_str(), (created ? (SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE) : SQLite::OPEN_READWRITE) | SQLite::OPEN_NOMUTEX, 0,
        vfs);
    db->exec("PRAGMA journal_mode=WAL");
    db->exec(full_sync ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL");
    db->exec("PRAGMA foreign_keys=OFF");
    if (!created && check) {
      const std::string verdict = quick_check(*db);
      if (verdict != "ok") {
        err = path.string() + ": integrity check failed: " + verdict.substr(0, 200);
        return nullptr;
      }
    }
    return db;
  } catch (const std::exception& e) {
    err = path.string() + ": " + e.what() + "; refusing to start on a damaged file";
    return nullptr;
  }
}

std::string quick_check(SQLite::Database& db) {
  const auto before = db.execAndGet("PRAGMA mmap_size").getInt64();
  db.exec("PRAGMA mmap_size = " + std::to_string(whole_read_mmap_bytes));
  std::string verdict;
  {
    SQLite::Statement q(db, "PRAGMA quick_check");
    while (q.executeStep()) {
      if (!verdict.empty()) verdict += "; ";
      verdict += q.getColumn(0).getString();
    }
  }
  db.exec("PRAGMA mmap_size = " + std::to_string(before));
  return verdict;
}

std::error_code storage_error(const std::exception& e, SQLite::Database& db) {
  const auto* se = dynamic_cast<const SQLite::Exception*>(&e);
  if (se && (se->getErrorCode() == SQLITE_FULL)) return errc::disk_full;
  if (auto ec = from_errno(sqlite3_system_errno(db.getHandle())); ec == errc::disk_full) return ec;
  return errc::io_error;
}

std::string storage_error_text(const std::exception& e, SQLite::Database& db) {
  std::string out = e.what();
  const auto* se = dynamic_cast<const SQLite::Exception*>(&e);
  const int code = se ? se->getExtendedErrorCode() : 0;
  const int err = sqlite3_system_errno(db.getHandle());
  if ((se && code != se->getErrorCode()) || err != 0) {
    out += " (SQLite code " + std::to_string(code);
    if (err != 0) out += ", errno " + std::to_string(err) + ": " + std::strerror(err);
    out += ")";
  }
  return out;
}

void bind_static(sqlite3* db, sqlite3_stmt* q, int i, std::string_view v) {
  const int rc = sqlite3_bind_text(q, i, v.data(), static_cast<int>(v.size()), SQLITE_STATIC);
  if (rc != SQLITE_OK) throw SQLite::Exception(db, rc);
}

void bind_int64(sqlite3* db, sqlite3_stmt* q, int i, std::int64_t v) {
  const int rc = sqlite3_bind_int64(q, i, v);
  if (rc != SQLITE_OK) throw SQLite::Exception(db, rc);
}

bool step_row(sqlite3* db, sqlite3_stmt* q) {
  const int rc = sqlite3_step(q);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  throw SQLite::Exception(db, rc);
}

sqlite3_stmt* statement_cache::raw(const char* sql) {
  auto& slot = raw_[sql];
  if (!slot) {
    sqlite3_stmt* q = nullptr;
    const int rc = sqlite3_prepare_v3(db_.getHandle(), sql, -1, SQLITE_PREPARE_PERSISTENT, &q, nullptr);
    if (rc != SQLITE_OK) {
      sqlite3_finalize(q);
      throw SQLite::Exception(db_.getHandle(), rc);
    }
    slot.reset(q);
  }
  sqlite3_reset(slot.get());
  sqlite3_clear_bindings(slot.get());
  return slot.get();
}

}  // namespace qc::db
