// A full disk under the actors that write files, on a real tmpfs (ENOSPC
// from the kernel): the apply actor keeps what chat.db refused and applies
// it once space is back, without failing the node; the snapshot I/O worker
// fails a transfer with disk_full and leaves no .part behind. Needs root
// (mount); without it each case says it was skipped.
//
// Owned by: the test thread (which runs the io_context as the loop).
#include <doctest/doctest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <utility>
#include <vector>

#include <boost/asio/io_context.hpp>

#include "actors/apply_actor.h"
#include "actors/snapshot_io.h"
#include "chat/command.h"
#include "config/config.h"
#include "common/run_until.h"
#include "common/tmpfs.h"
#include "db/errc.h"
#include "db/temp_store.h"

using namespace qc;
namespace fs = std::filesystem;

namespace {

void no_failure(const std::string& what) { FAIL("actor failed: " << what); }

/// The apply actor's transaction bound under the default quota.
const std::uint64_t default_commit_bytes = config::node_config{}.apply_commit_bytes();

}  // namespace

TEST_CASE("apply actor: chat.db full is reported and retried, queries go on, and space back applies all once") {
  test::tmpfs disk(2 << 20, "applyfull");
  if (!disk.mounted()) {
    MESSAGE("skipped: cannot mount a tmpfs (" << disk.error() << "); needs root");
    return;
  }
  boost::asio::io_context io;
  std::uint64_t applied_seen = 0, results = 0;
  std::vector<std::pair<std::string, std::string>> reports;  // (source, error)
  actors::apply_outputs out;
  out.applied = [&](std::vector<db::apply_result> r, std::uint64_t applied) {
    applied_seen = applied;
    results += r.size();
  };
  out.snapshot_taken = [](std::uint64_t, std::string) {};
  out.disk_full = [&](std::string source, std::string error) { reports.emplace_back(source, error); };
  std::string answer;
  out.query_done = [&](std::uint64_t, std::string r) { answer = std::move(r); };
  // 4,000 sends of 1 KiB cannot fit in 2 MiB.
  constexpr std::uint64_t sends = 4000;
  const std::uint64_t total = 1 + sends;
  {
    actors::apply_actor apply(io, test::open_store(disk.dir() / "chat.db"), disk.dir() / "snapshots",
                              actors::snapshot_policy{}, default_commit_bytes, out, no_failure);
    apply.tell(actors::apply_msg::apply{std::nullopt, {test::command_entry(1, chat::cmd_create_account{"a", "h", 1})}});
    for (std::uint64_t i = 2; i <= total; i += 50) {
      std::vector<raft::entry> batch;
      for (std::uint64_t j = i; j < i + 50 && j <= total; ++j)
        batch.push_back(test::command_entry(j, chat::cmd_send{"a", "a", std::string(1024, 'x'), {}, 2}));
      apply.tell(actors::apply_msg::apply{std::nullopt, std::move(batch)});
    }
    REQUIRE(test::run_until(io, [&] { return !reports.empty(); }));
    CHECK(reports[0].first == "chat.db");
    CHECK_MESSAGE(reports[0].second.find((disk.dir() / "chat.db").string()) != std::string::npos, reports[0].second);
    CHECK_MESSAGE(reports[0].second.find("full") != std::string::npos, reports[0].second);
    test::run_until(io, [] { return false; }, std::chrono::seconds(2));  // retries come and fail; nothing else happens
    const auto stuck = applied_seen;
    CHECK(reports.size() == 1);
    // The applied state still answers.
    apply.tell(actors::apply_msg::query{0, [](db::chat_store& s) { return std::to_string(s.message_count()); },
                                        1});
    REQUIRE(test::run_until(io, [&] { return !answer.empty(); }));
    // It answers from what was committed: a full disk rolled back the open
    // transaction (whether it failed applying or committing), so not every
    // message, and at most those reported applied.
    CHECK(std::stoull(answer) < sends);
    CHECK(std::stoull(answer) <= (stuck > 1 ? stuck - 1 : 0));
    // Space comes back: the actor finishes on its own and says so.
    REQUIRE(disk.resize(64 << 20));
    REQUIRE(test::run_until(io, [&] { return applied_seen == total && reports.size() == 2; }));
    CHECK(reports[1] == std::make_pair(std::string("chat.db"), std::string()));
    apply.stop();
  }
  CHECK(results == total);
  auto reopened = test::open_store(disk.dir() / "chat.db");
  CHECK(reopened->applied_index() == total);
  CHECK(reopened->message_count() == sends);
}

TEST_CASE("snapshot I/O: a transfer round trip, and one that finds the disk full") {
  test::temp_dir src("snapio");
  const auto file = src.p / "snap-9.db";
  {
    std::ofstream f(file, std::ios::binary);
    for (int i = 0; i < (1 << 20); ++i) f.put(static_cast<char>(i * 7));
  }
  const std::uint64_t total = fs::file_size(file);
  test::tmpfs disk(256 << 10, "snapio");
  if (!disk.mounted()) {
    MESSAGE("skipped: cannot mount a tmpfs (" << disk.error() << "); needs root");
    return;
  }
  boost::asio::io_context io;
  std::vector<actors::snapshot_io_result> got;
  actors::snapshot_io worker(io, [&](actors::snapshot_io_result r) { got.push_back(std::move(r)); }, no_failure);
  using kind = actors::snapshot_io_result::kind;
  auto count = [&](kind k) { return std::count_if(got.begin(), got.end(), [&](auto& r) { return r.what == k; }); };

  // Stream 1 reads the file in 64 KiB chunks; stream 2 writes them where there is room, stream 3 where there is not.
  worker.tell(actors::snapshot_io_msg::open_read{1, file});
  REQUIRE(test::run_until(io, [&] { return count(kind::opened) == 1; }));
  CHECK(got[0].value == total);
  for (std::uint64_t off = 0; off < total; off += 64 << 10)
    worker.tell(actors::snapshot_io_msg::read_chunk{1, 9, off, 64 << 10, total});
  REQUIRE(test::run_until(io, [&] { return count(kind::chunk) == 16; }));
  std::vector<std::string> frames;
  for (auto& r : got)
    if (r.what == kind::chunk) frames.push_back(*r.frame);
  got.clear();

  const auto roomy = src.p / "in";
  worker.tell(actors::snapshot_io_msg::open_write{2, roomy / "snap-9.db.part"});
  for (auto& f : frames) worker.tell(actors::snapshot_io_msg::write_chunk{2, f});
  worker.tell(actors::snapshot_io_msg::finish_write{2, roomy / "snap-9.db"});
  REQUIRE(test::run_until(io, [&] { return count(kind::finished) == 1; }));
  CHECK(count(kind::written) == 16);
  CHECK(got[15].value == total);
  CHECK(fs::file_size(roomy / "snap-9.db") == total);
  CHECK_FALSE(fs::exists(roomy / "snap-9.db.part"));
  got.clear();

  worker.tell(actors::snapshot_io_msg::open_write{3, disk.dir() / "snap-9.db.part"});
  for (auto& f : frames) worker.tell(actors::snapshot_io_msg::write_chunk{3, f});
  REQUIRE(test::run_until(io, [&] { return count(kind::failed) == 1; }));
  const auto& failed = *std::find_if(got.begin(), got.end(), [&](auto& r) { return r.what == kind::failed; });
  CHECK(failed.ec == db::errc::disk_full);
  CHECK_MESSAGE(failed.error.find("snap-9.db.part") != std::string::npos, failed.error);
  CHECK_FALSE(fs::exists(disk.dir() / "snap-9.db.part"));
  worker.stop();
}
