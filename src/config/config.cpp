#include "config/config.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include <boost/program_options.hpp>
#include <toml++/toml.h>

#include "common/host_port.h"

namespace qc::config {

namespace po = boost::program_options;

namespace {

/// Reads typed keys from one table and remembers which it saw, so that any
/// other key is reported by name.
struct table_reader {
  const toml::table& t;
  std::string prefix;  // "raft." etc.
  std::string& err;
  std::set<std::string> known;

  bool fail(const std::string& key, const std::string& what) {
    err = "'" + prefix + key + "' " + what;
    return false;
  }
  bool str(const char* key, std::string& out) {
    known.insert(key);
    auto* n = t.get(key);
    if (!n) return true;
    auto* s = n->as_string();
    if (!s) return fail(key, "must be a string");
    out = s->get();
    return true;
  }
  template <typename Int>
  bool integer(const char* key, Int& out, std::int64_t lo, std::int64_t hi) {
    known.insert(key);
    auto* n = t.get(key);
    if (!n) return true;
    auto* i = n->as_integer();
    if (!i) return fail(key, "must be an integer");
    const std::int64_t v = i->get();
    if (v < lo || v > hi) return fail(key, "must be in " + std::to_string(lo) + ".." + std::to_string(hi));
    out = static_cast<Int>(v);
    return true;
  }
  bool boolean(const char* key, bool& out) {
    known.insert(key);
    auto* n = t.get(key);
    if (!n) return true;
    auto* b = n->as_boolean();
    if (!b) return fail(key, "must be true or false");
    out = b->get();
    return true;
  }
  bool no_unknown() {
    for (auto& [k, v] : t)
      if (!known.count(std::string(k.str()))) {
        err = "unknown key '" + prefix + std::string(k.str()) + "'";
        return false;
      }
    return true;
  }
};

}  // namespace

bool load_toml(const std::string& toml_text, node_config& cfg, std::string& err) {
  toml::table root;
  try {
    root = toml::parse(toml_text);
  } catch (const toml::parse_error& e) {
    std::ostringstream os;
    os << "parse error at line " << e.source().begin.line << ", column " << e.source().begin.column << ": "
       << e.description();
    err = os.str();
    return false;
  }
  static const std::set<std::string> sections = {"node", "cluster", "raft", "limits", "security", "storage", "testing", "tls"};
  for (auto& [k, v] : root) {
    const std::string key(k.str());
    if (!sections.count(key)) {
      err = "unknown key '" + key + "'";
      return false;
    }
    if (!v.is_table()) {
      err = "'" + key + "' must be a table";
      return false;
    }
  }
  static const toml::table empty;
  auto section = [&](const char* name) -> const toml::table& {
    auto* t = root.get_as<toml::table>(name);
    return t ? *t : empty;
  };

  table_reader node{section("node"), "node.", err, {}};
  if (!node.str("id", cfg.id) || !node.str("listen", cfg.listen) || !node.str("advertise", cfg.advertise) ||
      !node.str("data_dir", cfg.data_dir) || !node.str("log_level", cfg.log_level) || !node.no_unknown())
    return false;

  table_reader cluster{section("cluster"), "cluster.", err, {}};
  if (!cluster.str("secret", cfg.secret) || !cluster.str("admin_token", cfg.admin_token)) return false;
  cluster.known.insert("members");
  if (auto* m = cluster.t.get("members")) {
    auto* arr = m->as_array();
    if (!arr) {
      err = "'cluster.members' must be an array of { id, address } tables";
      return false;
    }
    cfg.members.clear();
    for (std::size_t i = 0; i < arr->size(); ++i) {
      auto* mt = arr->get(i)->as_table();
      const std::string where = "cluster.members[" + std::to_string(i) + "]";
      if (!mt) {
        err = "'" + where + "' must be a table { id, address }";
        return false;
      }
      table_reader mr{*mt, where + ".", err, {}};
      raft::member mb;
      if (!mr.str("id", mb.id) || !mr.str("address", mb.address) || !mr.no_unknown()) return false;
      if (mb.id.empty() || mb.address.empty()) {
        err = "'" + where + "' needs both id and address";
        return false;
      }
      cfg.members.push_back(mb);
    }
  }
  if (!cluster.no_unknown()) return false;

  table_reader raft_t{section("raft"), "raft.", err, {}};
  cfg.log_segment_bytes = 0;  // not given: follows the quota (below)
  if (!raft_t.integer("heartbeat_ms", cfg.heartbeat_ms, 1, 60'000) ||
      !raft_t.integer("election_timeout_ms", cfg.election_timeout_ms, 10, 600'000) ||
      !raft_t.integer("snapshot_every", cfg.snapshot_every, 0, INT64_MAX) ||
      !raft_t.integer("log_segment_bytes", cfg.log_segment_bytes, 64 * 1024, std::int64_t{1} << 30) ||
      !raft_t.no_unknown())
    return false;

  table_reader lim{section("limits"), "limits.", err, {}};
  if (!lim.integer("max_frame_bytes", cfg.max_frame_bytes, 1024, 64 << 20) ||
      !lim.integer("max_body_bytes", cfg.max_body_bytes, 1, 64 << 20) ||
      !lim.integer("request_timeout_ms", cfg.request_timeout_ms, 100, 600'000) ||
      !lim.integer("max_connections", cfg.max_connections, 1, 10'000'000) ||
      !lim.integer("max_connections_per_ip", cfg.max_connections_per_ip, 1, 10'000'000) ||
      !lim.integer("idle_timeout_ms", cfg.idle_timeout_ms, 1000, INT32_MAX) ||
      !lim.integer("login_failures_per_user", cfg.login_failures_per_user, 0, 1'000'000) ||
      !lim.integer("login_failures_per_connection", cfg.login_failures_per_connection, 0, 1'000'000) ||
      !lim.integer("login_window_ms", cfg.login_window_ms, 1000, 86'400'000) ||
      !lim.integer("login_tracked_keys", cfg.login_tracked_keys, 1, 100'000'000) ||
      !lim.integer("create_account_per_connection", cfg.create_account_per_connection, 0, 1'000'000) ||
      !lim.integer("create_account_per_address", cfg.create_account_per_address, 0, 1'000'000) ||
      !lim.integer("create_account_window_ms", cfg.create_account_window_ms, 1000, 86'400'000) ||
      !lim.integer("max_peer_handshakes", cfg.max_peer_handshakes, 1, 10'000) || !lim.no_unknown())
    return false;

  table_reader sec{section("security"), "security.", err, {}};
  auto& ph = cfg.password_hash;
  std::string algorithm = ph.algorithm == chat::hash_algorithm::argon2id ? "argon2id" : "pbkdf2-sha256";
  if (!sec.str("password_hash", algorithm) ||
      !sec.integer("argon2id_passes", ph.argon2id_passes, 1, 10) ||
      !sec.integer("argon2id_memory_kib", ph.argon2id_memory_kib, 8, 1 << 20) ||
      !sec.integer("pbkdf2_iterations", ph.pbkdf2_iterations, 1, 10'000'000) ||
      !sec.integer("hash_threads", cfg.hash_threads, 0, 256) ||
      !sec.integer("hash_queue", cfg.hash_queue, 1, 1'000'000) ||
      !sec.integer("session_idle_timeout_ms", cfg.session_idle_timeout_ms, 1000, 10LL * 365 * 86'400'000) ||
      !sec.no_unknown())
    return false;
  if (!chat::parse_hash_algorithm(algorithm, ph.algorithm))
    return err = "'security.password_hash' must be \"argon2id\" or \"pbkdf2-sha256\"", false;

  table_reader storage{section("storage"), "storage.", err, {}};
  if (!storage.integer("quota_bytes", cfg.quota_bytes, 1, INT64_MAX) || !storage.no_unknown()) return false;
  if (cfg.log_segment_bytes == 0) cfg.log_segment_bytes = node_config::segment_bytes_for(cfg.quota_bytes);

  table_reader tls{section("tls"), "tls.", err, {}};
  auto& t = cfg.tls;
  if (!tls.str("cert_file", t.cert_file) || !tls.str("key_file", t.key_file) || !tls.str("ca_file", t.ca_file) ||
      !tls.boolean("verify_peers", t.verify_peers) || !tls.boolean("allow_plaintext", t.allow_plaintext) ||
      !tls.no_unknown())
    return false;
  if (t.cert_file.empty() != t.key_file.empty())
    return err = "'tls.cert_file' and 'tls.key_file' go together: set both to turn TLS on", false;
  if (!t.enabled() && (!t.ca_file.empty() || t.allow_plaintext))
    return err = "[tls] needs 'tls.cert_file' and 'tls.key_file' to turn TLS on", false;

  table_reader testing{section("testing"), "testing.", err, {}};
  if (!testing.boolean("enabled", cfg.testing_enabled) ||
      !testing.integer("snapshot_chunk_delay_ms", cfg.testing_snapshot_chunk_delay_ms, 0, 60'000) ||
      !testing.integer("snapshot_stall_timeout_ms", cfg.testing_snapshot_stall_timeout_ms, 0, 600'000) ||
      !testing.integer("snapshot_lose_chunks", cfg.testing_snapshot_lose_chunks, 0, 1000) ||
      !testing.boolean("allow_dev_credentials", cfg.testing_allow_dev_credentials) ||
      !testing.no_unknown())
    return false;
  return true;
}

bool validate(node_config& cfg, std::string& err) {
  if (cfg.id.empty()) return err = "missing 'node.id'", false;
  if (cfg.id.size() > 64 || cfg.id.find_first_of(" \t\r\n\"") != std::string::npos)
    return err = "'node.id' must be 1-64 characters without spaces", false;
  if (cfg.listen.empty()) return err = "missing 'node.listen'", false;
  if (!common::parse_host_port(cfg.listen)) return err = "'node.listen' must be host:port, got '" + cfg.listen + "'", false;
  if (cfg.advertise.empty()) cfg.advertise = cfg.listen;
  if (!common::parse_host_port(cfg.advertise)) return err = "'node.advertise' must be host:port", false;
  if (cfg.data_dir.empty()) return err = "missing 'node.data_dir'", false;
  if (cfg.secret.empty()) return err = "missing 'cluster.secret'", false;
  static const std::set<std::string> levels = {"trace", "debug", "info", "warn", "error"};
  if (!levels.count(cfg.log_level)) return err = "log level must be trace|debug|info|warn|error", false;
  if (cfg.heartbeat_ms >= cfg.election_timeout_ms)
    return err = "'raft.heartbeat_ms' must be smaller than 'raft.election_timeout_ms'", false;
  std::set<std::string> ids, addrs;
  for (const auto& m : cfg.members) {
    if (!ids.insert(m.id).second) return err = "duplicate member id '" + m.id + "'", false;
    if (!addrs.insert(m.address).second) return err = "duplicate member address '" + m.address + "'", false;
    if (!common::parse_host_port(m.address)) return err = "member '" + m.id + "' address must be host:port", false;
  }
  // A node that joined later lists no founding members; once its data_dir
  // holds cluster state it restarts from that, with or without --join.
  std::error_code fs_ec;
  const std::filesystem::path dir(cfg.data_dir);
  if (cfg.members.empty() && !cfg.join && !std::filesystem::exists(dir / "wal", fs_ec) &&
      !std::filesystem::exists(dir / "raft.db", fs_ec))
    return err = "'cluster.members' is empty and " + cfg.data_dir +
                 " holds no cluster state: list the founding members, or start with --join HOST:PORT", false;
  if (cfg.join && !common::parse_host_port(*cfg.join)) return err = "--join must be HOST:PORT", false;
  // The credentials shipped in config/ are public: fine on loopback, never
  // on an address others can reach.
  const bool dev_secret_used = cfg.secret == dev_secret, dev_admin_used = cfg.admin_token == dev_admin_token;
  if ((dev_secret_used || dev_admin_used) && !cfg.testing_allow_dev_credentials &&
      !common::is_loopback_host(common::parse_host_port(cfg.listen)->host))
    return err = std::string("'node.listen' = '") + cfg.listen + "' is not loopback but '" +
                 (dev_secret_used ? "cluster.secret" : "cluster.admin_token") + "' is the shipped development value '" +
                 (dev_secret_used ? dev_secret : dev_admin_token) +
                 "': set your own (or [testing] allow_dev_credentials = true)",
           false;
  return true;
}

std::int64_t node_config::session_refresh_ms() const {
  return std::clamp<std::int64_t>(session_idle_timeout_ms / 30, 1, 86'400'000);
}

double node_config::disk_work_phase() const {
  std::vector<std::string> ids;
  for (const auto& m : members) ids.push_back(m.id);
  std::sort(ids.begin(), ids.end());
  if (const auto it = std::find(ids.begin(), ids.end(), id); it != ids.end())
    return static_cast<double>(it - ids.begin()) / static_cast<double>(ids.size());
  std::uint32_t h = 2166136261u;  // FNV-1a: the same place in every build
  for (const unsigned char c : id) h = (h ^ c) * 16777619u;
  return static_cast<double>(h % 1000) / 1000.0;
}

cli_action parse_command_line(int argc, const char* const argv[], node_config& cfg, std::string& out_text,
                              const char* version) {
  po::options_description desc("chatnode options");
  desc.add_options()("help,h", "print this help and exit")("version", "print the version and exit")(
      "config,c", po::value<std::string>(), "TOML config file")("id", po::value<std::string>(), "node id (overrides [node] id)")(
      "listen", po::value<std::string>(), "HOST:PORT to listen on")("data-dir", po::value<std::string>(), "data directory")(
      "log-level", po::value<std::string>(), "trace|debug|info|warn|error")(
      "join", po::value<std::string>(), "HOST:PORT of a running member: ask the cluster to add this node");
  po::variables_map vm;
  try {
    po::store(po::parse_command_line(argc, argv, desc), vm);
    po::notify(vm);
  } catch (const std::exception& e) {
    out_text = e.what();
    return cli_action::exit_error;
  }
  if (vm.count("help")) {
    std::ostringstream os;
    os << "chatnode " << version << ": a Quorum Chat node\nusage: chatnode --config FILE [overrides]\n" << desc;
    out_text = os.str();
    return cli_action::exit_ok;
  }
  if (vm.count("version")) {
    out_text = std::string("chatnode ") + version + "\n";
    return cli_action::exit_ok;
  }
  if (!vm.count("config")) {
    out_text = "missing --config FILE (see --help)";
    return cli_action::exit_error;
  }
  const std::string path = vm["config"].as<std::string>();
  std::ifstream in(path);
  if (!in) {
    out_text = path + ": cannot read the config file";
    return cli_action::exit_error;
  }
  std::stringstream ss;
  ss << in.rdbuf();
  std::string err;
  if (!load_toml(ss.str(), cfg, err)) {
    out_text = path + ": " + err;
    return cli_action::exit_error;
  }
  if (vm.count("id")) cfg.id = vm["id"].as<std::string>();
  if (vm.count("listen")) {
    // A new listen address also becomes what others dial, unless set apart.
    if (cfg.advertise == cfg.listen) cfg.advertise.clear();
    cfg.listen = vm["listen"].as<std::string>();
  }
  if (vm.count("data-dir")) cfg.data_dir = vm["data-dir"].as<std::string>();
  if (vm.count("log-level")) cfg.log_level = vm["log-level"].as<std::string>();
  if (vm.count("join")) cfg.join = vm["join"].as<std::string>();
  if (!validate(cfg, err)) {
    out_text = path + ": " + err;
    return cli_action::exit_error;
  }
  return cli_action::run;
}

}  // namespace qc::config
