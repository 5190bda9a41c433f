// A small tmpfs mounted for one test, so that a full disk is real (ENOSPC
// from the kernel, not a simulation). Needs CAP_SYS_ADMIN (root); without
// it mounted() is false and the test says it was skipped.
//
// Owned by: the test thread.
#pragma once

#include <sys/mount.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <random>
#include <string>

namespace qc::test {

/// A tmpfs of a given size at a fresh directory; unmounted on destruction.
class tmpfs {
 public:
  explicit tmpfs(std::uint64_t bytes, const std::string& tag = "tmpfs") {
    std::random_device rd;
    dir_ = std::filesystem::temp_directory_path() /
           ("qc-" + tag + "-" + std::to_string(::getpid()) + "-" + std::to_string(rd()));
    std::filesystem::create_directories(dir_);
    mounted_ = ::mount("tmpfs", dir_.c_str(), "tmpfs", 0, options(bytes).c_str()) == 0;
    if (!mounted_) error_ = std::strerror(errno);
  }
  ~tmpfs() {
    if (mounted_) ::umount2(dir_.c_str(), MNT_DETACH);
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  tmpfs(const tmpfs&) = delete;
  tmpfs& operator=(const tmpfs&) = delete;

  bool mounted() const { return mounted_; }
  const std::string& error() const { return error_; }
  const std::filesystem::path& dir() const { return dir_; }
  /// Changes the size in place (space comes back, or goes); true on success.
  bool resize(std::uint64_t bytes) {
    return ::mount("tmpfs", dir_.c_str(), "tmpfs", MS_REMOUNT, options(bytes).c_str()) == 0;
  }

 private:
  static std::string options(std::uint64_t bytes) { return "size=" + std::to_string(bytes) + ",mode=0755"; }
  std::filesystem::path dir_;
  bool mounted_ = false;
  std::string error_;
};

}  // namespace qc::test
