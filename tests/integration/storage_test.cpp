// The node's data against its limits: the [storage] quota (writes that
// grow the data get storage_full; reads, logins, logout and deletes go on;
// the alarm clears by itself), a follower's alarm refusing writes on the
// leader, a real full disk (a small tmpfs: ENOSPC from the kernel) under
// sends, a snapshot whose rename a power loss undid, and an operator reading
// chat.db with the sqlite3 shell while the node writes. After each, every
// acknowledged write is there. The tmpfs cases need root (mount); without
// it they say they were skipped.
#include <doctest/doctest.h>

#include <sys/wait.h>

#include <atomic>
#include <map>
#include <mutex>
#include <thread>

#include "common/tmpfs.h"
#include "db/snapshot_files.h"
#include "harness/harness.h"

using namespace qc::test;

namespace {

bool status_flag(const node_proc& n, const char* key) {
  auto s = n.status();
  if (!s.is_object()) return false;
  auto* v = s.as_object().if_contains(key);
  return v && v->is_bool() && v->as_bool();
}

std::uint64_t status_number(const node_proc& n, const char* key) {
  auto s = n.status();
  if (!s.is_object()) return 0;
  auto* v = s.as_object().if_contains(key);
  return v && v->is_number() ? v->to_number<std::uint64_t>() : 0;
}

/// Writers that send with nonces until the node refuses or goes away.
struct senders {
  std::mutex mu;
  std::map<std::string, std::int64_t> acked;  // nonce -> message id
  std::vector<std::string> unknown;           // no definite answer
  std::map<std::string, int> refusals;        // error code -> count
  std::atomic<bool> stop{false};
  std::vector<std::thread> threads;
  int rounds = 0;  // start() calls so far: later rounds' nonces name theirs

  /// `n` threads as users w0..w{n-1} (already signed up), sending
  /// `body_bytes` to "sink" through `port`, each until a definite refusal.
  void start(int port, int n, std::size_t body_bytes) {
    const int round = rounds++;
    for (int w = 0; w < n; ++w)
      threads.emplace_back([this, port, w, body_bytes, round] {
        client cl;
        if (!cl.connect(port)) return;
        const std::string me = "w" + std::to_string(w);
        if (!client::ok(cl.call({{"op", "login"}, {"user", me}, {"password", "pw"}}))) return;
        const std::string prefix = me + "-" + (round ? "r" + std::to_string(round) + "-" : "");
        for (int i = 0; !stop; ++i) {
          const std::string nonce = prefix + std::to_string(i);
          std::string body = nonce + " ";
          body.resize(body_bytes, 'x');
          auto r = cl.call({{"op", "send"}, {"to", "sink"}, {"body", body}, {"nonce", nonce}}, 6s);
          std::lock_guard lk(mu);
          if (client::ok(r)) {
            ack(nonce, r);
            continue;
          }
          const auto code = client::code(r);
          if (code.empty() || code == "unavailable") unknown.push_back(nonce);
          ++refusals[code.empty() ? "no reply" : code];
          return;
        }
      });
  }
  /// Records the message id of an acknowledged send (under mu while writers run).
  void ack(const std::string& nonce, const json::object& reply) {
    acked[nonce] = reply.at("message").as_object().at("id").as_int64();
  }
  void join() {
    for (auto& t : threads) t.join();
    threads.clear();
  }
};

/// Signs up "sink" and w0..w{n-1} through `port`.
void sign_up(int port, int n) {
  client setup;
  REQUIRE(setup.connect(port));
  REQUIRE(!setup.signup("sink").empty());
  for (int w = 0; w < n; ++w) REQUIRE(!setup.signup("w" + std::to_string(w)).empty());
}

/// Signs up `writers` users and has each send `body_bytes` sends (`s`)
/// until it is refused: every one of them with storage_full.
void fill_to_quota(senders& s, const node_proc& n, int writers, std::size_t body_bytes) {
  sign_up(n.port, writers);
  s.start(n.port, writers, body_bytes);
  s.join();
  MESSAGE("acknowledged before the quota: " << s.acked.size() << "; used " << status_number(n, "storage_used_bytes"));
  CHECK(s.refusals["storage_full"] == writers);
}

/// Every acknowledged send is in sink's history exactly once with its id;
/// unknown outcomes retried with their nonce appear exactly once.
void check_acked(int port, senders& s, int writers) {
  client sink;
  REQUIRE(sink.connect(port));
  REQUIRE(client::ok(sink.call({{"op", "login"}, {"user", "sink"}, {"password", "pw"}})));
  for (int w = 0; w < writers; ++w) {
    const std::string me = "w" + std::to_string(w);
    client cl;
    REQUIRE(cl.connect(port));
    REQUIRE(client::ok(cl.call({{"op", "login"}, {"user", me}, {"password", "pw"}})));
    for (const auto& nonce : s.unknown) {
      if (nonce.rfind(me + "-", 0) != 0) continue;
      std::string body = nonce + " ";
      auto r = cl.call({{"op", "send"}, {"to", "sink"}, {"body", body}, {"nonce", nonce}});
      REQUIRE_MESSAGE(client::ok(r), json::serialize(r));
      s.ack(nonce, r);
    }
    std::map<std::string, int> seen;
    std::map<std::string, std::int64_t> ids;
    std::optional<std::int64_t> before;
    for (;;) {
      json::object req{{"op", "history"}, {"with", me}, {"limit", 1000}};
      if (before) req["before"] = *before;
      auto h = sink.call(req);
      REQUIRE_MESSAGE(client::ok(h), json::serialize(h));
      auto& msgs = h.at("messages").as_array();
      if (msgs.empty()) break;
      for (auto& m : msgs) {
        std::string body(m.at("body").as_string());
        const std::string nonce = body.substr(0, body.find(' '));
        ++seen[nonce];
        ids[nonce] = m.at("id").as_int64();
      }
      before = msgs.front().at("id").as_int64();
    }
    std::size_t mine = 0;
    for (const auto& [nonce, id] : s.acked) {
      if (nonce.rfind(me + "-", 0) != 0) continue;
      ++mine;
      CHECK_MESSAGE(seen[nonce] == 1, nonce);
      CHECK_MESSAGE(ids[nonce] == id, nonce);
    }
    CHECK(seen.size() == mine);
  }
}

/// Prints every file under `dir` with its size (why a usage check failed).
void list_files(const fs::path& dir) {
  each_live_entry<fs::recursive_directory_iterator>(dir, [&](const fs::directory_entry& e) {
    std::error_code ec;
    if (e.is_regular_file(ec)) MESSAGE(e.path().string() << ": " << e.file_size(ec) << " bytes");
  });
}

/// Reaps the stopped node and checks how: exit 3, not a signal (no
/// abort), exactly one ERROR line in its log, which it returns.
std::string expect_stopped_with_one_line(node_proc& n) {
  int status = 0;
  ::waitpid(n.pid, &status, 0);
  n.pid = -1;
  CHECK_FALSE(WIFSIGNALED(status));
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 3);
  const auto log = n.log_text();
  CHECK(error_lines(log) == 1);
  const auto at = log.find(" ERROR ");
  REQUIRE(at != std::string::npos);
  const std::string line = log.substr(at, log.find('\n', at) - at);
  MESSAGE("the node stopped: " << line);
  return line;
}

}  // namespace

TEST_CASE("storage quota: writes get storage_full; reads, logins, logout and deletes work; the alarm clears itself") {
  constexpr std::uint64_t quota = 24ull << 20;
  // Account creation is not rate limited here: while the alarm is down
  // for a moment (below), each account the test creates is accepted.
  cluster c(1, "[raft]\nsnapshot_every = 100\nlog_segment_bytes = 1048576\n[storage]\nquota_bytes = " +
                   std::to_string(quota) +
                   "\n[limits]\ncreate_account_per_connection = 1000\ncreate_account_per_address = 1000\n");
  c.start_all();
  auto& n = c.nodes[0];
  REQUIRE(eventually([&] { return http_get(n.port, "/health").first == 200; }, 15s));
  CHECK(status_number(n, "storage_quota_bytes") == quota);
  CHECK_FALSE(status_flag(n, "storage_full"));
  constexpr int writers = 4;
  senders s;
  fill_to_quota(s, n, writers, 2048);
  CHECK(s.acked.size() > 300);  // the quota is not reached at once
  const auto used = status_number(n, "storage_used_bytes");
  CHECK(used <= quota);
  if (used > quota) list_files(n.dir);

  client a;
  REQUIRE(a.connect(n.port));
  auto login = a.call({{"op", "login"}, {"user", "w0"}, {"password", "pw"}});
  REQUIRE_MESSAGE(client::ok(login), json::serialize(login));
  // The alarm may also come down by itself: under its pressure the node
  // takes a snapshot, compacts the log and prunes the oldest snapshot,
  // which gives room back, and then writes are rightly accepted. So
  // `fill` runs one more round of the writer w0 (2 KiB sends until one is
  // refused), the status checks below wait until the alarm is still up
  // after the snapshot those sends started, and each kind of write is
  // tried until refused, with the room filled again in between. Sends
  // that get through count as acknowledged.
  int extra = 0, accepted = 0;
  std::size_t filled = 0;
  const auto fill = [&] {
    const auto acked_before = s.acked.size();
    const int full_before = s.refusals["storage_full"];
    s.start(n.port, 1, 2048);
    s.join();
    REQUIRE_MESSAGE(s.refusals["storage_full"] == full_before + 1, "the filling sends did not end with storage_full");
    filled += s.acked.size() - acked_before;
  };
  REQUIRE(eventually([&] {
    fill();
    std::this_thread::sleep_for(1500ms);  // three measurements
    return status_flag(n, "storage_full");
  }, 60s));
  CHECK(status_number(n, "storage_used_bytes") <= quota);
  auto st = n.status().as_object();
  CHECK(st.at("storage_full_members") == json::array{"n1"});
  CHECK(http_get(n.port, "/metrics").second.find("\nqc_storage_full 1\n") != std::string::npos);

  // Writes that grow the data are refused; the rest works.
  auto refused = [&](auto make) {
    return eventually([&] {
      const json::object req = make();
      auto r = a.call(req);
      if (client::code(r) == "storage_full") return true;
      REQUIRE_MESSAGE(client::ok(r), json::serialize(r));
      ++accepted;
      if (r.contains("message")) s.ack(std::string(req.at("nonce").as_string()), r);
      fill();
      return false;
    }, 20s);
  };
  CHECK(refused([&] {
    const std::string nonce = "w0-extra" + std::to_string(extra++);
    return json::object{{"op", "send"}, {"to", "sink"}, {"body", nonce + " one more"}, {"nonce", nonce}};
  }));
  CHECK(refused([&] { return json::object{{"op", "create_account"}, {"user", "late" + std::to_string(accepted)}, {"password", "pw"}}; }));
  CHECK(refused([&] { return json::object{{"op", "mark_read"}, {"with", "sink"}}; }));
  MESSAGE("writes accepted while the alarm was down for a moment: " << accepted << ", and " << filled
          << " sends filling the room again");
  CHECK(client::ok(a.call({{"op", "history"}, {"with", "sink"}, {"limit", 5}})));
  CHECK(client::ok(a.call({{"op", "logout"}})));
  check_acked(n.port, s, writers);

  // The sink deletes everything (10 ids an entry: enough entries for
  // snapshots, so the log is compacted and old snapshots pruned).
  client sink;
  REQUIRE(sink.connect(n.port));
  REQUIRE(client::ok(sink.call({{"op", "login"}, {"user", "sink"}, {"password", "pw"}})));
  std::vector<std::int64_t> ids;
  for (const auto& [nonce, id] : s.acked) ids.push_back(id);
  for (std::size_t i = 0; i < ids.size(); i += 10) {
    json::array batch;
    for (std::size_t j = i; j < ids.size() && j < i + 10; ++j) batch.push_back(ids[j]);
    auto r = sink.call({{"op", "delete_messages"}, {"ids", batch}});
    REQUIRE_MESSAGE(client::ok(r), json::serialize(r));
  }
  const bool cleared = eventually([&] { return !status_flag(n, "storage_full"); }, 30s);
  MESSAGE("after the deletes: used " << status_number(n, "storage_used_bytes") << " of " << quota);
  if (!cleared) list_files(n.dir);
  REQUIRE(cleared);
  CHECK(client::ok(sink.call({{"op", "send"}, {"to", "w0"}, {"body", "room again"}})));
  CHECK(http_get(n.port, "/metrics").second.find("\nqc_storage_full 0\n") != std::string::npos);
}

TEST_CASE("storage quota: a small quota and nothing else set still takes writes until storage_full") {
  // 2 MiB, every other setting at its default: the log's segments follow
  // the quota (a 16 MiB segment alone would be past it), so writes go
  // through until the data reaches the quota, and then reads and logins
  // still work.
  constexpr std::uint64_t quota = 2ull << 20;
  cluster c(1, "[storage]\nquota_bytes = " + std::to_string(quota) + "\n");
  REQUIRE(c.start_healthy());
  auto& n = c.nodes[0];
  senders s;
  fill_to_quota(s, n, 2, 1024);
  CHECK(s.acked.size() > 100);
  CHECK(status_number(n, "storage_used_bytes") <= quota);
  client a;
  REQUIRE(a.connect(n.port));
  REQUIRE(client::ok(a.call({{"op", "login"}, {"user", "w0"}, {"password", "pw"}})));
  auto h = a.call({{"op", "history"}, {"with", "sink"}, {"limit", 1000}});
  REQUIRE(client::ok(h));
  CHECK(h.at("messages").as_array().size() > 0);
}

TEST_CASE("storage quota: a follower's alarm makes the leader refuse writes; restarted with room, it clears") {
  cluster c(3);
  c.start_all();
  auto leader = c.wait_leader(15s);
  REQUIRE(leader);
  std::vector<node_proc*> followers;
  for (auto& p : c.nodes)
    if (p.id != *leader) followers.push_back(&p);
  auto& l = c.node(*leader);
  auto& f = *followers[0];
  auto& other = *followers[1];
  sign_up(l.port, 2);
  // The follower gets a 1 MiB quota it will soon pass.
  f.signal(SIGTERM);
  c.write_config(f, true, "[storage]\nquota_bytes = 1048576\n");
  f.start();
  REQUIRE(eventually([&] { return http_get(f.port, "/health").first == 200; }, 15s));

  senders s;
  s.start(l.port, 2, 2048);
  s.join();
  CHECK(s.refusals["storage_full"] == 2);
  CHECK(status_flag(f, "storage_full"));
  CHECK_FALSE(status_flag(l, "storage_full"));  // the leader's own data is fine...
  auto members = l.status().as_object().at("storage_full_members");
  CHECK(members == json::array{json::value(f.id)});  // ...but it knows the follower's is not

  // Through every node: sends refused, deletes go on.
  for (auto* via : {&l, &other, &f}) {
    client cl;
    REQUIRE(cl.connect(via->port));
    REQUIRE(client::ok(cl.call({{"op", "login"}, {"user", "w0"}, {"password", "pw"}})));
    auto r = cl.call({{"op", "send"}, {"to", "sink"}, {"body", "refused"}});
    CHECK_MESSAGE(client::code(r) == "storage_full", via->id << ": " << json::serialize(r));
  }
  {
    client sink;
    REQUIRE(sink.connect(other.port));
    REQUIRE(client::ok(sink.call({{"op", "login"}, {"user", "sink"}, {"password", "pw"}})));
    auto r = sink.call({{"op", "delete_messages"}, {"ids", json::array{s.acked.begin()->second}}});
    CHECK_MESSAGE(client::ok(r), json::serialize(r));
    s.acked.erase(s.acked.begin());
  }
  // Room again: the follower restarts with the default quota.
  f.signal(SIGTERM);
  c.write_config(f, true, "");
  f.start();
  REQUIRE(eventually([&] { return l.status().as_object().at("storage_full_members").as_array().empty(); }, 20s));
  client cl;
  REQUIRE(cl.connect(other.port));
  REQUIRE(client::ok(cl.call({{"op", "login"}, {"user", "w1"}, {"password", "pw"}})));
  auto r = cl.call({{"op", "send"}, {"to", "sink"}, {"body", "w1-final accepted"}, {"nonce", "w1-final"}});
  REQUIRE_MESSAGE(client::ok(r), json::serialize(r));
  s.ack("w1-final", r);
  check_acked(f.port, s, 2);
}

TEST_CASE("full disk (tmpfs) under sends: storage_full or one line and exit 3; never an abort; no acked write lost") {
  tmpfs disk(12 << 20, "enospc");
  if (!disk.mounted()) {
    MESSAGE("skipped: cannot mount a tmpfs (" << disk.error() << "); needs root");
    return;
  }
  cluster c(1);
  auto& n = c.nodes[0];
  c.write_config(n, true, "[raft]\nsnapshot_every = 500\nlog_segment_bytes = 1048576\n", disk.dir() / "n1");
  n.start();
  REQUIRE(eventually([&] { return http_get(n.port, "/health").first == 200; }, 15s));
  constexpr int writers = 4;
  sign_up(n.port, writers);
  client reader;  // logged in while logins still work
  REQUIRE(reader.connect(n.port));
  REQUIRE(client::ok(reader.call({{"op", "login"}, {"user", "sink"}, {"password", "pw"}})));

  senders s;
  s.start(n.port, writers, 1024);
  s.join();
  MESSAGE("acknowledged before the disk filled: " << s.acked.size() << "; refusals: " << [&] {
    std::string out;
    for (auto& [code, k] : s.refusals) out += code + " x" + std::to_string(k) + " ";
    return out;
  }());
  CHECK(s.acked.size() > 100);

  // Either the node refuses writes with storage_full, or it stopped with one line.
  REQUIRE(eventually([&] { return !n.alive() || status_flag(n, "storage_full"); }, 20s));
  if (!n.alive()) {
    const auto line = expect_stopped_with_one_line(n);
    CHECK(line.find(disk.dir().string()) != std::string::npos);
    CHECK(line.find("disk is full") != std::string::npos);
    REQUIRE(disk.resize(64 << 20));
    n.start();
    REQUIRE(eventually([&] { return http_get(n.port, "/health").first == 200; }, 15s));
  } else {
    auto err = n.status().as_object().at("storage_error");
    MESSAGE("the node refuses writes: " << json::serialize(err));
    REQUIRE(err.is_string());
    CHECK(std::string(err.as_string()).find("full") != std::string::npos);
    CHECK(std::string(err.as_string()).find(disk.dir().string()) != std::string::npos);
    CHECK(error_lines(n.log_text()) == 0);
    // Reads work; every write of this node's clients is refused at once
    // (its disk may not take them: a login too).
    auto h = reader.call({{"op", "history"}, {"with", "w0"}, {"limit", 5}, {"consistency", "local"}});
    CHECK_MESSAGE(client::ok(h), json::serialize(h));
    client a;
    REQUIRE(a.connect(n.port));
    auto r = a.call({{"op", "login"}, {"user", "w0"}, {"password", "pw"}});
    CHECK_MESSAGE(client::code(r) == "storage_full", json::serialize(r));
    // Space comes back: the alarm clears by itself, no restart.
    REQUIRE(disk.resize(64 << 20));
    REQUIRE(eventually([&] { return !status_flag(n, "storage_full"); }, 20s));
  }
  check_acked(n.port, s, writers);
  // A restart finds the same data (no damaged file).
  n.signal(SIGTERM);
  n.start();
  REQUIRE(eventually([&] { return http_get(n.port, "/health").first == 200; }, 15s));
  check_acked(n.port, s, writers);
  CHECK(n.log_text().find("Aborted") == std::string::npos);
}

TEST_CASE("raft log on a full disk (tmpfs): one line naming its wal/ file, exit 3, no abort; restarted with room, nothing lost") {
  tmpfs disk(6 << 20, "logfull");
  if (!disk.mounted()) {
    MESSAGE("skipped: cannot mount a tmpfs (" << disk.error() << "); needs root");
    return;
  }
  cluster c(1);
  auto& n = c.nodes[0];
  // Only the log lives on the small disk: chat.db and the snapshots are
  // symlinked to the roomy one, so the log is what fills up.
  const auto log_dir = disk.dir() / "n1";
  const auto roomy = c.root / "n1-state";
  fs::create_directories(log_dir);
  fs::create_directories(roomy / "snapshots");
  fs::create_symlink(roomy / "chat.db", log_dir / "chat.db");
  fs::create_directory_symlink(roomy / "snapshots", log_dir / "snapshots");
  c.write_config(n, true, "[raft]\nlog_segment_bytes = 1048576\n", log_dir);
  n.start();
  REQUIRE(eventually([&] { return http_get(n.port, "/health").first == 200; }, 15s));
  constexpr int writers = 4;
  sign_up(n.port, writers);

  senders s;
  s.start(n.port, writers, 2048);
  s.join();
  MESSAGE("acknowledged before the log's disk filled: " << s.acked.size());
  REQUIRE(eventually([&] { return !n.alive(); }, 20s));
  const auto line = expect_stopped_with_one_line(n);
  CHECK(line.find((log_dir / "wal").string()) != std::string::npos);
  CHECK(line.find("disk is full") != std::string::npos);

  REQUIRE(disk.resize(64 << 20));
  n.start();
  REQUIRE(eventually([&] { return http_get(n.port, "/health").first == 200; }, 15s));
  check_acked(n.port, s, writers);
}

TEST_CASE("a snapshot whose rename a power loss undid is renamed into place at start, not deleted") {
  cluster c(1, "[raft]\nsnapshot_every = 50\n");
  c.start_all();
  auto& n = c.nodes[0];
  REQUIRE(eventually([&] { return http_get(n.port, "/health").first == 200; }, 15s));
  client a;
  REQUIRE(a.connect(n.port));
  REQUIRE(!a.signup("alice").empty());
  for (int i = 0; i < 120; ++i) REQUIRE(client::ok(a.call({{"op", "send"}, {"to", "alice"}, {"body", "m"}})));
  REQUIRE(eventually([&] { return status_number(n, "snapshot_index") >= 100; }, 10s));
  n.signal(SIGKILL);
  // The newest snapshot, as if the power loss had undone its rename: only
  // the fsynced copy under its temporary name is left.
  const auto snaps = n.dir / "snapshots";
  std::uint64_t newest = 0;
  for (auto& de : fs::directory_iterator(snaps)) {
    const auto name = de.path().filename().string();
    if (auto index = qc::db::snapshot_name_index(name)) newest = std::max(newest, *index);
  }
  REQUIRE(newest >= 100);
  const auto handle = qc::db::snapshot_name(newest);
  fs::rename(snaps / handle, snaps / qc::db::copy_name(newest - 3));
  n.start();
  REQUIRE(eventually([&] { return http_get(n.port, "/health").first == 200; }, 15s));
  CHECK(fs::exists(snaps / handle));
  CHECK(status_number(n, "snapshot_index") == newest);
  CHECK(n.log_text().find("renamed snap-at-") != std::string::npos);
}

TEST_CASE("an operator's sqlite3 shell reading chat.db while the node takes writes: the node lives on, nothing lost") {
  // The node must keep its locks on chat.db and its shared-memory file the
  // whole time: a process that closes any descriptor of a file loses every
  // lock it held on it, and the shell, finding the shared memory unlocked,
  // would take it for unused and truncate it under the node (SIGBUS at the
  // node's next write to it). The disk monitor used to open and close
  // every file of the data directory twice a second.
  cluster c(1);
  auto& n = c.nodes[0];
  REQUIRE(c.start_healthy());
  const auto db = n.dir / "chat.db";
  REQUIRE_MESSAGE(sqlite_shell(db, "SELECT 1") == "1", "the sqlite3 shell does not run");
  constexpr int writers = 4;
  sign_up(n.port, writers);
  senders s;
  s.start(n.port, writers, 256);
  // Each read is a new shell process that opens chat.db afresh.
  int reads = 0;
  std::map<std::string, int> failures;
  const auto until = std::chrono::steady_clock::now() + 8s;
  while (std::chrono::steady_clock::now() < until && n.alive()) {
    const auto out = sqlite_shell(db, "SELECT count(*) FROM messages");
    if (out.empty() || out.find_first_not_of("0123456789") != std::string::npos) ++failures[out];
    ++reads;
  }
  s.stop = true;
  s.join();
  if (!n.alive()) {
    int status = 0;
    ::waitpid(n.pid, &status, 0);
    n.pid = -1;
    FAIL("the node died (" << (WIFSIGNALED(status) ? "signal " + std::to_string(WTERMSIG(status))
                                                    : "exit " + std::to_string(WEXITSTATUS(status)))
                            << " after " << reads << " shell reads); its log:\n"
                            << n.log_text());
  }
  MESSAGE(reads << " shell reads beside " << s.acked.size() << " acknowledged sends");
  for (const auto& [out, k] : failures) MESSAGE("shell said, " << k << " times: " << out);
  CHECK(failures.empty());
  CHECK(reads >= 20);
  CHECK(s.acked.size() > 100);
  check_acked(n.port, s, writers);
  // chat.db commits within a second: the shell then sees every message.
  CHECK(eventually([&] { return sqlite_shell(db, "SELECT count(*) FROM messages") == std::to_string(s.acked.size()); },
                   5s));
  CHECK(error_lines(n.log_text()) == 0);
}
