#include "db/disk_usage.h"

#include <fcntl.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <system_error>

#include "db/snapshot_files.h"

namespace qc::db {

namespace fs = std::filesystem;

namespace {
std::uint64_t be(const unsigned char* p, int n) {
  std::uint64_t v = 0;
  for (int i = 0; i < n; ++i) v = (v << 8) | p[i];
  return v;
}
}  // namespace

std::uint64_t sqlite_free_bytes(const fs::path& file) {
  // https://www.sqlite.org/fileformat.html#the_database_header
  unsigned char h[100];
  const int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  const auto n = ::pread(fd, h, sizeof h, 0);
  ::close(fd);
  if (n != static_cast<ssize_t>(sizeof h) || std::memcmp(h, "SQLite format 3", 16) != 0) return 0;
  std::uint64_t page = be(h + 16, 2);
  if (page == 1) page = 65536;
  return page * be(h + 36, 4);  // page size x freelist pages
}

disk_usage measure_data_dir(const fs::path& dir) {
  disk_usage u;
  std::error_code ec;
  std::uint64_t newest_index = 0, newest_size = 0, copying = 0, state = 0, wal = 0;
  for (auto it = fs::recursive_directory_iterator(dir, fs::directory_options::skip_permission_denied, ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    std::error_code fe;
    if (!it->is_regular_file(fe)) continue;
    const auto size = it->file_size(fe);
    if (fe) continue;
    const auto live = size - std::min(size, sqlite_free_bytes(it->path()));
    u.used_bytes += live;
    const auto name = it->path().filename().string();
    if (name == "chat.db" && it.depth() == 0) {
      state = live;
    } else if (name == "chat.db-wal" && it.depth() == 0) {
      wal = size;
    } else if (auto index = snapshot_name_index(name); index && *index >= newest_index) {
      newest_index = *index;
      newest_size = size;
    } else if (is_copy_name(name)) {
      copying += size;
      if (auto c = copy_name_index(name)) u.copy_index = std::max(u.copy_index, *c);
    }
  }
  // The next copy holds chat.db's live pages (VACUUM INTO drops the free
  // ones) and the newer versions of pages its WAL holds (at most the WAL's
  // size: commits land there between checkpoints), and never less than the
  // newest snapshot unless rows were deleted.
  u.copy_bytes = std::max(newest_size, state + wal);
  u.copying_bytes = std::min(u.copy_bytes, copying);
  struct statvfs st {};
  if (::statvfs(dir.c_str(), &st) == 0) u.available_bytes = static_cast<std::uint64_t>(st.f_bavail) * st.f_frsize;
  return u;
}

}  // namespace qc::db
