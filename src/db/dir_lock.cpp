#include "db/dir_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace qc::db {

std::unique_ptr<dir_lock> dir_lock::acquire(const std::filesystem::path& dir, std::string& why) {
  const auto file = dir / "LOCK";
  const int fd = ::open(file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) {
    why = "cannot open " + file.string() + ": " + std::strerror(errno);
    return nullptr;
  }
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    const int err = errno;
    char buf[32] = {};
    const auto n = ::pread(fd, buf, sizeof buf - 1, 0);
    ::close(fd);
    if (err != EWOULDBLOCK) {
      why = "cannot lock " + file.string() + ": " + std::strerror(err);
      return nullptr;
    }
    std::string holder(buf, n > 0 ? static_cast<std::size_t>(n) : 0);
    while (!holder.empty() && (holder.back() == '\n' || holder.back() == ' ')) holder.pop_back();
    why = "data directory " + dir.string() + " is in use by another chatnode process" +
          (holder.empty() ? std::string() : " (pid " + holder + ")") + ": " + file.string() + " is locked";
    return nullptr;
  }
  // The holder's pid, for a second process's message: a hint, not fsynced.
  // The lock holds without it (a full disk, say), and a pid left by a
  // process that died is simply overwritten.
  const std::string pid = std::to_string(::getpid()) + "\n";
  const bool hinted = ::ftruncate(fd, 0) == 0 && ::pwrite(fd, pid.data(), pid.size(), 0) > 0;
  static_cast<void>(hinted);
  return std::unique_ptr<dir_lock>(new dir_lock(fd));
}

dir_lock::~dir_lock() { ::close(fd_); }

}  // namespace qc::db
