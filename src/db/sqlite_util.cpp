#include "db/sqlite_util.h"

#include <fcntl.h>
#include <unistd.h>

namespace qc::db {

namespace fs = std::filesystem;

std::unique_ptr<SQLite::Database> open_database(const fs::path& path, bool& created, std::string& err,
                                                bool full_sync) {
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
        path.string(), created ? (SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE) : SQLite::OPEN_READWRITE);
    db->exec("PRAGMA journal_mode=WAL");
    db->exec(full_sync ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL");
    db->exec("PRAGMA foreign_keys=OFF");
    if (!created) {
      SQLite::Statement q(*db, "PRAGMA quick_check");
      std::string verdict;
      while (q.executeStep()) {
        if (!verdict.empty()) verdict += "; ";
        verdict += q.getColumn(0).getString();
      }
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

bool fsync_path(const fs::path& file) {
  int fd = ::open(file.c_str(), O_RDONLY);
  if (fd < 0) return false;
  bool ok = ::fsync(fd) == 0;
  ::close(fd);
  int dfd = ::open(file.parent_path().empty() ? "." : file.parent_path().c_str(), O_RDONLY | O_DIRECTORY);
  if (dfd >= 0) {
    ok = ok && ::fsync(dfd) == 0;
    ::close(dfd);
  }
  return ok;
}

}  // namespace qc::db
