#include "db/snapshot_files.h"

#include <algorithm>
#include <map>
#include <string_view>
#include <system_error>

#include "db/chat_store.h"
#include "db/fsync.h"
#include "db/sqlite_util.h"

namespace qc::db {

namespace fs = std::filesystem;

namespace {
constexpr std::string_view finished_prefix = "snap-";
constexpr std::string_view copy_prefix = "snap-at-";
constexpr std::string_view copy_suffix = ".db.tmp";
constexpr std::string_view transfer_suffix = ".db.part";

/// The decimal number between `prefix` and `suffix` that make up `name`.
std::optional<std::uint64_t> number_between(std::string_view name, std::string_view prefix, std::string_view suffix) {
  if (name.size() <= prefix.size() + suffix.size() || !name.starts_with(prefix) || !name.ends_with(suffix))
    return std::nullopt;
  const auto digits = name.substr(prefix.size(), name.size() - prefix.size() - suffix.size());
  if (digits.find_first_not_of("0123456789") != std::string_view::npos || digits.size() > 19) return std::nullopt;
  return std::stoull(std::string(digits));
}

/// A copy or transfer found at start-up.
struct leftover {
  fs::path file;
  bool transfer = false;
  std::uint64_t named = 0;  ///< the index in its name
  bool whole = false;       ///< a valid snapshot
  std::uint64_t index = 0;  ///< the index inside (when whole)
  std::string why;          ///< why not whole
};
}  // namespace

std::string snapshot_name(std::uint64_t index) { return std::string(finished_prefix) + std::to_string(index) + ".db"; }

std::optional<std::uint64_t> snapshot_name_index(const std::string& filename) {
  if (filename.starts_with(copy_prefix)) return std::nullopt;
  return number_between(filename, finished_prefix, ".db");
}

std::string copy_name(std::uint64_t index) {
  return std::string(copy_prefix) + std::to_string(index) + std::string(copy_suffix);
}

bool is_copy_name(const std::string& filename) { return filename.starts_with(copy_prefix); }

std::optional<std::uint64_t> copy_name_index(const std::string& filename) {
  return number_between(filename, copy_prefix, copy_suffix);
}

std::string transfer_name(std::uint64_t index) {
  return std::string(finished_prefix) + std::to_string(index) + std::string(transfer_suffix);
}

std::vector<std::string> recover_snapshot_dir(const fs::path& dir) {
  std::vector<std::string> lines;
  std::error_code ec;
  std::uint64_t newest_valid = 0;  // the newest finished snapshot whose contents match its name
  bool any_finished = false;
  std::vector<leftover> found;
  std::vector<fs::path> side_files;  // SQLite journals and the like of copies
  for (const auto& de : fs::directory_iterator(dir, ec)) {
    const std::string name = de.path().filename().string();
    if (auto n = snapshot_name_index(name)) {
      if (chat_store::snapshot_applied_index(de.path()) == *n) {
        newest_valid = std::max(newest_valid, *n);
        any_finished = true;
      }
    } else if (auto c = copy_name_index(name)) {
      found.push_back({de.path(), false, *c, false, 0, {}});
    } else if (auto t = number_between(name, finished_prefix, transfer_suffix)) {
      found.push_back({de.path(), true, *t, false, 0, {}});
    } else if (is_copy_name(name)) {
      side_files.push_back(de.path());
    }
  }
  for (auto& l : found) {
    // A journal beside a copy means SQLite was still writing it.
    fs::path journal = l.file;
    journal += "-journal";
    if (fs::exists(journal, ec)) {
      l.why = "its copy was still running (journal present)";
      continue;
    }
    const auto bad = chat_store::verify_snapshot(l.file, l.index);
    l.whole = !bad;
    l.why = bad.what;
    if (l.whole && l.transfer && l.index != l.named) {
      l.whole = false;
      l.why = "it holds index " + std::to_string(l.index) + ", not the one in its name";
    }
  }
  // Newest first: a leftover renamed into place supersedes older ones.
  std::sort(found.begin(), found.end(), [](const leftover& a, const leftover& b) { return a.index > b.index; });
  bool renamed = false;
  for (const auto& l : found) {
    const std::string name = l.file.filename().string();
    if (!l.whole) {
      fs::remove(l.file, ec);
      lines.push_back("removed " + name + ": not a whole snapshot (" + l.why + ")");
    } else if (any_finished && l.index <= newest_valid) {
      fs::remove(l.file, ec);
      lines.push_back("removed " + name + ": superseded by " + snapshot_name(newest_valid));
    } else {
      // Nothing newer: this may be the only copy of the snapshot raft.db names.
      const auto target = dir / snapshot_name(l.index);
      fs::rename(l.file, target, ec);
      if (ec) {
        lines.push_back("kept " + name + ": cannot rename it to " + target.filename().string() + ": " + ec.message());
        continue;
      }
      renamed = true;
      newest_valid = l.index;
      any_finished = true;
      lines.push_back("renamed " + name + " to " + target.filename().string() + " (a whole snapshot nothing supersedes)");
    }
  }
  for (const auto& f : side_files) {
    fs::path main = f.parent_path() / f.filename().string().substr(0, f.filename().string().rfind('-'));
    if (fs::exists(main, ec)) continue;  // kept with its copy
    fs::remove(f, ec);
    lines.push_back("removed " + f.filename().string() + " (left by an interrupted snapshot copy)");
  }
  if (renamed)
    if (auto e = fsync_dir(dir)) lines.push_back("warning: cannot fsync " + dir.string() + ": " + e.message());
  return lines;
}

}  // namespace qc::db
