#include "db/disk_usage.h"

#include <sys/statvfs.h>

#include <algorithm>
#include <system_error>

#include "db/snapshot_files.h"

namespace qc::db {

namespace fs = std::filesystem;

disk_usage measure_data_dir(const fs::path& dir, std::uint64_t chat_free_bytes) {
  disk_usage u;
  std::error_code ec;
  std::uint64_t newest_index = 0, newest_size = 0, copying = 0, state = 0, wal = 0;
  for (auto it = fs::recursive_directory_iterator(dir, fs::directory_options::skip_permission_denied, ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    std::error_code fe;
    if (!it->is_regular_file(fe)) continue;
    const auto size = it->file_size(fe);
    if (fe) continue;
    const auto name = it->path().filename().string();
    const bool chat_db = name == "chat.db" && it.depth() == 0;
    const auto live = chat_db ? size - std::min(size, chat_free_bytes) : size;
    u.used_bytes += live;
    if (chat_db) {
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
