// Decoding and validation of client frames (docs/PROTOCOL.md), and encoding
// of replies. Every malformed input becomes a request_error with the
// protocol's error code; nothing here throws to the caller.
//
// Owned by: pure functions; called by the gateway actor on the loop thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include <boost/json/value.hpp>

namespace qc::chat {

/// The client and admin ops of docs/PROTOCOL.md.
enum class op : std::uint8_t {
  hello,
  create_account,
  login,
  resume,
  logout,
  list_accounts,
  send,
  history,
  unread,
  mark_read,
  delete_messages,
  conversations,
  delete_account,
  status,
  admin_add_node,
  admin_remove_node,
  admin_transfer_leader,
  admin_digest,  ///< our addition: state digest of this replica (tests, demo)
  admin_net_filter,  ///< our addition, [testing] only: peer frames to drop (tests/faults)
  admin_pause,       ///< our addition, [testing] only: drop all peer frames for a while (cluster view)
  admin_disk_stall,  ///< our addition, [testing] only: slow this node's Raft log writes (tests)
};

/// Wire name of an op ("admin.add_node", ...).
const char* to_string(op o);

/// True for ops that change replicated state (go through the log).
bool is_write(op o);
/// True for ops that need a logged-in connection.
bool needs_login(op o);

/// Read consistency (docs/PROTOCOL.md, "Reads").
enum class consistency : std::uint8_t { linearizable, local };

/// Size limits applied while decoding.
struct request_limits {
  std::size_t max_body_bytes = 4 * 1024;  ///< `body` of send, in bytes
};

/// A decoded, validated request. Only the fields of its op are meaningful.
struct request {
  boost::json::value id;  ///< echoed verbatim; null when absent
  bool has_id = false;
  op kind = op::hello;
  consistency cons = consistency::linearizable;
  std::string user;        ///< create_account, login
  std::string password;    ///< create_account, login, delete_account
  std::string token;       ///< resume
  std::string to;          ///< send
  std::string body;        ///< send
  std::optional<std::string> nonce;  ///< send, <= 64 chars
  std::optional<std::string> with;   ///< history (required), mark_read (alternative to ids)
  std::string pattern = "*";         ///< list_accounts: only [A-Za-z0-9_.-*?]
  std::optional<std::string> after;  ///< list_accounts
  std::size_t limit = 50;            ///< list_accounts/history/unread: 1..1000
  std::optional<std::uint64_t> before;  ///< history
  std::vector<std::uint64_t> ids;       ///< mark_read, delete_messages
  std::string admin_token;              ///< admin ops
  std::string node_id;                  ///< admin.add_node/remove_node/transfer_leader(`to`)
  std::string address;                  ///< admin.add_node
  std::vector<std::string> drop_from;   ///< admin.net_filter: peer ids whose frames this node drops
  std::uint64_t pause_ms = 0;           ///< admin.pause: `seconds` (0..600) in milliseconds
  std::uint64_t delay_ms = 0;           ///< admin.disk_stall: added to every log write (0 = none)
};

/// A frame that could not be decoded into a request.
struct request_error {
  boost::json::value id;  ///< echoed when the frame had one
  bool has_id = false;
  std::string code;       ///< bad_request | unknown_op | too_large
  std::string message;
};

/// Parses and validates one text frame.
std::variant<request, request_error> decode_request(std::string_view frame,
                                                    const request_limits& limits);

/// True if `user` is a valid account name: 1-32 chars of [A-Za-z0-9_.-].
bool valid_user_name(std::string_view user);

/// {"id":<id>,"ok":true,<fields of result_object_json>}. `result_object_json`
/// is a JSON object text such as {"user":"bob"} (or "{}").
std::string reply_ok(const boost::json::value& id, bool has_id, std::string_view result_object_json);

/// The opening of an ok reply, `{"id":<id>,"ok":true` (no id member without
/// one): a reader that writes its result straight after it, each member
/// after a comma, then `}`, builds the whole reply in one string where the
/// query runs (the apply thread), and the loop sends it as it comes.
std::string reply_ok_head(const boost::json::value& id, bool has_id);

/// `head` (from reply_ok_head) with the fields of `result_object_json` and
/// the closing brace.
std::string reply_ok(std::string head, std::string_view result_object_json);

/// {"id":<id>,"ok":false,"error":{"code":code,"message":message}}.
std::string reply_error(const boost::json::value& id, bool has_id, std::string_view code,
                        std::string_view message);

}  // namespace qc::chat
