#include "db/fsync.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

namespace qc::db {

namespace {
/// Opens `p` with `flags`, fsyncs it, closes it; errno is read before close() can change it.
std::error_code fsync_opened(const std::filesystem::path& p, int flags) {
  const int fd = ::open(p.c_str(), flags | O_CLOEXEC);
  if (fd < 0) return {errno, std::system_category()};
  const int r = ::fsync(fd);
  const int e = errno;
  ::close(fd);
  return r == 0 ? std::error_code{} : std::error_code{e, std::system_category()};
}
}  // namespace

std::error_code fsync_dir(const std::filesystem::path& dir) { return fsync_opened(dir, O_RDONLY | O_DIRECTORY); }

std::error_code fsync_path(const std::filesystem::path& file) {
  if (auto ec = fsync_opened(file, O_RDONLY)) return ec;
  return fsync_dir(file.parent_path().empty() ? std::filesystem::path(".") : file.parent_path());
}

}  // namespace qc::db
