// The history of a fault run: every client call with its invocation and
// completion time (steady clock, ns since the run started), what it asked
// and what came back, plus the final state read after the faults healed.
// The checker (checker.h) judges it; the runner records it.
//
// Owned by: each client thread fills its own records; the runner merges
// them after the clients stop. Plain data, no synchronisation.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace qc::faults {

/// The client calls the workload makes.
enum class op_kind : std::uint8_t { send, read, mark_read, del };

/// ok: the node said ok; fail: the node said the call had no effect
/// (not_found, forbidden, bad_request, ...); unknown: timeout, lost
/// connection, or `unavailable`/`internal` (it may or may not have happened).
enum class outcome : std::uint8_t { ok, fail, unknown };

/// A message as a client saw it.
struct message {
  std::uint64_t id = 0;
  std::string from, to, body;
  bool read = false;
  bool operator==(const message&) const = default;
};

/// FNV-1a over sender, recipient and body: a message's content in 8 bytes
/// (reads of a long run hold tens of millions of entries).
inline std::uint64_t content_hash(const std::string& from, const std::string& to, const std::string& body) {
  std::uint64_t h = 1469598103934665603ull;
  auto mix = [&](const std::string& s) {
    for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
    h = (h ^ 0xffu) * 1099511628211ull;  // separator: ("ab","c") != ("a","bc")
  };
  mix(from);
  mix(to);
  mix(body);
  return h;
}

/// A message inside a read, compactly: its id, content hash and read flag.
struct read_entry {
  std::uint64_t id = 0;
  std::uint64_t content = 0;  ///< content_hash(from, to, body)
  bool read = false;
};

/// The compact form of a message.
inline read_entry entry_of(const message& m) { return {m.id, content_hash(m.from, m.to, m.body), m.read}; }

/// One call.
struct op_record {
  int process = 0;           ///< client index
  op_kind kind = op_kind::send;
  std::int64_t invoke_ns = 0, complete_ns = 0;
  outcome result = outcome::unknown;
  std::string node;          ///< address the call went to
  std::string user;          ///< the client's user
  std::string peer;          ///< send: `to`; read: `with`
  std::string body;          ///< send: body (unique per logical send; retries reuse it)
  std::string nonce;         ///< send
  std::uint64_t msg_id = 0;  ///< send ok: id of the message
  std::vector<read_entry> messages;  ///< read ok: the conversation, oldest first
  bool read_full = false;         ///< read ok: returned `limit` messages (older ones were cut)
  bool local = false;             ///< read with "consistency":"local" (may be stale, never invented)
  std::vector<std::uint64_t> ids;  ///< mark_read / delete: ids asked for
  std::string error;               ///< error code or transport error
};

/// Conversation key: the two users, sorted.
inline std::pair<std::string, std::string> conv_key(const std::string& a, const std::string& b) {
  return a < b ? std::make_pair(a, b) : std::make_pair(b, a);
}

/// What the cluster held at the end, after every fault was healed.
struct final_state {
  /// Every conversation, oldest first, read linearizably from one node.
  std::map<std::pair<std::string, std::string>, std::vector<message>> conversations;
  /// Per member: (admin.digest, applied_index), read after convergence.
  std::map<std::string, std::pair<std::string, std::uint64_t>> digests;
  /// Members that could not be read at all (each one is a violation).
  std::vector<std::string> unreachable;
};

}  // namespace qc::faults
