// The replicated chat commands: what goes into a Raft log entry's `data`,
// and the plain chat values the state machine returns.
//
// Every field that could differ between replicas (timestamps, password
// hashes, token hashes) is fixed inside the command before it is proposed,
// so applying a command is deterministic (architecture principle 3).
//
// Owned by: plain values; built by the gateway actor, applied by the
// state-machine actor.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace qc::chat {

/// A chat message as the protocol shows it (docs/PROTOCOL.md). `id` is the log index of
/// the entry that created it.
struct message {
  std::uint64_t id = 0;
  std::string from;
  std::string to;
  std::string body;
  std::int64_t ts = 0;  ///< ms since the epoch, fixed by the leader
  bool read = false;

  friend bool operator==(const message&, const message&) = default;
};

/// A message read in place (from a query's current row): the strings point
/// into the row and are valid only until the query moves on.
struct message_view {
  std::uint64_t id = 0;
  std::string_view from;
  std::string_view to;
  std::string_view body;
  std::int64_t ts = 0;
  bool read = false;

  message_view() = default;
  message_view(const message& m) : id(m.id), from(m.from), to(m.to), body(m.body), ts(m.ts), read(m.read) {}
  message_view(std::uint64_t i, std::string_view f, std::string_view t, std::string_view b, std::int64_t s, bool r)
      : id(i), from(f), to(t), body(b), ts(s), read(r) {}
};

/// create_account: `pw_hash` is a self-describing hash string (argon2id or
/// PBKDF2, chat/password.h) computed before proposing; the plaintext
/// password never reaches the log.
struct cmd_create_account {
  std::string user;
  std::string pw_hash;
  std::int64_t ts = 0;
};

/// login: a new session for `user`, keyed by the SHA-256 (hex) of the
/// token. The token itself is never stored. `ts` is the session's creation
/// and first use.
///
/// `expire_before` (fixed by the leader: ts - session idle timeout) drops
/// the user's sessions last used before it, so expired sessions do not pile
/// up. `rehash_from`/`rehash_to`: the login proved the password against
/// `rehash_from`, which is weaker than (or different from) the node's hash
/// parameters; the account's hash becomes `rehash_to` if it is still
/// `rehash_from` (a password changed meanwhile is not overwritten).
struct cmd_create_session {
  std::string user;
  std::string token_hash;
  std::int64_t ts = 0;
  std::int64_t expire_before = 0;
  std::string rehash_from = {};
  std::string rehash_to = {};
};

/// A session was used: its last use becomes `ts` (fixed by the leader).
/// Written at most once per session refresh interval per session
/// (config::node_config::session_refresh_ms), not per request.
struct cmd_touch_session {
  std::string user;
  std::string token_hash;
  std::int64_t ts = 0;
};

/// logout: drops the session with this token hash.
struct cmd_drop_session {
  std::string user;
  std::string token_hash;
};

/// send. `nonce` dedupes per (from, nonce): a replay returns the original.
struct cmd_send {
  std::string from;
  std::string to;
  std::string body;
  std::optional<std::string> nonce;
  std::int64_t ts = 0;
};

/// mark_read by ids (only ids addressed to `user` count) or by peer `with`.
struct cmd_mark_read {
  std::string user;
  std::vector<std::uint64_t> ids;
  std::optional<std::string> with;
};

/// delete_messages: all-or-nothing; forbidden if any id is someone else's.
struct cmd_delete_messages {
  std::string user;
  std::vector<std::uint64_t> ids;
};

/// delete_account: the account, its sessions, nonces and every message to
/// or from it. The password was verified before proposing.
struct cmd_delete_account {
  std::string user;
};

/// One replicated command.
using command = std::variant<cmd_create_account, cmd_create_session, cmd_drop_session, cmd_send,
                             cmd_mark_read, cmd_delete_messages, cmd_delete_account, cmd_touch_session>;

/// Encodes a command as the JSON text stored in a log entry. Deterministic.
std::string encode_command(const command& c);

/// Decodes encode_command's output; nullopt if malformed (the state machine
/// then records the entry as a rejected no-op, it never crashes on it).
std::optional<command> decode_command(std::string_view data);
/// decode_command by a full JSON parse, for every text. decode_command
/// reads the usual send without one and gives the same command; tests
/// compare the two.
std::optional<command> decode_command_tree(std::string_view data);

/// The op name of a command, for logs and metrics ("send", ...).
const char* command_name(const command& c);

}  // namespace qc::chat
