// The actors that own a worker thread, driven hard from several threads at
// once: the thread mailbox, the storage actor (the Raft log, group commit) and
// the apply actor (chat.db, queries, background snapshots). These are the
// places where the node shares memory between threads, so this suite is
// what `scripts/test.sh` runs under ThreadSanitizer (build-tsan/); under
// the other builds it checks the same behaviour without the race detector.
//
// Owned by: the test thread (which also runs the io_context, standing in
// for the node's event loop).
#include <doctest/doctest.h>

#include <signal.h>
#include <sys/resource.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <SQLiteCpp/SQLiteCpp.h>

#include "actors/apply_actor.h"
#include "actors/mailbox.h"
#include "actors/storage_actor.h"
#include "chat/command.h"
#include "config/config.h"
#include "common/run_until.h"
#include "db/chat_store.h"
#include "db/log_store.h"
#include "db/snapshot_files.h"
#include "db/temp_store.h"

using namespace qc;
namespace fs = std::filesystem;

namespace {

raft::membership founders() { return raft::membership{{raft::member{"n1", "127.0.0.1:1", true}}}; }

/// The failure handler of actors that must not fail in a test.
void no_failure(const std::string& what) { FAIL("actor failed: " << what); }

/// The apply actor's transaction bound under the default quota.
const std::uint64_t default_commit_bytes = config::node_config{}.apply_commit_bytes();

/// Opens (creating) the Raft log of data directory `dir`; fails the test with the reason.
std::unique_ptr<db::log_store> open_log(const fs::path& dir) {
  db::log_error err;
  auto s = db::log_store::open(dir, "n1", founders(), {}, err);
  REQUIRE_MESSAGE(s, err.what);
  return s;
}

}  // namespace

TEST_CASE("thread_mailbox: pushes from many threads arrive once each, in per-thread order, in batches") {
  constexpr int producers = 4, per_producer = 5000;
  std::mutex mu;
  std::map<int, std::vector<int>> seen;  // producer -> values, in arrival order
  std::size_t batches = 0;
  {
    actors::thread_mailbox<std::pair<int, int>> box(
        "test",
        [&](std::vector<std::pair<int, int>>&& b) {
          std::lock_guard lk(mu);
          ++batches;
          for (auto [p, v] : b) seen[p].push_back(v);
        },
        [](const std::string& what) { FAIL("unexpected failure: " << what); });
    std::vector<std::thread> ts;
    for (int p = 0; p < producers; ++p)
      ts.emplace_back([&box, p] {
        for (int v = 0; v < per_producer; ++v) box.push({p, v});
      });
    for (auto& t : ts) t.join();
    box.stop();  // drains what is queued before the worker exits
  }
  std::lock_guard lk(mu);
  REQUIRE(seen.size() == producers);
  for (auto& [p, vs] : seen) {
    REQUIRE(vs.size() == per_producer);
    for (int v = 0; v < per_producer; ++v) REQUIRE(vs[v] == v);
  }
  CHECK(batches >= 1);
  CHECK(batches <= producers * per_producer);
}

TEST_CASE("thread_mailbox: a push made just as the worker goes to sleep wakes it") {
  // Ping-pong: each push comes right after the worker handled the last one,
  // so it races with the worker marking itself asleep and sleeping. A lost
  // wake-up leaves the message queued and nobody pushing: the round stalls.
  constexpr int rounds = 50000;
  std::atomic<int> handled{0};
  actors::thread_mailbox<int> box(
      "test", [&](std::vector<int>&& b) { handled.fetch_add(static_cast<int>(b.size()), std::memory_order_release); },
      no_failure);
  int stalled_at = -1;
  for (int i = 0; i < rounds && stalled_at < 0; ++i) {
    box.push(i);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    // Spin first, so that the next push lands while the worker is still
    // on its way to sleep; then yield the core.
    for (int spins = 0; handled.load(std::memory_order_acquire) != i + 1; ++spins) {
      if (spins < 4096) continue;
      if (std::chrono::steady_clock::now() > deadline) {
        stalled_at = i;
        break;
      }
      std::this_thread::yield();
    }
  }
  CHECK_MESSAGE(stalled_at == -1, "message " << stalled_at << " was never handled: its wake-up was lost");
  // After a stall, pushes go on until the worker wakes, so that stop()
  // (which joins it) does not wait forever.
  for (int extra = 0; stalled_at >= 0 && handled.load() <= stalled_at; ++extra) {
    if (extra == 500) {
      std::fprintf(stderr, "thread_mailbox: the worker never woke again; aborting\n");
      std::abort();
    }
    box.push(rounds + extra);
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  box.stop();
  if (stalled_at < 0) CHECK(handled.load() == rounds);
}

TEST_CASE("storage actor: concurrent persists and compactions are acked in order and all durable") {
  test::temp_dir d("actors");
  boost::asio::io_context io;
  auto store = open_log(d.p);

  constexpr std::uint64_t total = 3000;
  std::vector<std::uint64_t> acked;
  std::atomic<std::uint64_t> next_seq{1};
  {
    actors::storage_outputs out;
    out.persisted = [&](std::uint64_t seq) { acked.push_back(seq); };
    out.failed = [](const db::log_error& e) { FAIL(e.what); };
    out.crashed = [](const std::string& what) { FAIL("storage failed: " << what); };
    actors::storage_actor storage(io, std::move(store), std::move(out));
    // Entries must arrive in index order, as the consensus actor sends them;
    // the hard state and compactions come from other threads meanwhile.
    std::thread writer([&] {
      for (std::uint64_t i = 1; i <= total; ++i) {
        actors::persist_request req;
        req.seq = next_seq++;
        req.entries.push_back(raft::entry{1, i, raft::entry_type::normal, std::string(64, 'x')});
        storage.tell(actors::storage_msg::persist{std::move(req)});
      }
    });
    writer.join();
    std::thread hard([&] {
      actors::persist_request req;
      req.seq = next_seq++;
      req.hard = raft::hard_state{1, "n1", total};
      storage.tell(actors::storage_msg::persist{std::move(req)});
      storage.tell(actors::storage_msg::compact{raft::snapshot_meta{total / 2, 1, founders(), "snap"}});
    });
    hard.join();
    const auto expected = next_seq.load() - 1;
    REQUIRE(test::run_until(io, [&] { return acked.size() == expected; }));
    storage.stop();
  }
  for (std::size_t i = 0; i < acked.size(); ++i) REQUIRE(acked[i] == i + 1);  // in order, once each

  auto again = open_log(d.p);
  const auto st = again->load();
  CHECK(st.hard.term == 1);
  CHECK(st.hard.commit == total);
  CHECK(st.snapshot.index == total / 2);
  REQUIRE(st.entries.size() == total - total / 2);
  CHECK(st.entries.front().index == total / 2 + 1);
  CHECK(st.entries.back().index == total);
}

TEST_CASE("storage actor: a failed write is reported once, naming the file, and nothing after it is acknowledged") {
  test::temp_dir d("actors");
  boost::asio::io_context io;
  auto store = open_log(d.p);
  std::vector<std::uint64_t> acked;
  std::vector<db::log_error> failures;
  actors::storage_outputs out;
  out.persisted = [&](std::uint64_t seq) { acked.push_back(seq); };
  out.failed = [&](const db::log_error& e) { failures.push_back(e); };
  auto persist = [](std::uint64_t seq, std::uint64_t index) {
    actors::persist_request req;
    req.seq = seq;
    req.entries.push_back(raft::entry{1, index, raft::entry_type::normal, std::string(5000, 'x')});
    return actors::storage_msg::persist{std::move(req)};
  };
  // Writes past RLIMIT_FSIZE fail with EFBIG, as a full disk fails them with ENOSPC.
  struct rlimit old {};
  REQUIRE(::getrlimit(RLIMIT_FSIZE, &old) == 0);
  auto* prev = ::signal(SIGXFSZ, SIG_IGN);
  {
    actors::storage_actor storage(io, std::move(store), std::move(out));
    storage.tell(persist(1, 1));
    REQUIRE(test::run_until(io, [&] { return acked.size() == 1; }));
    struct rlimit lim = old;
    lim.rlim_cur = 8000;  // room for part of the next record only
    REQUIRE(::setrlimit(RLIMIT_FSIZE, &lim) == 0);
    storage.tell(persist(2, 2));
    REQUIRE(test::run_until(io, [&] { return failures.size() == 1; }));
    REQUIRE(::setrlimit(RLIMIT_FSIZE, &old) == 0);
    storage.tell(persist(3, 3));  // dropped: the log's state on disk is unknown
    storage.stop();
    io.restart();
    io.poll();
  }
  ::signal(SIGXFSZ, prev);
  CHECK(acked == std::vector<std::uint64_t>{1});
  REQUIRE(failures.size() == 1);
  CHECK(failures[0].code == std::error_code(EFBIG, std::generic_category()));
  CHECK(failures[0].what.find((d.p / "wal").string()) != std::string::npos);
  // After a restart the log holds what was acknowledged, and only that.
  auto again = open_log(d.p);
  CHECK(again->load().entries.size() == 1);
}

TEST_CASE("apply actor: applies, queries and background snapshots run side by side") {
  test::temp_dir d("actors");
  boost::asio::io_context io;
  auto store = test::open_store(d.p / "chat.db");
  std::uint64_t applied_seen = 0, results = 0;
  std::vector<std::string> snapshots;
  actors::apply_outputs out;
  out.applied = [&](std::vector<db::apply_result> r, std::uint64_t applied) {
    CHECK(applied >= applied_seen);  // monotonic on the loop thread
    applied_seen = applied;
    results += r.size();
  };
  out.snapshot_taken = [&](std::uint64_t, std::string handle) { snapshots.push_back(std::move(handle)); };
  std::atomic<int> answered{0};
  out.query_done = [&](std::uint64_t, std::string) { ++answered; };  // on the loop thread

  constexpr std::uint64_t sends = 2000;
  const std::uint64_t total = 2 + sends;
  std::atomic<bool> stale_read{false};
  {
    // A snapshot every 200 entries: VACUUM INTO on its own thread and
    // connection while the apply thread keeps writing.
    actors::apply_actor apply(io, std::move(store), d.p / "snap", actors::snapshot_policy{200}, default_commit_bytes, out,
                              no_failure);
    apply.tell(actors::apply_msg::apply{std::nullopt,
                                        {test::command_entry(1, chat::cmd_create_account{"alice", "h", 1}),
                                         test::command_entry(2, chat::cmd_create_account{"bob", "h", 1})}});
    // Entries from one thread (in order), reads from another: each read
    // must see at least the state at its min_index.
    std::thread feeder([&] {
      for (std::uint64_t i = 3; i <= total; i += 10) {
        std::vector<raft::entry> batch;
        for (std::uint64_t j = i; j < i + 10 && j <= total; ++j)
          batch.push_back(test::command_entry(j, chat::cmd_send{"alice", "bob", "m" + std::to_string(j), {}, 2}));
        apply.tell(actors::apply_msg::apply{std::nullopt, std::move(batch)});
      }
    });
    std::thread reader([&] {
      for (std::uint64_t k = 1; k <= 200; ++k) {
        const std::uint64_t min_index = 2 + k * 10;
        apply.tell(actors::apply_msg::query{
            min_index,
            [min_index, &stale_read](db::chat_store& s) {
              if (s.applied_index() < min_index) stale_read = true;
              return std::to_string(s.unread_count("bob"));
            },
            k});
      }
    });
    feeder.join();
    reader.join();
    // Snapshots run on a thread of their own: on a busy machine none may
    // have finished when the last entry is applied. Wait for the actor to
    // report one (snapshot_taken) rather than stopping it mid-copy.
    REQUIRE(test::run_until(io, [&] { return answered == 200 && applied_seen == total && !snapshots.empty(); }));
    apply.stop();
    io.restart();
    io.poll();
  }
  CHECK_FALSE(stale_read);
  CHECK(results == total);
  // Snapshot files were written (named by the applied index inside them).
  std::size_t files = 0;
  for (auto& e : fs::directory_iterator(d.p / "snap"))
    if (e.path().extension() == ".db") ++files;
  CHECK(files >= 1);
  // The newest snapshot reported is one of the files kept (the two newest).
  CHECK(fs::exists(d.p / "snap" / snapshots.back()));
  auto reopened = test::open_store(d.p / "chat.db");
  CHECK(reopened->applied_index() == total);
  CHECK(reopened->message_count() == sends);
}

TEST_CASE("apply actor: a transaction holding commit_bytes of entries commits without waiting for its timer") {
  // Until the open transaction commits, what its entries will take in
  // chat.db is invisible to a measurement of the data directory, so the
  // storage alarm keeps room for commit_bytes of them; with a small quota
  // and large bodies, commit_every alone let a second of sends (about 10
  // MB of pages in the quota test) land in chat.db at once, past the quota.
  test::temp_dir d("actors");
  boost::asio::io_context io;
  std::uint64_t applied_seen = 0;
  actors::apply_outputs out;
  out.applied = [&](std::vector<db::apply_result>, std::uint64_t applied) { applied_seen = applied; };
  out.snapshot_taken = [](std::uint64_t, std::string) {};
  constexpr std::uint64_t body = 2048, sends = 40;
  {
    actors::apply_actor apply(io, test::open_store(d.p / "chat.db"), d.p / "snap", actors::snapshot_policy{}, 16 * body,
                              out, no_failure);
    std::vector<raft::entry> batch{test::command_entry(1, chat::cmd_create_account{"a", "h", 1})};
    for (std::uint64_t i = 2; i <= sends + 1; ++i)
      batch.push_back(test::command_entry(i, chat::cmd_send{"a", "a", std::string(body, 'x'), {}, 2}));
    apply.tell(actors::apply_msg::apply{std::nullopt, std::move(batch)});
    // The commit timer runs on the io_context, which nothing runs here: a
    // commit seen from another connection was made for the bytes.
    bool committed = false;
    for (int i = 0; i < 1000 && !committed; ++i) {
      SQLite::Database db((d.p / "chat.db").string(), SQLite::OPEN_READONLY);
      committed = db.execAndGet("SELECT count(*) FROM messages").getInt64() == static_cast<std::int64_t>(sends);
      if (!committed) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    CHECK(committed);
    REQUIRE(test::run_until(io, [&] { return applied_seen == sends + 1; }));
    apply.stop();
  }
}

TEST_CASE("apply actor: a failed snapshot copy is tried again with no new entries") {
  test::temp_dir d("actors");
  boost::asio::io_context io;
  std::vector<std::string> snapshots;
  std::uint64_t applied_seen = 0;
  actors::apply_outputs out;
  out.applied = [&](std::vector<db::apply_result>, std::uint64_t applied) { applied_seen = applied; };
  out.snapshot_taken = [&](std::uint64_t, std::string handle) { snapshots.push_back(std::move(handle)); };
  // A file where the snapshot directory belongs: the first copy cannot be written.
  std::ofstream(d.p / "snap") << "in the way";
  {
    actors::apply_actor apply(io, test::open_store(d.p / "chat.db"), d.p / "snap", actors::snapshot_policy{10},
                              default_commit_bytes, out, no_failure);
    std::vector<raft::entry> batch{test::command_entry(1, chat::cmd_create_account{"alice", "h", 1})};
    for (std::uint64_t i = 2; i <= 12; ++i)
      batch.push_back(test::command_entry(i, chat::cmd_send{"alice", "alice", "m", {}, 2}));
    apply.tell(actors::apply_msg::apply{std::nullopt, std::move(batch)});
    REQUIRE(test::run_until(io, [&] { return applied_seen == 12; }));
    // Room for it now; no entry follows, yet the copy is tried again.
    fs::remove(d.p / "snap");
    fs::create_directories(d.p / "snap");
    REQUIRE(test::run_until(io, [&] { return !snapshots.empty(); }));
    apply.stop();
  }
  CHECK(snapshots.front() == db::snapshot_name(12));
  CHECK(fs::exists(d.p / "snap" / snapshots.front()));
}

TEST_CASE("thread_mailbox: a handler that throws is reported once, later messages are dropped, stop still works") {
  std::atomic<int> handled{0};
  std::atomic<int> failures{0};
  std::string reported;
  std::mutex mu;
  {
    actors::thread_mailbox<int> box(
        "thrower",
        [&](std::vector<int>&& b) {
          for (int v : b) {
            if (v == 3) throw std::runtime_error("cannot write /x/chat.db: disk I/O error");
            ++handled;
          }
        },
        [&](const std::string& what) {
          std::lock_guard lk(mu);
          reported = what;
          ++failures;
        });
    for (int v = 1; v <= 3; ++v) box.push(v);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (failures == 0 && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    for (int v = 4; v <= 10; ++v) box.push(v);  // after the failure: never handled
    box.stop();
  }
  CHECK(failures == 1);
  CHECK(handled <= 2);
  std::lock_guard lk(mu);
  CHECK(reported == "cannot write /x/chat.db: disk I/O error");
}
