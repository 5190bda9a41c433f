// Plain data types of the Raft core. No I/O, no clock, no exceptions.
//
// Owned by: whoever holds them. The core (raft_node) is owned by exactly one
// actor, the consensus actor; these values cross actor boundaries by copy
// (an entry's bytes by a shared, immutable buffer: see `payload`).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace qc::raft {

/// A node's stable identity ("n1"). Unique for the life of the node.
using node_id = std::string;

/// Kind of a log entry.
enum class entry_type : std::uint8_t {
  normal = 0,       ///< application command (opaque `data`); empty data = leader no-op
  conf_change = 1,  ///< `data` is an encoded conf_change_entry (see membership.h)
};

/// The bytes of a log entry, fixed once made. Copies share one buffer:
/// an entry travels from the core's log to the storage actor, to each
/// follower's append and to the apply actor, and each copy of its bytes
/// was an allocation and a copy (on a follower, a tenth of the event
/// loop's instructions per entry). The buffer is never written after it
/// is made, so sharing it across threads shares no mutable state.
class payload {
 public:
  payload() = default;
  payload(std::string bytes)  // NOLINT: implicit, an entry is built from its bytes
      : bytes_(bytes.empty() ? nullptr : std::make_shared<const std::string>(std::move(bytes))) {}
  payload(const char* bytes) : payload(std::string(bytes)) {}  // NOLINT: implicit, as above

  /// The bytes (an empty string for none).
  const std::string& str() const noexcept { return bytes_ ? *bytes_ : empty_; }
  operator const std::string&() const noexcept { return str(); }  // NOLINT: reads as the bytes
  operator std::string_view() const noexcept { return str(); }    // NOLINT: likewise
  std::size_t size() const noexcept { return str().size(); }
  bool empty() const noexcept { return !bytes_; }
  const char* data() const noexcept { return str().data(); }

  friend bool operator==(const payload& a, const payload& b) noexcept { return a.str() == b.str(); }
  friend bool operator==(const payload& a, std::string_view b) noexcept { return a.str() == b; }
  friend bool operator==(const payload& a, const std::string& b) noexcept { return a.str() == b; }
  friend bool operator==(const payload& a, const char* b) noexcept { return a.str() == b; }

 private:
  inline static const std::string empty_;
  std::shared_ptr<const std::string> bytes_;
};

/// One log entry (Raft paper §5.3). `index` and `term` are fixed once appended.
struct entry {
  std::uint64_t term = 0;
  std::uint64_t index = 0;
  entry_type type = entry_type::normal;
  payload data;

  friend bool operator==(const entry&, const entry&) = default;
};

/// One member of the cluster configuration.
struct member {
  node_id id;
  std::string address;  ///< what peers dial, "host:port"
  bool voter = true;    ///< false = learner: receives the log, never votes, never counted

  friend bool operator==(const member&, const member&) = default;
};

/// A cluster configuration: the set of members, sorted by id.
struct membership {
  std::vector<member> members;

  friend bool operator==(const membership&, const membership&) = default;
};

/// State that must be durable before any message that depends on it is sent
/// (Raft paper Figure 2, "Persistent state on all servers"; commit is kept
/// too so a restart does not have to rediscover it).
struct hard_state {
  std::uint64_t term = 0;
  node_id vote;  ///< empty = voted for nobody in `term`
  std::uint64_t commit = 0;

  friend bool operator==(const hard_state&, const hard_state&) = default;
};

/// Metadata of a snapshot (Raft paper §7). The bytes are the node's job: the
/// core only carries this and an opaque `handle` the node understands.
struct snapshot_meta {
  std::uint64_t index = 0;  ///< last log index the snapshot covers
  std::uint64_t term = 0;   ///< term of that entry
  membership config;        ///< configuration in force at `index`
  std::string handle;       ///< opaque to the core (e.g. a file name)

  friend bool operator==(const snapshot_meta&, const snapshot_meta&) = default;
};

/// Message types. Local ones (never sent on the wire) are marked.
enum class msg_type : std::uint8_t {
  append = 0,            ///< AppendEntries (§5.3); also carries heartbeats' role when entries empty
  append_resp = 1,
  vote = 2,              ///< RequestVote (§5.2)
  vote_resp = 3,
  pre_vote = 4,          ///< Pre-vote (dissertation §9.6)
  pre_vote_resp = 5,
  heartbeat = 6,         ///< leader liveness + commit + ReadIndex context (dissertation §6.4)
  heartbeat_resp = 7,
  snapshot = 8,          ///< InstallSnapshot (§7); `snapshot` set
  timeout_now = 9,       ///< leadership transfer (dissertation §3.10)
  read_index = 10,       ///< follower asks the leader for a read index (dissertation §6.4)
  read_index_resp = 11,
};

/// Human-readable name, for logs and traces.
const char* to_string(msg_type t);

/// A message between cores. Field use follows etcd/raft's raftpb.Message.
struct message {
  msg_type type = msg_type::append;
  node_id from;
  node_id to;
  std::uint64_t term = 0;      ///< sender's term (0 never sent on the wire)
  std::uint64_t log_term = 0;  ///< append: term of entry at `index`; vote: last log term
  std::uint64_t index = 0;     ///< append: prev index; append_resp: last matched index
                               ///< (or rejected index); vote: last log index;
                               ///< read_index_resp: the read index
  std::vector<entry> entries;
  std::uint64_t commit = 0;
  bool reject = false;
  std::uint64_t reject_hint = 0;  ///< append_resp on reject: follower's last index hint
  std::uint64_t hint_term = 0;    ///< append_resp on reject: term at reject_hint
  std::optional<snapshot_meta> snapshot;
  std::string context;  ///< ReadIndex context / transfer flag, opaque to the network

  friend bool operator==(const message&, const message&) = default;
};

/// The role a core is in. The node reports two more roles derived from the
/// configuration: `learner` for a follower that is a non-voting member, and
/// `removed` for a node that is no longer a member at all.
enum class role : std::uint8_t { follower, candidate, pre_candidate, leader };

/// Human-readable name, for logs, status and metrics.
const char* to_string(role r);

/// Volatile state the node may want to observe (leader changes, role changes).
struct soft_state {
  node_id leader;  ///< empty = unknown
  role state = role::follower;

  friend bool operator==(const soft_state&, const soft_state&) = default;
};

/// A completed ReadIndex request: once the state machine has applied
/// `index`, a read for `context` is linearizable (dissertation §6.4).
struct read_state {
  std::uint64_t index = 0;
  std::string context;

  friend bool operator==(const read_state&, const read_state&) = default;
};

/// The batch of work the core hands to its shell (etcd's Ready).
///
/// The persistence contract, in order:
///   1. `early_messages` may be sent at once, before anything is persisted.
///      They are a leader's appends, heartbeats and snapshots whose term and
///      vote are already durable: the leader writes its log in parallel with
///      replication (dissertation §10.2.1) and counts itself toward commit
///      only after advance(). And any node's heartbeat answers: they promise
///      nothing about the log (only that the sender, in a term already
///      durable, follows that leader), so a follower whose fsync stalls still
///      answers its leader's heartbeats and check-quorum keeps counting it.
///      Safety rests on that durability: a leader that
///      crashed before its new term reached the disk could win the same term
///      again and send a different entry at the same index. So whenever a
///      batch changes term or vote, the core moves that batch's early
///      output into `messages` instead, and take_early_messages() hands out
///      nothing until advance() (etcd's rule: no message leaves before the
///      hard state it depends on is durable).
///   2. If must_persist(): `hard_state` (if set), `snapshot` (if set;
///      install it first) and `entries` (if any; an entry at index i
///      replaces every stored entry at index >= i) must be durable
///      (fsynced) together, atomically. A ready that only moves the commit
///      index needs nothing durable.
///   3. Only then may `messages` be sent (votes, vote and append responses,
///      a candidate's vote requests: they promise what was just persisted).
///   4. `committed` entries may be applied in order (they are all durable
///      locally already); `read_states` are released to waiting readers.
///   5. Call advance(ready) exactly once, after the above.
struct ready {
  std::optional<soft_state> soft;  ///< set when leader or role changed
  std::optional<hard_state> hard;  ///< set when term, vote or commit changed
  /// True when `hard` changes term or vote. A hard state that only moves
  /// the commit index need not be made durable on its own (etcd's
  /// MustSync): the commit index is volatile state (Raft §5.3, Figure 2),
  /// learned again from the leader after a restart, and nothing sent or
  /// applied depends on it being on disk. It goes to disk with the next
  /// batch that must sync anyway.
  bool hard_must_sync = false;
  std::optional<snapshot_meta> snapshot;  ///< a received snapshot to install
  std::vector<entry> entries;             ///< to append to stable storage
  std::vector<message> early_messages;
  std::vector<message> messages;
  std::vector<entry> committed;
  std::vector<read_state> read_states;

  /// True when stage 2 has anything that must be durable before stage 3.
  bool must_persist() const { return hard_must_sync || snapshot.has_value() || !entries.empty(); }
};

}  // namespace qc::raft
