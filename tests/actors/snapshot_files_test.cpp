// Start-up's treatment of the snapshot directory (db::recover_snapshot_dir):
// what a crash or a power loss left behind is deleted only when it is not a
// whole snapshot or a valid snapshot at the same or a newer index
// supersedes it; a whole leftover nothing supersedes is renamed into place
// (after a power loss undid its rename it is the only copy raft.db names).
//
// Owned by: the test thread.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <string>

#include "chat/command.h"
#include "db/chat_store.h"
#include "db/snapshot_files.h"
#include "db/temp_store.h"

using namespace qc;
namespace fs = std::filesystem;

namespace {

/// Writes a real snapshot of a store that applied `applied` entries to `file`.
void make_snapshot(const fs::path& scratch, std::uint64_t applied, const fs::path& file) {
  auto store = test::open_store(scratch / ("src-" + std::to_string(applied) + ".db"));
  std::vector<raft::entry> es;
  es.push_back(test::command_entry(1, chat::cmd_create_account{"a", "h", 1}));
  for (std::uint64_t i = 2; i <= applied; ++i)
    es.push_back(test::command_entry(i, chat::cmd_send{"a", "a", "m" + std::to_string(i), {}, 1}));
  store->apply_batch(es);
  const auto e = store->snapshot_to(file);
  REQUIRE_MESSAGE(!e, e.what);
}

void write_text(const fs::path& file, const std::string& text) { std::ofstream(file) << text; }

}  // namespace

TEST_CASE("snapshot files: a whole copy whose rename was lost is renamed into place, not deleted") {
  test::temp_dir d("snapfiles");
  const auto dir = d.p / "snapshots";
  fs::create_directories(dir);
  make_snapshot(d.p, 12, dir / db::copy_name(10));  // started at 10, holds 12
  auto lines = db::recover_snapshot_dir(dir);
  CHECK(fs::exists(dir / "snap-12.db"));
  CHECK_FALSE(fs::exists(dir / db::copy_name(10)));
  CHECK(db::chat_store::snapshot_applied_index(dir / "snap-12.db") == 12);
  REQUIRE(lines.size() == 1);
  CHECK(lines[0].find("renamed") == 0);
}

TEST_CASE("snapshot files: interrupted copies and transfers go, superseded ones go, newer ones stay") {
  test::temp_dir d("snapfiles");
  const auto dir = d.p / "snapshots";
  fs::create_directories(dir);
  make_snapshot(d.p, 20, dir / "snap-20.db");
  make_snapshot(d.p, 15, dir / db::copy_name(15));      // whole, but snap-20.db supersedes it
  make_snapshot(d.p, 30, dir / db::copy_name(25));      // whole and newest: renamed to snap-30.db
  make_snapshot(d.p, 40, dir / db::copy_name(40));      // whole, but its journal says it was running
  write_text(dir / (db::copy_name(40) + "-journal"), "j");
  write_text(dir / db::copy_name(50), "half a database");  // torn copy
  write_text(dir / (db::copy_name(60) + "-journal"), "j");  // a journal whose copy is gone
  make_snapshot(d.p, 18, dir / db::transfer_name(18));  // a complete transfer, but snap-20.db supersedes it
  {
    make_snapshot(d.p, 45, d.p / "full-45.db");         // a transfer cut off halfway
    std::ifstream in(d.p / "full-45.db", std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), {});
    std::ofstream(dir / db::transfer_name(45), std::ios::binary) << bytes.substr(0, bytes.size() / 2);
  }
  make_snapshot(d.p, 9, dir / db::transfer_name(8));    // holds another index than its name: not whole
  write_text(dir / "snap-7.db", "not ours to judge");    // a finished name is never touched

  const auto lines = db::recover_snapshot_dir(dir);
  for (const auto& l : lines) MESSAGE(l);
  CHECK(fs::exists(dir / "snap-20.db"));
  CHECK(fs::exists(dir / "snap-30.db"));
  CHECK(fs::exists(dir / "snap-7.db"));
  for (const auto& gone : {db::copy_name(15), db::copy_name(25), db::copy_name(40), db::copy_name(40) + "-journal",
                           db::copy_name(50), db::copy_name(60) + "-journal", db::transfer_name(18),
                           db::transfer_name(45), db::transfer_name(8), std::string("snap-40.db"),
                           std::string("snap-45.db"), std::string("snap-9.db")})
    CHECK_MESSAGE(!fs::exists(dir / gone), gone);
  // Only names decide what is a snapshot: the survivors are exactly these.
  std::set<std::string> left;
  for (const auto& de : fs::directory_iterator(dir)) left.insert(de.path().filename().string());
  CHECK(left == std::set<std::string>{"snap-20.db", "snap-30.db", "snap-7.db"});
}

TEST_CASE("snapshot files: a complete transfer nothing supersedes is kept under its finished name") {
  test::temp_dir d("snapfiles");
  const auto dir = d.p / "snapshots";
  fs::create_directories(dir);
  make_snapshot(d.p, 5, dir / "snap-5.db");
  make_snapshot(d.p, 35, dir / db::transfer_name(35));
  db::recover_snapshot_dir(dir);
  CHECK(fs::exists(dir / "snap-5.db"));
  CHECK(db::chat_store::snapshot_applied_index(dir / "snap-35.db") == 35);
  CHECK_FALSE(fs::exists(dir / db::transfer_name(35)));
}

TEST_CASE("snapshot files: names") {
  CHECK(db::snapshot_name(42) == "snap-42.db");
  CHECK(db::snapshot_name_index("snap-42.db") == 42u);
  CHECK_FALSE(db::snapshot_name_index("snap-at-42.db.tmp"));
  CHECK_FALSE(db::snapshot_name_index("snap-42.db.part"));
  CHECK_FALSE(db::snapshot_name_index("snap-x.db"));
  CHECK(db::copy_name(7) == "snap-at-7.db.tmp");
  CHECK(db::transfer_name(7) == "snap-7.db.part");
}
