// The chat state machine on SQLite (chat.db): deterministic apply of
// committed log entries, the read queries of the protocol, and snapshots.
//
// Owned by: the state-machine actor's thread. Not thread-safe; one instance
// per data directory, plus read-only ones (open_reader) that other threads
// own, each its own.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <system_error>
#include <vector>

#include "chat/command.h"
#include "common/error.h"
#include "raft/types.h"

namespace qc::db {

/// Outcome codes of applying a command; they map 1:1 onto the protocol's
/// error codes (docs/PROTOCOL.md).
enum class apply_code : std::uint8_t {
  ok,
  not_found,        ///< recipient / user does not exist
  conflict,         ///< user already exists
  forbidden,        ///< an id belongs to someone else
  unauthenticated,  ///< the acting user no longer exists
  bad_entry,        ///< undecodable entry (recorded, state unchanged)
  noop,             ///< leader no-op or conf change: nothing for the chat state
};

/// Contract error-code string for an apply_code ("ok" for ok/noop).
const char* to_string(apply_code c);

/// A live event for one user (docs/PROTOCOL.md, "Events"). `json` is the complete
/// event object text, e.g. {"event":"message","message":{...}}, shared and
/// never changed: a send's two parties get the same text, and the gateway
/// queues it as the frame itself.
struct user_event {
  std::string user;
  std::shared_ptr<const std::string> json;
};

/// The result of applying one entry.
struct apply_result {
  std::uint64_t index = 0;
  std::uint64_t term = 0;
  apply_code code = apply_code::noop;
  /// On ok: the reply fields as a JSON object text without braces' context,
  /// e.g. {"message":{...}} for send, {"user":"bob"} for create_account,
  /// {"marked":3}, {"deleted":2}, {} for the rest.
  std::string result_json = "{}";
  std::vector<user_event> events;
  /// delete_account: the account it deleted, with all its sessions. Every
  /// node's gateway unbinds its connections of that user when it sees the
  /// result, not only the node that took the request. (`logout` ends its
  /// token for later `resume`s and unbinds its own connection only.)
  std::string deleted_account;
};

/// One row of `conversations`.
struct conversation {
  std::string with;
  chat::message last;
  std::uint64_t unread = 0;  ///< messages from `with` to me not yet read
};

/// A session as the state machine holds it (a query result, owned by the
/// caller; the gateway reads it for `resume`).
struct session_info {
  std::string user;
  std::int64_t last_used = 0;  ///< ms since the epoch, as fixed by the leader
};

/// A page of account names.
struct account_page {
  std::vector<std::string> accounts;
  std::optional<std::string> next;  ///< pass as `after` for the next page
};

/// Why opening a data directory failed. The text names the file and problem.
struct open_error {
  std::string message;
};

/// The chat state machine. Applied entries and applied_index go into one
/// SQLite transaction that stays open across apply_batch calls until
/// commit() (the apply actor commits every so many entries or milliseconds):
/// this connection's queries see everything applied, other connections
/// (the snapshot copy) only what was committed, and a crash rolls back to a
/// commit, whole, from where the Raft log replays the rest.
class chat_store {
 public:
  /// Opens (creating if absent) `path` (e.g. data_dir/chat.db). Runs
  /// PRAGMA integrity_check (quick_check) and checks the schema version; on
  /// any problem returns nullptr and fills `err` (never resets data).
  /// `wal_bytes` bounds the WAL file beside it: a commit that finds more
  /// checkpoints it into the database, and the file is cut back to this
  /// size (a node with a small quota passes a small bound). `wal_phase`,
  /// in [0, 1): where in the WAL's cycle this member's checkpoints fall,
  /// as a fraction of the bound (members spread their checkpoints apart).
  static std::unique_ptr<chat_store> open(const std::filesystem::path& path, open_error& err,
                                          std::uint64_t wal_bytes = default_wal_bytes, double wal_phase = 0);
  /// 40 MiB: a page that changes in every commit is copied to the database
  /// once per checkpoint, not once per 1000 pages written (SQLite's default).
  static constexpr std::uint64_t default_wal_bytes = 40ull << 20;
  /// Opens a second connection to the chat.db at `path` that only reads
  /// (the event loop's, actors/gateway_reads.cpp): no schema work, no
  /// checks, no checkpoints; it sees what the owner committed, never its
  /// open transaction. Owned by whoever holds it; nullptr with `err` on
  /// failure. It must be closed before the owner installs a snapshot (the
  /// install replaces the file and deletes its WAL).
  static std::unique_ptr<chat_store> open_reader(const std::filesystem::path& path, open_error& err);
  ~chat_store();

  /// Index of the last applied entry (0 for a fresh store; a reader's is
  /// that of the state its last read_committed read).
  std::uint64_t applied_index() const;

  /// Applies entries in order inside the open transaction (opening one if
  /// none is); entries with index <= applied_index() are skipped
  /// (idempotent replay). Returns one result per applied entry. Throws
  /// std::system_error on a write error.
  std::vector<apply_result> apply_batch(const std::vector<raft::entry>& entries);

  /// Like apply_batch, but a failed write (a full disk: errc::disk_full,
  /// anything else: errc::io_error) is returned in `ec`, with `err` naming
  /// the file and the error: the whole open transaction was rolled back
  /// (this batch and every one applied since the last commit) and
  /// applied_index() is back at the last commit, so the same entries can be
  /// applied again once space is back.
  std::vector<apply_result> apply_batch(const std::vector<raft::entry>& entries, std::error_code& ec,
                                        std::string& err);

  /// Commits the open transaction, if any (synchronous=NORMAL: no fsync;
  /// the Raft log is what is durable). A failed commit rolls it back, as
  /// apply_batch does, and is returned in `ec`.
  void commit(std::error_code& ec, std::string& err);
  /// commit(), throwing std::system_error on a write error.
  void commit();
  /// Entries applied since the last commit.
  std::uint64_t uncommitted() const;
  /// Bytes in chat.db's free pages as this connection sees them (its open
  /// transaction included): SQLite reuses them before the file grows, so
  /// the storage quota leaves them out (db::measure_data_dir). Throws what
  /// SQLite throws.
  std::uint64_t free_bytes();

  // ---- queries (read applied state; `user` is the acting principal) ------

  /// Runs `fn`, whose queries then share one read transaction (or the open
  /// write transaction): a batch of reads takes chat.db's WAL read lock
  /// once, not once per statement.
  void read_together(const std::function<void()>& fn);
  /// A reader's batch (open_reader): runs `fn` inside one read
  /// transaction with the applied_index that transaction sees, which is
  /// what every query `fn` makes answers as of (the state is the same on
  /// every member that applied as far, so a query may answer a read whose
  /// index is at most that). Throws what SQLite throws.
  void read_committed(const std::function<void(std::uint64_t applied)>& fn);

  /// The stored password hash string of `user`, or nullopt.
  std::optional<std::string> password_hash(const std::string& user);
  /// The session with this token hash, or nullopt.
  std::optional<session_info> session(const std::string& token_hash);
  /// The user owning the session with this token hash, or nullopt.
  std::optional<std::string> session_user(const std::string& token_hash);
  /// True if the account exists.
  bool account_exists(const std::string& user);
  /// Accounts matching the glob (`*`, `?`), names > `after`, sorted, at most `limit`.
  account_page list_accounts(const std::string& pattern, std::size_t limit,
                             const std::optional<std::string>& after);
  /// Newest `limit` messages between `user` and `with` with id < `before`,
  /// returned oldest first.
  std::vector<chat::message> history(const std::string& user, const std::string& with,
                                     std::size_t limit, std::optional<std::uint64_t> before);
  /// Oldest `limit` unread messages to `user`, oldest first.
  std::vector<chat::message> unread(const std::string& user, std::size_t limit);
  /// Called with each row of a query, in place (no copy of its strings).
  using message_visitor = std::function<void(const chat::message_view&)>;
  /// The rows of history(), newest first (the order the index yields them).
  void history_each(const std::string& user, const std::string& with, std::size_t limit,
                    std::optional<std::uint64_t> before, const message_visitor& fn);
  /// The rows of unread(), oldest first.
  void unread_each(const std::string& user, std::size_t limit, const message_visitor& fn);
  /// Count of unread messages to `user`.
  std::uint64_t unread_count(const std::string& user);
  /// Conversations of `user`, newest last message first.
  std::vector<conversation> conversations(const std::string& user);
  /// Total number of messages (for tests, status and benchmarks).
  std::uint64_t message_count();

  /// A canonical digest (hex SHA-256) of the whole chat state, excluding
  /// applied_index. Equal on replicas that applied the same entries; used by
  /// tests to compare replicas.
  std::string state_digest();

  // ---- snapshots (§7) -----------------------------------------------------

  /// Writes a consistent copy of the state (as of applied_index) to `file`
  /// with VACUUM INTO, then fsyncs it. A failure is errc::disk_full or
  /// errc::io_error.
  qc::error snapshot_to(const std::filesystem::path& file);

  /// Replaces this store's contents with the snapshot `file` (which must be a
  /// valid chat.db; verified first). On success applied_index() is the
  /// snapshot's. On failure (errc::corrupt for a file that fails the checks
  /// of verify_snapshot) the current contents are untouched.
  qc::error install_snapshot(const std::filesystem::path& file);

  /// Reads the applied_index recorded inside a snapshot file (0 on error).
  static std::uint64_t snapshot_applied_index(const std::filesystem::path& file);

  /// Checks that `file` is a whole snapshot (quick_check, schema version)
  /// and sets `applied` to the index inside; errc::corrupt otherwise.
  static qc::error verify_snapshot(const std::filesystem::path& file, std::uint64_t& applied);

  /// The database file (for a second, read-only connection).
  const std::filesystem::path& path() const;
  /// Like snapshot_to, but through its own read-only connection to `db_file`,
  /// so any thread may run it while the owner keeps applying (WAL readers do
  /// not block the writer). The copy's applied index is whatever was
  /// committed when it began: read it back with snapshot_applied_index.
  /// A failure is errc::disk_full or errc::io_error.
  static qc::error snapshot_file_to(const std::filesystem::path& db_file, const std::filesystem::path& file);

  /// The EXPLAIN QUERY PLAN text of each contract query, for tests proving
  /// every query uses an index (no "SCAN messages").
  std::vector<std::pair<std::string, std::string>> query_plans();

 private:
  struct impl;
  explicit chat_store(std::unique_ptr<impl> i);
  std::unique_ptr<impl> impl_;
};

}  // namespace qc::db
