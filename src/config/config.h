// Node configuration: the TOML file plus command-line overrides
// (docs/CONFIG.md).
//
// Owned by: main() at start-up; read-only afterwards.
#pragma once

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "chat/password.h"
#include "net/tls_settings.h"
#include "raft/types.h"

namespace qc::config {

/// Everything a node needs to start, with the defaults of docs/CONFIG.md.
struct node_config {
  /// Field by field (tests compare a loaded file with the defaults). Owned by: main().
  friend bool operator==(const node_config&, const node_config&) = default;

  // [node]
  std::string id;
  std::string listen;     ///< "host:port"
  std::string advertise;  ///< defaults to listen
  std::string data_dir;
  std::string log_level = "info";  ///< trace|debug|info|warn|error
  // [cluster]
  std::string secret;
  std::string admin_token;
  std::vector<raft::member> members;  ///< founding voters
  // [raft]
  int heartbeat_ms = 50;
  int election_timeout_ms = 300;  ///< randomized in [t, 2t)
  std::uint64_t snapshot_every = 10'000;  ///< take a snapshot every N applied entries
  /// Bytes each Raft log segment file (data_dir/wal/) is preallocated to
  /// (load_toml: segment_bytes_for the quota unless the file sets it).
  std::uint64_t log_segment_bytes = 16u << 20;
  // [limits]
  std::size_t max_frame_bytes = 64 * 1024;
  std::size_t max_body_bytes = 4 * 1024;
  int request_timeout_ms = 5000;  ///< bound on waiting for a leader / commit
  std::size_t max_connections = 20'000;
  std::size_t max_connections_per_ip = 20'000;
  int idle_timeout_ms = 600'000;
  /// Login rate limits (gateway): password attempts (login, delete_account)
  /// not yet proven right, per user name and per connection, in each
  /// window. 0 turns a check off. Over the limit: `rate_limited`.
  std::size_t login_failures_per_user = 20;
  std::size_t login_failures_per_connection = 10;
  int login_window_ms = 60'000;
  /// Keys (user names, connections) each login limiter tracks at most;
  /// when full it forgets partial counts, never refuses a new key.
  std::size_t login_tracked_keys = 100'000;
  /// create_account budgets per client connection and per source address
  /// in each window (0 = off). Over either: `rate_limited`.
  std::size_t create_account_per_connection = 0;  ///< off unless set (see CONFIG)
  std::size_t create_account_per_address = 0;
  int create_account_window_ms = 60'000;
  /// /raft upgrades still proving the cluster secret, at once (more are
  /// closed at once).
  std::size_t max_peer_handshakes = 16;
  // [security]
  /// Algorithm and cost of new password hashes; hashes of any supported
  /// algorithm and cost keep verifying and are rewritten at the next login.
  chat::hash_params password_hash;
  /// Hashing worker threads (0 = one per core) and the bound
  /// on hashes queued or running: beyond it, password ops get
  /// `rate_limited` with `retry_after_ms`.
  std::size_t hash_threads = 0;
  std::size_t hash_queue = 256;
  /// A session not used for this long is gone: `resume` answers
  /// `unauthenticated`. Use is recorded through the log at most once per
  /// session_refresh_ms() per session.
  std::int64_t session_idle_timeout_ms = 30LL * 24 * 3600 * 1000;
  // [storage]
  /// The node's data (data_dir: log, chat.db, snapshots) may not grow past
  /// this: writes that would get `storage_full` (8 GiB).
  std::uint64_t quota_bytes = 8ull << 30;
  /// chat.db's WAL bound under this quota: a sixteenth of it, at least
  /// 64 KiB, at most 40 MiB (checkpointed and cut back past it).
  std::uint64_t chat_wal_bytes() const {
    return std::min<std::uint64_t>(std::max<std::uint64_t>(quota_bytes / 16, 64ull << 10), 40ull << 20);
  }
  /// The Raft log's segment size when `[raft] log_segment_bytes` is not
  /// given: a sixteenth of the quota in whole 4 KiB blocks, from 64 KiB to
  /// 16 MiB. A segment is preallocated whole and the storage alarm keeps
  /// room for the next one, so a small quota needs small segments to leave
  /// room for data at all.
  static std::uint64_t segment_bytes_for(std::uint64_t quota) {
    return std::clamp<std::uint64_t>(quota / 16 / 4096 * 4096, 64ull << 10, 16ull << 20);
  }
  /// Entry bytes the apply actor gathers in one chat.db transaction at
  /// most: an eighth of chat_wal_bytes() (5 MiB under the default quota).
  /// Until that transaction commits, its entries are on disk only in the
  /// log, where a measurement of the data directory cannot see what they
  /// will take in chat.db; the storage alarm keeps room for them.
  std::uint64_t apply_commit_bytes() const { return chat_wal_bytes() / 8; }
  /// Where this member's periodic disk work (chat.db's checkpoints and
  /// snapshots) falls in its cycle, in [0, 1): founding members take
  /// evenly spaced places in the order of their ids, a member that joined
  /// later the place its id hashes to. Members apply the same entries at
  /// about the same pace; with one phase they would all flush at once,
  /// and a write waits for a majority of them.
  double disk_work_phase() const;
  // [tls] — optional https/wss for clients and peers
  net::tls_settings tls;
  // command line only
  std::optional<std::string> join;  ///< --join HOST:PORT

  /// [testing] — fault-injection knobs for test suites; off (0) by default.
  /// Snapshot streams send 64 KiB chunks, one at a time, this many ms apart,
  /// so a test can kill a joiner in the middle of a transfer.
  int testing_snapshot_chunk_delay_ms = 0;
  /// A snapshot stream with no acknowledgement for this long starts over
  /// (0 = the built-in 30 s); tests shorten it to see a stall recovered.
  int testing_snapshot_stall_timeout_ms = 0;
  /// A receiver discards this many snapshot chunks (past the first) without
  /// a word, as a link that lost them would; 0 = off.
  int testing_snapshot_lose_chunks = 0;
  /// [testing] enabled — allows the fault-injection ops admin.net_filter
  /// (tests/faults) and admin.disk_stall; false by default, never for production.
  bool testing_enabled = false;
  /// [testing] allow_dev_credentials — lets a node listen on a non-loopback
  /// address with the shipped development secret or admin token.
  bool testing_allow_dev_credentials = false;

  /// How often a session's last use is written through the log: a 30th of
  /// the idle timeout, at most a day (so "idle" is exact to ~3%).
  std::int64_t session_refresh_ms() const;
};

/// The development credentials shipped in config/ (refused on a
/// non-loopback listen address unless [testing] allow_dev_credentials).
inline constexpr const char* dev_secret = "dev-secret";
inline constexpr const char* dev_admin_token = "dev-admin";

/// What parse_command_line decided.
enum class cli_action { run, exit_ok, exit_error };

/// Parses argv (Boost.Program_options): --config, --id, --listen,
/// --data-dir, --log-level, --join, --help, --version. Loads the TOML file
/// (toml++), applies overrides and validates. On `exit_ok` (help/version)
/// `out_text` holds what to print to stdout; on `exit_error` it holds a
/// one-line reason (naming an unknown key, a bad value, a missing field).
cli_action parse_command_line(int argc, const char* const argv[], node_config& cfg,
                              std::string& out_text, const char* version);

/// Loads and validates a TOML document (text) into cfg. Unknown keys are an
/// error naming the key (e.g. "unknown key 'raft.hearbeat_ms'"). Returns
/// false and sets `err` on any problem.
bool load_toml(const std::string& toml_text, node_config& cfg, std::string& err);

/// Final validation after overrides (id present, listen parses, ...).
bool validate(node_config& cfg, std::string& err);

}  // namespace qc::config
