// Test harness for integration tests: starts real chatnode processes from
// generated TOML configs in a temporary directory, kills and restarts them,
// and talks to them over HTTP and WebSocket (net::ws_client).
//
// Owned by: the test thread.
#pragma once

#include <algorithm>
#include <signal.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

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
#include <vector>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>

#include "net/ws_client.h"
#include "ops/spawn.h"

#ifndef QC_BINARY_DIR
#error "QC_BINARY_DIR must point at the build directory holding chatnode"
#endif

namespace qc::test {

namespace fs = std::filesystem;
namespace json = boost::json;
using namespace std::chrono_literals;

/// A free TCP port on 127.0.0.1 (bind to 0, read it back, release it).
inline int free_port() {
  boost::asio::io_context io;
  boost::asio::ip::tcp::acceptor a(io, {boost::asio::ip::make_address("127.0.0.1"), 0});
  return a.local_endpoint().port();
}

/// GET http://127.0.0.1:port/path; returns (status, body), status 0 if down
/// or silent for 2 s (asynchronous, so the deadline holds even against a
/// SIGSTOPped node whose kernel still accepts connections).
inline std::pair<int, std::string> http_get(int port, const std::string& path) {
  namespace http = boost::beast::http;
  boost::asio::io_context io;
  boost::beast::tcp_stream s(io);
  http::request<http::empty_body> req(http::verb::get, path, 11);
  req.set(http::field::host, "127.0.0.1");
  boost::beast::flat_buffer buf;
  http::response<http::string_body> res;
  bool done = false;
  s.expires_after(2s);
  s.async_connect({boost::asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(port)},
                  [&](boost::beast::error_code ec) {
                    if (ec) return;
                    http::async_write(s, req, [&](boost::beast::error_code ec2, std::size_t) {
                      if (ec2) return;
                      http::async_read(s, buf, res, [&](boost::beast::error_code ec3, std::size_t) { done = !ec3; });
                    });
                  });
  io.run();
  if (!done) return {0, {}};
  return {static_cast<int>(res.result_int()), res.body()};
}

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
inline std::string sqlite_shell(const std::filesystem::path& db, const std::string& sql) {
  const std::string cmd = "sqlite3 -readonly '" + db.string() + "' \"" + sql + "\" 2>&1";
  std::string out;
  if (FILE* p = ::popen(cmd.c_str(), "r")) {
    char buf[512];
    while (std::fgets(buf, sizeof buf, p)) out += buf;
    ::pclose(p);
  }
  while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
  return out;
}

/// The number of ERROR lines in a node's log (a node that refuses to
/// start or stops says why in exactly one).
inline int error_lines(const std::string& log) {
  int n = 0;
  std::istringstream in(log);
  for (std::string line; std::getline(in, line);) n += line.find(" ERROR ") != std::string::npos;
  return n;
}

/// The chatnode binary the tests start: this build's, or QC_CHATNODE (to
/// run a case against another build of the node, e.g. before a change).
inline std::string chatnode_binary() {
  const char* other = std::getenv("QC_CHATNODE");
  return other && *other ? std::string(other) : std::string(QC_BINARY_DIR) + "/chatnode";
}

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
  void start(const std::vector<std::string>& extra = {}) {
    std::vector<std::string> args = {chatnode_binary(), "--config", config.string()};
    args.insert(args.end(), extra.begin(), extra.end());
    pid = ops::spawn_process(args, log_file.string());
  }
  /// Starts the process with its descriptor limit (soft and hard) set to
  /// `nofile` first, as `ulimit -n` would (the shell execs the node, so
  /// `pid` is the node's).
  void start_with_nofile(int nofile) {
    pid = ops::spawn_process({"/bin/sh", "-c", "ulimit -n " + std::to_string(nofile) + " && exec \"$0\" \"$@\"",
                              chatnode_binary(), "--config", config.string()},
                             log_file.string());
  }
  /// Sends `sig` and, for KILL/TERM/INT, reaps the process.
  int signal(int sig) {
    if (pid <= 0) return -1;
    ::kill(pid, sig);
    if (sig == SIGKILL || sig == SIGTERM || sig == SIGINT) {
      int status = 0;
      ::waitpid(pid, &status, 0);
      pid = -1;
      return status;
    }
    return 0;
  }
  /// True while the process runs. Does not reap it (WNOWAIT), so a later
  /// signal() still waits for the right pid.
  bool alive() const {
    if (pid <= 0) return false;
    siginfo_t info{};
    return ::waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOHANG | WNOWAIT) == 0 && info.si_pid == 0;
  }
  /// Parsed GET /status, or null if unreachable.
  json::value status() const {
    auto [code, body] = http_get(port, "/status");
    if (code != 200) return nullptr;
    json::error_code ec;
    auto v = json::parse(body, ec);
    return ec ? json::value(nullptr) : v;
  }
  /// True once GET /health answers 200 (a leader known, applying), within `timeout`.
  bool wait_healthy(std::chrono::milliseconds timeout = std::chrono::seconds(15)) const;
  std::string log_text() const {
    std::ifstream in(log_file);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }
};

inline bool node_proc::wait_healthy(std::chrono::milliseconds timeout) const {
  return eventually([&] { return http_get(port, "/health").first == 200; }, timeout);
}

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

  explicit cluster(int n, const std::string& extra_toml = "", std::string security_extra = "")
      : security_toml(std::move(security_extra)) {
    std::random_device rd;
    root = fs::temp_directory_path() / ("qc-it-" + std::to_string(::getpid()) + "-" + std::to_string(rd()));
    fs::create_directories(root);
    for (int i = 1; i <= n; ++i) {
      node_proc p;
      p.id = "n" + std::to_string(i);
      p.port = unused_port();
      nodes.push_back(p);
    }
    for (auto& p : nodes) write_config(p, true, extra_toml);
  }
  ~cluster() {
    for (auto& p : nodes)
      if (p.pid > 0) p.signal(SIGKILL);
    if (!std::getenv("QC_KEEP_TEST_DIRS")) {
      std::error_code ec;
      fs::remove_all(root, ec);
    }
  }

  /// Writes a node's TOML. Founding nodes list every founding member.
  /// `data_dir` (default root/ID) may put the node's data elsewhere, e.g.
  /// on a small tmpfs.
  void write_config(node_proc& p, bool founding, const std::string& extra_toml, const fs::path& data_dir = {}) {
    p.dir = data_dir.empty() ? root / p.id : data_dir;
    p.config = root / (p.id + ".toml");
    p.log_file = root / (p.id + ".log");
    std::ofstream f(p.config);
    f << "[node]\nid = \"" << p.id << "\"\nlisten = \"" << p.address() << "\"\ndata_dir = \"" << p.dir.string()
      << "\"\n\n[cluster]\nsecret = \"" << secret << "\"\nadmin_token = \"" << admin_token << "\"\nmembers = [\n";
    if (founding)
      for (auto& m : nodes)
        f << "  { id = \"" << m.id << "\", address = \"" << m.address() << "\" },\n";
    // Cheap password hashes (tests log in thousands of times), except for
    // the keys a test sets itself.
    f << "]\n\n[security]\n" << security_toml << "\n";
    std::istringstream cheap(cheap_hashes);
    for (std::string line; std::getline(cheap, line);)
      if (security_toml.find(line.substr(0, line.find(' '))) == std::string::npos) f << line << "\n";
    f << extra_toml;
  }

  /// A free port that no node of this cluster has yet: free_port releases
  /// each port at once, so the kernel may hand the same one out twice (a
  /// CI run once gave n1 and n4 the same port, and every node refused its
  /// configuration).
  int unused_port() const {
    for (;;) {
      const int port = free_port();
      if (std::none_of(nodes.begin(), nodes.end(), [&](const node_proc& q) { return q.port == port; })) return port;
    }
  }

  /// Adds a node that is not a founding member (it will --join).
  node_proc& add_joiner(const std::string& id, const std::string& extra_toml = "") {
    node_proc p;
    p.id = id;
    p.port = unused_port();
    write_config(p, false, extra_toml);
    nodes.push_back(p);
    return nodes.back();
  }

  void start_all() {
    for (auto& p : nodes) p.start();
  }
  /// start_all(), then waits until the first node answers /health (every
  /// node's status and log go to stderr if it does not).
  bool start_healthy() {
    start_all();
    if (nodes[0].wait_healthy()) return true;
    dump_logs();
    return false;
  }
  node_proc& node(const std::string& id) {
    for (auto& p : nodes)
      if (p.id == id) return p;
    throw std::runtime_error("no node " + id);
  }
  /// The leader id every live node agrees on, if any.
  std::optional<std::string> leader() const {
    std::optional<std::string> agreed;
    for (auto& p : nodes) {
      if (p.pid <= 0) continue;
      auto s = p.status();
      if (!s.is_object()) continue;
      auto* l = s.as_object().if_contains("leader");
      if (!l || !l->is_string()) return std::nullopt;
      std::string id(l->as_string());
      if (agreed && *agreed != id) return std::nullopt;
      agreed = id;
    }
    return agreed;
  }
  /// The agreed leader within `timeout`; on timeout, every node's status
  /// and log go to stderr so a failure in CI can be read after the fact.
  std::optional<std::string> wait_leader(std::chrono::milliseconds timeout = 10s) const {
    std::optional<std::string> l;
    if (!eventually([&] { return (l = leader()).has_value(); }, timeout)) dump_logs();
    return l;
  }
  /// Dumps every node's liveness, /status and log to stderr (on failure).
  void dump_logs() const {
    for (auto& p : nodes) {
      const auto s = p.status();
      std::fprintf(stderr, "==== %s (%s, pid %d, %s) status: %s ====\n%s\n", p.id.c_str(), p.address().c_str(),
                   static_cast<int>(p.pid), p.alive() ? "alive" : "not running",
                   s.is_null() ? "unreachable" : json::serialize(s).c_str(), p.log_text().c_str());
    }
  }
};

/// A connected client with helpers for the contract's ops.
struct client {
  net::ws_client ws;
  std::string err;

  bool connect(int port) { return connect_to("127.0.0.1:" + std::to_string(port)); }
  /// Connects to `address` ("host:port", "wss://host:port"); false and `err` on failure.
  bool connect_to(const std::string& address, const std::string& path = "/ws") {
    const auto e = ws.connect(address, path);
    err = e.what;
    return !e;
  }
  /// Sends a request and returns the reply object (empty object on timeout).
  json::object call(json::object req, std::chrono::milliseconds timeout = 10s) {
    auto r = ws.request(std::move(req), err, timeout);
    return r ? *r : json::object{};
  }
  static bool ok(const json::object& r) {
    auto* v = r.if_contains("ok");
    return v && v->is_bool() && v->as_bool();
  }
  static std::string code(const json::object& r) {
    auto* e = r.if_contains("error");
    if (!e || !e->is_object()) return {};
    auto* c = e->as_object().if_contains("code");
    return c && c->is_string() ? std::string(c->as_string()) : std::string();
  }
  /// create_account + login; returns the token ("" on failure).
  std::string signup(const std::string& user, const std::string& pw = "pw") {
    call({{"op", "create_account"}, {"user", user}, {"password", pw}});
    auto r = call({{"op", "login"}, {"user", user}, {"password", pw}});
    if (!ok(r)) return {};
    return std::string(r.at("token").as_string());
  }
};

}  // namespace qc::test
