#include "db/log_file.h"

#include "db/fsync.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

namespace qc::db::log_file {

log_error io_error(int err, const std::filesystem::path& file, const std::string& what) {
  return {std::error_code(err, std::generic_category()), file.string() + ": " + what + ": " + std::strerror(err)};
}

log_error read_all(const std::filesystem::path& file, std::string& out) {
  const int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return io_error(errno, file, "cannot open");
  out.clear();
  char buf[1 << 16];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int e = errno;
      ::close(fd);
      return io_error(e, file, "cannot read");
    }
    if (n == 0) break;
    out.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  return {};
}

log_error write_at(int fd, const std::filesystem::path& file, const iovec* iov, int n, std::uint64_t offset) {
  std::vector<iovec> copy;  // made only after a short write, to trim its head
  const iovec* cur = iov;
  int count = n;
  std::uint64_t at = offset;
  while (count > 0) {
    const ssize_t w = ::pwritev(fd, cur, count, static_cast<off_t>(at));
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) return io_error(errno, file, "write at byte offset " + std::to_string(at) + " failed");
    if (w == 0) return io_error(EIO, file, "write at byte offset " + std::to_string(at) + " wrote nothing");
    at += static_cast<std::uint64_t>(w);
    auto left = static_cast<std::size_t>(w);
    while (count > 0 && left >= cur->iov_len) {
      left -= cur->iov_len;
      ++cur;
      --count;
    }
    if (count > 0 && left > 0) {
      std::vector<iovec> rest(cur, cur + count);
      rest[0].iov_base = static_cast<char*>(rest[0].iov_base) + left;
      rest[0].iov_len -= left;
      copy.swap(rest);
      cur = copy.data();
    }
  }
  return {};
}

log_error sync_data(int fd, const std::filesystem::path& file) {
  if (::fdatasync(fd) != 0) return io_error(errno, file, "fdatasync failed");
  return {};
}

log_error preallocate(int fd, const std::filesystem::path& file, std::uint64_t from, std::uint64_t to) {
  if (to <= from) return {};
  const int e = ::posix_fallocate(fd, static_cast<off_t>(from), static_cast<off_t>(to - from));
  if (e != 0) return io_error(e, file, "cannot preallocate " + std::to_string(to - from) + " bytes");
  return {};
}

log_error sync_dir(const std::filesystem::path& dir) {
  if (auto ec = fsync_dir(dir)) return io_error(ec.value(), dir, "fsync of the directory failed");
  return {};
}

}  // namespace qc::db::log_file
