// TOML config and command line (CONTRACT.md §1-2).
#include <doctest/doctest.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "config/config.h"

using namespace qc::config;

namespace {
const char* good = R"(
[node]
id = "n1"
listen = "127.0.0.1:7001"
data_dir = "data/n1"
[cluster]
secret = "s"
admin_token = "a"
members = [ { id = "n1", address = "127.0.0.1:7001" } ]
)";

/// Each {text, what}: `good` plus text is refused with an error naming `what`.
void check_refused(std::initializer_list<std::pair<const char*, const char*>> cases) {
  for (auto [text, what] : cases) {
    CAPTURE(text);
    node_config e;
    std::string err;
    CHECK_FALSE(load_toml(std::string(good) + text, e, err));
    CHECK_MESSAGE(err.find(what) != std::string::npos, err);
  }
}
}  // namespace

TEST_CASE("a valid file loads with contract defaults") {
  node_config c;
  std::string err;
  REQUIRE(load_toml(good, c, err));
  REQUIRE(validate(c, err));
  CHECK(c.advertise == "127.0.0.1:7001");
  CHECK(c.heartbeat_ms == 50);
  CHECK(c.election_timeout_ms == 300);
  CHECK(c.members.size() == 1);
}

TEST_CASE("unknown keys are errors that name the key") {
  const std::pair<const char*, const char*> cases[] = {
      {"[raft]\nhearbeat_ms = 5\n", "raft.hearbeat_ms"},
      {"[nodes]\nx = 1\n", "nodes"},
      {"[cluster]\nmembers = [ { id = \"n1\", address = \"h:1\", port = 3 } ]\n", "cluster.members[0].port"},
      {"top = 1\n", "top"},
  };
  for (auto [text, key] : cases) {
    node_config c;
    std::string err;
    CHECK_FALSE(load_toml(text, c, err));
    CHECK_MESSAGE(err.find(key) != std::string::npos, err);
  }
}

TEST_CASE("bad values are refused with a reason") {
  node_config c;
  std::string err;
  CHECK_FALSE(load_toml("[raft]\nheartbeat_ms = \"fast\"\n", c, err));
  CHECK(load_toml(std::string(good) + "[raft]\nheartbeat_ms = 400\n", c, err));
  CHECK_FALSE(validate(c, err));
  CHECK(err.find("heartbeat_ms") != std::string::npos);
  node_config d;
  CHECK_FALSE(load_toml("[node\n", d, err));
  CHECK(err.find("line") != std::string::npos);
}

TEST_CASE("flags override the file; help and version need no config") {
  std::ofstream("/tmp/qc-config-test.toml") << good;
  node_config c;
  std::string out;
  const char* argv[] = {"chatnode", "--config", "/tmp/qc-config-test.toml", "--id", "n9", "--listen", "127.0.0.1:7009", "--log-level", "debug"};
  REQUIRE(parse_command_line(9, argv, c, out, "1.0") == cli_action::run);
  CHECK(c.id == "n9");
  CHECK(c.listen == "127.0.0.1:7009");
  CHECK(c.advertise == "127.0.0.1:7009");
  CHECK(c.log_level == "debug");
  const char* help[] = {"chatnode", "--help"};
  CHECK(parse_command_line(2, help, c, out, "1.0") == cli_action::exit_ok);
  const char* ver[] = {"chatnode", "--version"};
  CHECK(parse_command_line(2, ver, c, out, "1.0") == cli_action::exit_ok);
  CHECK(out.find("1.0") != std::string::npos);
  const char* bad[] = {"chatnode", "--config", "/nonexistent.toml"};
  CHECK(parse_command_line(3, bad, c, out, "1.0") == cli_action::exit_error);
}

TEST_CASE("[limits] login rate-limit keys: defaults, values, range checks") {
  node_config c;
  std::string err;
  REQUIRE(load_toml(good, c, err));
  CHECK(c.login_failures_per_user == 20);
  CHECK(c.login_failures_per_connection == 10);
  CHECK(c.login_window_ms == 60'000);
  node_config d;
  REQUIRE(load_toml(std::string(good) +
                        "[limits]\nlogin_failures_per_user = 0\nlogin_failures_per_connection = 3\n"
                        "login_window_ms = 5000\n",
                    d, err));
  CHECK(d.login_failures_per_user == 0);
  CHECK(d.login_failures_per_connection == 3);
  CHECK(d.login_window_ms == 5000);
  check_refused({
      {"[limits]\nlogin_failures_per_user = -1\n", "limits.login_failures_per_user"},
      {"[limits]\nlogin_failures_per_connection = \"many\"\n", "limits.login_failures_per_connection"},
      {"[limits]\nlogin_window_ms = 10\n", "limits.login_window_ms"},
      {"[limits]\nlogin_failure_per_user = 5\n", "limits.login_failure_per_user"},
  });
}

TEST_CASE("[testing] is off by default, turned on explicitly, and checks its keys") {
  node_config c;
  std::string err;
  REQUIRE(load_toml(good, c, err));
  CHECK_FALSE(c.testing_enabled);
  node_config t;
  REQUIRE(load_toml(std::string(good) + "[testing]\nenabled = true\n", t, err));
  CHECK(t.testing_enabled);
  node_config bad;
  CHECK_FALSE(load_toml(std::string(good) + "[testing]\nenabled = 1\n", bad, err));
  CHECK(err.find("testing.enabled") != std::string::npos);
  CHECK_FALSE(load_toml(std::string(good) + "[testing]\ndrop = true\n", bad, err));
  CHECK(err.find("testing.drop") != std::string::npos);
}

TEST_CASE("no founding members: needs --join, unless the data dir already holds cluster state") {
  namespace fs = std::filesystem;
  const fs::path dir = fs::temp_directory_path() / ("qc-cfg-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  const std::string text = "[node]\nid = \"n4\"\nlisten = \"127.0.0.1:7004\"\ndata_dir = \"" + dir.string() +
                           "\"\n[cluster]\nsecret = \"s\"\nadmin_token = \"a\"\nmembers = []\n";
  node_config c;
  std::string err;
  REQUIRE(load_toml(text, c, err));
  CHECK_FALSE(validate(c, err));
  CHECK(err.find("--join") != std::string::npos);
  c.join = "127.0.0.1:7001";
  CHECK(validate(c, err));
  // A node that joined earlier restarts from its data directory (its Raft
  // log, or the raft.db of an earlier version).
  c.join.reset();
  fs::create_directories(dir / "wal");
  CHECK(validate(c, err));
  fs::remove(dir / "wal");
  CHECK_FALSE(validate(c, err));
  std::ofstream(dir / "raft.db") << "";
  CHECK(validate(c, err));
  fs::remove_all(dir);
}

TEST_CASE("[raft] log_segment_bytes: 16 MiB by default, 64 KiB .. 1 GiB") {
  node_config c;
  std::string err;
  REQUIRE(load_toml(good, c, err));
  CHECK(c.log_segment_bytes == 16u << 20);
  REQUIRE(load_toml(std::string(good) + "[raft]\nlog_segment_bytes = 65536\n", c, err));
  CHECK(c.log_segment_bytes == 65536);
  check_refused({{"[raft]\nlog_segment_bytes = 4096\n", "raft.log_segment_bytes"},
                 {"[raft]\nlog_segment_bytes = 2000000000000\n", "raft.log_segment_bytes"}});
}

TEST_CASE("[tls]: off by default; cert and key go together; checks its keys") {
  node_config c;
  std::string err;
  REQUIRE(load_toml(good, c, err));
  CHECK_FALSE(c.tls.enabled());
  node_config t;
  REQUIRE(load_toml(std::string(good) + "[tls]\ncert_file = \"/c.pem\"\nkey_file = \"/k.pem\"\nca_file = \"/ca.pem\"\n"
                                         "allow_plaintext = true\nverify_peers = false\n",
                    t, err));
  CHECK(t.tls.enabled());
  CHECK(t.tls.cert_file == "/c.pem");
  CHECK(t.tls.key_file == "/k.pem");
  CHECK(t.tls.ca_file == "/ca.pem");
  CHECK(t.tls.allow_plaintext);
  CHECK_FALSE(t.tls.verify_peers);
  check_refused({
      {"[tls]\ncert_file = \"/c.pem\"\n", "go together"},
      {"[tls]\nca_file = \"/ca.pem\"\n", "turn TLS on"},
      {"[tls]\ncert_file = 1\nkey_file = \"/k\"\n", "tls.cert_file"},
      {"[tls]\ncert_file = \"/c\"\nkey_file = \"/k\"\nverify_peer = true\n", "tls.verify_peer"},
  });
}
