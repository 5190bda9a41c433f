// TOML config and command line (docs/CONFIG.md).
#include <doctest/doctest.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>

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
      {"[raft]\nsnapshot_keep_tail = 1000\n", "raft.snapshot_keep_tail"},  // read by nothing: removed
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

TEST_CASE("[raft] log_segment_bytes: 16 MiB by default, a sixteenth of a small quota, 64 KiB .. 1 GiB") {
  node_config c;
  std::string err;
  REQUIRE(load_toml(good, c, err));
  CHECK(c.log_segment_bytes == 16u << 20);
  REQUIRE(load_toml(std::string(good) + "[raft]\nlog_segment_bytes = 65536\n", c, err));
  CHECK(c.log_segment_bytes == 65536);
  // Not given: it follows the quota, so that a small quota leaves room.
  const auto with_quota = [&](const std::string& quota, const std::string& raft = "") {
    node_config q;
    REQUIRE(load_toml(std::string(good) + raft + "[storage]\nquota_bytes = " + quota + "\n", q, err));
    return q.log_segment_bytes;
  };
  CHECK(with_quota("4194304") == 256u << 10);     // 4 MiB
  CHECK(with_quota("1000000") == 64u << 10);      // at least 64 KiB
  CHECK(with_quota("1073741824") == 16u << 20);   // at most 16 MiB
  CHECK(with_quota("4194304", "[raft]\nlog_segment_bytes = 1048576\n") == 1u << 20);  // given: kept
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

TEST_CASE("config/example.toml loads, and each commented key, uncommented, is the built-in default") {
  std::ifstream in(QC_SOURCE_DIR "/config/example.toml");
  REQUIRE(in);
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string shipped = ss.str();
  node_config as_shipped;
  std::string err;
  REQUIRE_MESSAGE(load_toml(shipped, as_shipped, err), err);
  REQUIRE_MESSAGE(validate(as_shipped, err), err);

  // Uncomment "# key = value" lines and "# [section]" headers. Only the
  // sections this node parses: a section it does not know would be refused.
  const std::set<std::string> parsed = {"node", "cluster", "raft", "limits", "security", "tls", "storage", "testing"};
  const std::regex header(R"(^# \[(\w+)\].*)"), key(R"(^# (\w+\s*=.*))");
  std::istringstream lines(shipped);
  std::string line, section = "node", uncommented;
  std::size_t keys = 0;
  while (std::getline(lines, line)) {
    std::smatch m;
    if (std::regex_match(line, m, header) || (line.size() > 1 && line[0] == '[')) {
      section = m.empty() ? line.substr(1, line.find(']') - 1) : m[1].str();
      if (!m.empty() && parsed.count(section)) line = "[" + section + "]";
    } else if (std::regex_match(line, m, key) && parsed.count(section)) {
      line = m[1].str();
      ++keys;
    }
    uncommented += line + "\n";
  }
  CAPTURE(uncommented);
  CHECK(keys >= 24);  // every optional key of the sections above
  node_config all_keys;
  REQUIRE_MESSAGE(load_toml(uncommented, all_keys, err), err);
  REQUIRE_MESSAGE(validate(all_keys, err), err);
  CHECK(all_keys == as_shipped);
}

TEST_CASE("[storage] quota_bytes: 8 GiB by default, set, range and unknown keys checked") {
  node_config c;
  std::string err;
  REQUIRE(load_toml(good, c, err));
  CHECK(c.quota_bytes == 8589934592ull);
  node_config q;
  REQUIRE(load_toml(std::string(good) + "[storage]\nquota_bytes = 16777216\n", q, err));
  CHECK(q.quota_bytes == 16777216ull);
  // Any positive size: a quota under what an empty node takes refuses every write.
  REQUIRE(load_toml(std::string(good) + "[storage]\nquota_bytes = 1000\n", q, err));
  CHECK(q.quota_bytes == 1000);
  check_refused({
      {"[storage]\nquota_bytes = 0\n", "storage.quota_bytes"},
      {"[storage]\nquota_bytes = \"8G\"\n", "storage.quota_bytes"},
      {"[storage]\nquota = 5\n", "storage.quota"},
  });
}

TEST_CASE("disk_work_phase: founding members evenly spaced in id order; others by a stable hash") {
  node_config c;
  for (const char* id : {"n3", "n1", "n2"}) c.members.push_back({id, "127.0.0.1:1", true});
  const auto phase = [&](const char* id) {
    c.id = id;
    return c.disk_work_phase();
  };
  CHECK(phase("n1") == 0.0);
  CHECK(phase("n2") == doctest::Approx(1.0 / 3));
  CHECK(phase("n3") == doctest::Approx(2.0 / 3));
  // A member that joined later: somewhere in [0, 1), the same every time.
  const double j = phase("n9");
  CHECK(j >= 0.0);
  CHECK(j < 1.0);
  CHECK(phase("n9") == j);
  CHECK(phase("n8") != j);
}
