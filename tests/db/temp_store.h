// Shared fixtures of the storage tests: a unique temporary directory that
// removes itself, a chat store opened in it, and a log entry carrying a
// command.
//
// Owned by: the test thread.
#pragma once

#include <doctest/doctest.h>

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>

#include "chat/command.h"
#include "db/chat_store.h"

namespace qc::test {

/// A fresh directory under /tmp, removed (with its contents) on destruction.
struct temp_dir {
  std::filesystem::path p;
  explicit temp_dir(const std::string& tag = "db") {
    p = std::filesystem::temp_directory_path() /
        ("qc-" + tag + "-" + std::to_string(::getpid()) + "-" + std::to_string(std::rand()));
    std::filesystem::create_directories(p);
  }
  ~temp_dir() {
    std::error_code ec;
    std::filesystem::remove_all(p, ec);
  }
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;
};

/// Opens (creating) a chat store at `file`; fails the test with the reason.
inline std::unique_ptr<db::chat_store> open_store(const std::filesystem::path& file) {
  db::open_error err;
  auto s = db::chat_store::open(file, err);
  REQUIRE_MESSAGE(s, err.message);
  return s;
}

/// A normal log entry at `index` carrying `c`.
inline raft::entry command_entry(std::uint64_t index, const chat::command& c, std::uint64_t term = 1) {
  return raft::entry{term, index, raft::entry_type::normal, chat::encode_command(c)};
}

}  // namespace qc::test
