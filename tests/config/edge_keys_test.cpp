// Config keys of the network edge and accounts: password hashing, the
// hashing queue, session idle expiry, create_account budgets, peer
// handshakes, and the refusal of the shipped development credentials.
#include <doctest/doctest.h>

#include <fstream>

#include "config/config.h"

using namespace qc::config;

namespace {
std::string node_with(const std::string& listen, const std::string& secret, const std::string& admin) {
  return "[node]\nid = \"n1\"\nlisten = \"" + listen + "\"\ndata_dir = \"data/n1\"\n[cluster]\nsecret = \"" + secret +
         "\"\nadmin_token = \"" + admin + "\"\nmembers = [ { id = \"n1\", address = \"127.0.0.1:7001\" } ]\n";
}
const std::string base = node_with("127.0.0.1:7001", "s", "a");
}  // namespace

TEST_CASE("edge and account keys: defaults") {
  node_config c;
  std::string err;
  REQUIRE(load_toml(base, c, err));
  REQUIRE(validate(c, err));
  CHECK(c.password_hash.algorithm == qc::chat::hash_algorithm::argon2id);
  CHECK(c.password_hash.argon2id_passes == 2);
  CHECK(c.password_hash.argon2id_memory_kib == 19456);
  CHECK(c.password_hash.pbkdf2_iterations == 600'000);
  CHECK(c.hash_threads == 0);
  CHECK(c.hash_queue == 256);
  CHECK(c.session_idle_timeout_ms == 30LL * 86'400'000);
  CHECK(c.session_refresh_ms() == 86'400'000);  // a day, for 30 days
  CHECK(c.create_account_per_connection == 0);  // off: a valid sign-up is never refused by default
  CHECK(c.create_account_per_address == 0);
  CHECK(c.create_account_window_ms == 60'000);
  CHECK(c.max_peer_handshakes == 16);
  CHECK(c.login_tracked_keys == 100'000);
  CHECK_FALSE(c.testing_allow_dev_credentials);
}

TEST_CASE("edge and account keys: values and range checks") {
  node_config c;
  std::string err;
  REQUIRE(load_toml(base + "[security]\npassword_hash = \"pbkdf2-sha256\"\npbkdf2_iterations = 700000\n"
                           "argon2id_passes = 3\nargon2id_memory_kib = 65536\nhash_threads = 2\nhash_queue = 8\n"
                           "session_idle_timeout_ms = 3000\n[limits]\ncreate_account_per_connection = 0\n"
                           "create_account_per_address = 5\ncreate_account_window_ms = 1000\nmax_peer_handshakes = 2\n"
                           "login_tracked_keys = 10\n",
                    c, err));
  CHECK(c.password_hash.algorithm == qc::chat::hash_algorithm::pbkdf2_sha256);
  CHECK(c.password_hash.pbkdf2_iterations == 700'000);
  CHECK(c.password_hash.argon2id_passes == 3);
  CHECK(c.password_hash.argon2id_memory_kib == 65536);
  CHECK(c.hash_threads == 2);
  CHECK(c.hash_queue == 8);
  CHECK(c.session_refresh_ms() == 100);
  CHECK(c.create_account_per_connection == 0);
  CHECK(c.create_account_per_address == 5);
  CHECK(c.max_peer_handshakes == 2);
  CHECK(c.login_tracked_keys == 10);
  const std::pair<const char*, const char*> bad[] = {
      {"[security]\npassword_hash = \"bcrypt\"\n", "security.password_hash"},
      {"[security]\nargon2id_passes = 0\n", "security.argon2id_passes"},
      {"[security]\nargon2id_memory_kib = 4\n", "security.argon2id_memory_kib"},
      {"[security]\nhash_queue = 0\n", "security.hash_queue"},
      {"[security]\nsession_idle_timeout_ms = 10\n", "security.session_idle_timeout_ms"},
      {"[security]\nsession_idle = 5\n", "security.session_idle"},
      {"[limits]\nmax_peer_handshakes = 0\n", "limits.max_peer_handshakes"},
      {"[limits]\ncreate_account_window_ms = 5\n", "limits.create_account_window_ms"},
      {"[limits]\ncreate_accounts_per_address = 5\n", "limits.create_accounts_per_address"},
      {"[testing]\nallow_dev_credentials = 1\n", "testing.allow_dev_credentials"},
  };
  for (auto [text, what] : bad) {
    CAPTURE(text);
    node_config e;
    CHECK_FALSE(load_toml(base + text, e, err));
    CHECK_MESSAGE(err.find(what) != std::string::npos, err);
  }
}

TEST_CASE("the shipped development credentials: loopback only, unless [testing] allows them") {
  struct row {
    const char* listen;
    const char* secret;
    const char* admin;
    bool allowed;
  };
  const row rows[] = {
      {"127.0.0.1:7001", "dev-secret", "dev-admin", true},   {"localhost:7001", "dev-secret", "dev-admin", true},
      {"[::1]:7001", "dev-secret", "dev-admin", true},       {"127.3.4.5:7001", "dev-secret", "x", true},
      {"0.0.0.0:7001", "dev-secret", "x", false},            {"0.0.0.0:7001", "x", "dev-admin", false},
      {"10.0.0.5:7001", "dev-secret", "dev-admin", false},   {"chat.example.com:7001", "x", "dev-admin", false},
      {"[::]:7001", "dev-secret", "x", false},               {"0.0.0.0:7001", "x", "y", true},
      {"127.0.0.1.evil.com:7001", "dev-secret", "x", false},
  };
  for (const auto& r : rows) {
    CAPTURE(r.listen);
    CAPTURE(r.secret);
    node_config c;
    std::string err;
    REQUIRE(load_toml(node_with(r.listen, r.secret, r.admin), c, err));
    CHECK(validate(c, err) == r.allowed);
    if (!r.allowed) {
      CHECK(err.find("shipped development value") != std::string::npos);
      CHECK(err.find('\n') == std::string::npos);
    }
    node_config t;
    REQUIRE(load_toml(node_with(r.listen, r.secret, r.admin) + "[testing]\nallow_dev_credentials = true\n", t, err));
    CHECK(validate(t, err));
  }
}

TEST_CASE("config/example.toml loads, its commented [testing] section too") {
  std::ifstream in(std::string(QC_SOURCE_DIR) + "/config/example.toml");
  REQUIRE(in);
  const std::string text((std::istreambuf_iterator<char>(in)), {});
  node_config c;
  std::string err;
  REQUIRE_MESSAGE(load_toml(text, c, err), err);
  CHECK_MESSAGE(validate(c, err), err);
  // Uncomment the [testing] block: its keys are known as well.
  const auto at = text.find("# [testing]");
  REQUIRE(at != std::string::npos);
  std::string testing = text.substr(at);
  for (std::size_t p = 0; (p = testing.find("# ", p)) != std::string::npos;)
    if (p == 0 || testing[p - 1] == '\n') testing.erase(p, 2);
    else p += 2;
  node_config t;
  REQUIRE_MESSAGE(load_toml(text.substr(0, at) + testing, t, err), err);
}
