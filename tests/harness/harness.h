// Test harness for integration tests and the fault suite: starts real
// chatnode processes from generated TOML configs in a temporary directory,
// kills and restarts them, and talks to them over HTTP (ops::http_get) and
// WebSocket (net::ws_client).
//
// The bodies live in harness.cpp, compiled once: while this header defined
// them inline, the Beast HTTP client it then held took each test source
// ~40 s of CPU to compile under the sanitizers.
//
// Owned by: the test thread.
#pragma once

#include <signal.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <boost/json.hpp>

#include "net/ws_client.h"
#include "ops/spawn.h"

namespace qc::test {

namespace fs = std::filesystem;
namespace json = boost::json;
using namespace std::chrono_literals;

/// A free TCP port on 127.0.0.1 (bind to 0, read it back, release it).
int free_port();

/// GET http://127.0.0.1:port/path; returns (status, body), status 0 if down
/// or silent for 2 s (asynchronous, so the deadline holds even against a
/// SIGSTOPped node whose kernel still accepts connections).
std::pair<int, std::string> http_get(int port, const std::string& path);

/// Polls `pred` every 20 ms until it holds or `timeout` passes.
template <typename Pred>
bool eventually(Pred pred, std::chrono::milliseconds timeout) {
  const auto end = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < end) {
    if (pred()) return true;
    std::this_thread::sleep_for(20ms);
  }
  return pred();
}

/// Calls `fn` on each entry under `dir` (Iterator: fs::directory_iterator
/// or fs::recursive_directory_iterator) of a node that may still be running
/// and deleting files as they are listed: the listing never throws, and a
/// caller reading an entry's size or type must use the error_code overloads.
template <class Iterator, class Fn>
void each_live_entry(const fs::path& dir, Fn&& fn) {
  std::error_code ec;
  for (Iterator it(dir, ec); !ec && it != Iterator(); it.increment(ec)) fn(*it);
}

/// What the sqlite3 shell prints for `sql` against the database `db`,
/// opened read-only (as an operator would inspect a running node), with
/// the trailing newline removed; empty if the shell could not run.
std::string sqlite_shell(const fs::path& db, const std::string& sql);

/// The number of ERROR lines in a node's log (a node that refuses to
/// start or stops says why in exactly one).
int error_lines(const std::string& log);

/// The chatnode binary the tests start: this build's, or QC_CHATNODE (to
/// run a case against another build of the node, e.g. before a change).
std::string chatnode_binary();

/// One chatnode process.
struct node_proc {
  std::string id;
  int port = 0;
  fs::path dir;       ///< data dir
  fs::path config;    ///< TOML file
  fs::path log_file;  ///< stderr of the process
  pid_t pid = -1;

  std::string address() const { return "127.0.0.1:" + std::to_string(port); }

  /// Starts the process (extra args appended, e.g. --join); its output is
  /// appended to log_file.
  void start(const std::vector<std::string>& extra = {});
  /// Starts the process with its descriptor limit (soft and hard) set to
  /// `nofile` first, as `ulimit -n` would (the shell execs the node, so
  /// `pid` is the node's).
  void start_with_nofile(int nofile);
  /// Sends `sig` and, for KILL/TERM/INT, reaps the process.
  int signal(int sig);
  /// True while the process runs. Does not reap it (WNOWAIT), so a later
  /// signal() still waits for the right pid.
  bool alive() const;
  /// Parsed GET /status, or null if unreachable.
  json::value status() const;
  /// True once GET /health answers 200 (a leader known, applying), within `timeout`.
  bool wait_healthy(std::chrono::milliseconds timeout = std::chrono::seconds(15)) const;
  /// Everything the process wrote to stderr so far.
  std::string log_text() const;
};

/// [security] lines that make password hashing cheap (tests only).
inline constexpr const char* cheap_hashes = "argon2id_passes = 1\nargon2id_memory_kib = 64\npbkdf2_iterations = 1000\n";

/// A cluster of N nodes on loopback with generated configs.
struct cluster {
  fs::path root;
  std::vector<node_proc> nodes;
  std::string secret = "test-secret";
  std::string admin_token = "test-admin";
  /// Extra lines inside [security] (the harness writes that section itself).
  std::string security_toml;

  explicit cluster(int n, const std::string& extra_toml = "", std::string security_extra = "");
  /// SIGKILLs every node still running and removes the directory
  /// (kept with QC_KEEP_TEST_DIRS set).
  ~cluster();

  /// Writes a node's TOML. Founding nodes list every founding member.
  /// `data_dir` (default root/ID) may put the node's data elsewhere, e.g.
  /// on a small tmpfs.
  void write_config(node_proc& p, bool founding, const std::string& extra_toml, const fs::path& data_dir = {});

  /// A free port that no node of this cluster has yet: free_port releases
  /// each port at once, so the kernel may hand the same one out twice (a
  /// CI run once gave n1 and n4 the same port, and every node refused its
  /// configuration).
  int unused_port() const;

  /// Adds a node that is not a founding member (it will --join).
  node_proc& add_joiner(const std::string& id, const std::string& extra_toml = "");

  void start_all();
  /// start_all(), then waits until the first node answers /health (every
  /// node's status and log go to stderr if it does not).
  bool start_healthy();
  /// The node named `id` (throws if there is none).
  node_proc& node(const std::string& id);
  /// The leader id every live node agrees on, if any.
  std::optional<std::string> leader() const;
  /// The agreed leader within `timeout`; on timeout, every node's status
  /// and log go to stderr so a failure in CI can be read after the fact.
  std::optional<std::string> wait_leader(std::chrono::milliseconds timeout = 10s) const;
  /// Dumps every node's liveness, /status and log to stderr (on failure).
  void dump_logs() const;
};

/// A connected client with helpers for the contract's ops.
struct client {
  net::ws_client ws;
  std::string err;

  bool connect(int port) { return connect_to("127.0.0.1:" + std::to_string(port)); }
  /// Connects to `address` ("host:port", "wss://host:port"); false and `err` on failure.
  bool connect_to(const std::string& address, const std::string& path = "/ws");
  /// Sends a request and returns the reply object (empty object on timeout).
  json::object call(json::object req, std::chrono::milliseconds timeout = 10s);
  /// True if the reply says `"ok": true`.
  static bool ok(const json::object& r);
  /// The reply's error code ("" if it has none).
  static std::string code(const json::object& r);
  /// create_account + login; returns the token ("" on failure).
  std::string signup(const std::string& user, const std::string& pw = "pw");
};

}  // namespace qc::test
