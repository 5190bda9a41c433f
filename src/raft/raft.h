// The Raft core: one deterministic state machine that decides every safety
// question (term, vote, log acceptance, commit, membership). No I/O, no clock,
// no threads, no exceptions. Modelled on etcd-io/raft: inputs are step(),
// tick_*(), propose*(), read_index(); the output is a `ready` batch.
//
// Owned by: exactly one actor, the consensus actor. Not thread-safe.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <system_error>
#include <vector>

#include "raft/errc.h"
#include "raft/membership.h"
#include "raft/types.h"

namespace qc::raft {

/// Tunables. Times are in ticks of the corresponding timer.
struct config {
  node_id id;
  /// Minimum election timeout in election ticks; each term the core draws
  /// its timeout uniformly from [election_ticks, 2*election_ticks) (§5.2).
  int election_ticks = 10;
  /// Leader sends heartbeats every `heartbeat_ticks` heartbeat ticks.
  int heartbeat_ticks = 1;
  /// Cap on entries and on payload bytes in one append message (batching).
  std::size_t max_entries_per_msg = 512;
  std::size_t max_bytes_per_msg = 1 << 20;
  /// Cap on append messages in flight per follower (pipelining).
  std::size_t max_inflight = 64;
  /// Pre-vote (dissertation §9.6): a rejoining node cannot depose a leader.
  bool pre_vote = true;
  /// Check-quorum (dissertation §6.2): a leader that has not heard from a
  /// voter majority within an election timeout steps down.
  bool check_quorum = true;
  /// Election backoff (our addition to §5.2): each campaign that starts
  /// before a leader was heard from since the previous one doubles the
  /// timeout range, up to [2^max * election_ticks, 2^(max+1) * ...); hearing
  /// from a leader or winning resets it. Without it an election whose round
  /// trip (two fsyncs of the vote, then the network) outlasts
  /// 2*election_ticks never completes: every candidate times out and starts
  /// a newer term first (measured: 3 nodes with 300 ms fsyncs and the 300 ms
  /// default timeout had no leader after 20 s, term 160+). Only timing
  /// changes. 0 turns it off.
  int max_election_backoff = 4;
  /// Seed of the core's private PRNG (randomized timeouts). Injected so a
  /// simulation replays exactly.
  std::uint64_t seed = 1;
  /// Runs check_invariants() after every input and advance() (LogCabin's
  /// checkInvariants): a broken invariant aborts with a message. Costs a
  /// scan of the uncommitted log suffix per call; simulations and tests
  /// turn it on.
  bool check_invariants = false;
  /// TEST ONLY, never set by the node: each flag reverts one safety rule so
  /// tests can prove that the simulation or a rules test catches its absence.
  struct planted_bugs {
    /// Breaks §5.4.2: a leader commits an entry of an earlier term by
    /// counting its replicas (the Raft paper's Figure 8).
    bool commit_by_counting = false;
    /// A batch that changes term or vote still hands out the leader's
    /// messages early, before that term is durable (types.h `ready`).
    bool early_messages_before_durable = false;
    /// Heartbeat acks confirm the first pending read with the requester's
    /// context instead of the leader's own round id, and duplicate contexts
    /// are accepted (diss. §6.4 needs the ack to postdate the request).
    bool read_acks_by_context = false;
    /// A request that arrives while a read round is out joins that round,
    /// whose heartbeats left before it arrived (diss. §6.4, as above).
    bool read_joins_sent_round = false;
    /// A leader answers reads at once whenever one vote is a quorum, even
    /// when it is not that voter, and skips check-quorum once it is no
    /// longer a member (diss. §4.2.2, §6.2).
    bool removed_leader_serves = false;
    /// A leader answers a follower's read_index request at once, counting
    /// the request as a quorum whatever the cluster's size (diss. §6.4: it
    /// is one voter's acknowledgement, not a majority's).
    bool requester_vouches_alone = false;
    /// A follower that already holds a snapshot's last entry acknowledges
    /// its whole log instead of its commit index (the suffix may conflict).
    bool snapshot_ack_last_index = false;
    /// A learner never campaigns, as etcd's raft has it: a learner whose
    /// promotion a newer leader's entry overwrote in its log, while the
    /// promotion stays in other logs, can hold the one entry every voter
    /// needs, and then nobody can be elected (diss. §4.2.2).
    bool learners_never_campaign = false;
  };
  planted_bugs testing_bugs;
};

/// What the core is restarted from: exactly what was persisted.
struct initial_state {
  hard_state hard;
  /// The last snapshot; the log starts at snapshot.index + 1. A founding
  /// node that has never snapshotted uses index 0, term 0 and the founding
  /// members as `config`; a node that waits to be added uses an empty config.
  snapshot_meta snapshot;
  std::vector<entry> entries;  ///< persisted log after the snapshot, contiguous
  std::uint64_t applied = 0;   ///< state machine's applied index (>= snapshot.index)
};

/// Result of a proposal: on success, where the entry landed. The entry is
/// committed once applied with the same (index, term); a different term at
/// that index means the proposal was lost and may be retried.
struct proposal {
  std::error_code ec;
  std::uint64_t index = 0;
  std::uint64_t term = 0;
  node_id leader;  ///< on not_leader: the known leader, empty if unknown
};

/// Replication state of one peer, as seen by the leader (etcd's Progress).
enum class progress_state : std::uint8_t { probe, replicate, snapshot };

/// Human-readable name of a progress_state.
const char* to_string(progress_state s);

/// A leader's view of one member.
struct peer_progress {
  node_id id;
  bool voter = true;
  std::uint64_t match = 0;
  std::uint64_t next = 0;
  progress_state state = progress_state::probe;
  bool recent_active = false;  ///< heard from within the current election timeout

  friend bool operator==(const peer_progress&, const peer_progress&) = default;
};

/// The Raft state machine. All methods are noexcept by design: the core
/// never throws; a broken internal invariant aborts with a message.
class raft_node {
 public:
  /// Builds a core from persisted state. An inconsistent initial_state (gap
  /// in entries, commit beyond the log, ...) aborts with a message: the node
  /// must validate its data directory before calling this.
  raft_node(const config& cfg, initial_state st);
  ~raft_node();
  raft_node(const raft_node&) = delete;
  raft_node& operator=(const raft_node&) = delete;

  // ---- inputs -----------------------------------------------------------

  /// One election-timer tick: followers/candidates campaign on timeout; a
  /// leader runs check-quorum and expires a stalled leadership transfer.
  void tick_election() noexcept;
  /// One heartbeat-timer tick: a leader broadcasts heartbeats every
  /// config.heartbeat_ticks ticks. No-op on other roles.
  void tick_heartbeat() noexcept;
  /// tick_election() then tick_heartbeat(); convenient for simulations.
  void tick() noexcept;

  /// Feeds a message from a peer. Stale or foreign messages are ignored with
  /// an error code; they never change state in an unsafe way.
  std::error_code step(const message& m) noexcept;

  /// Leader only: appends a normal entry. On a follower returns not_leader
  /// and the known leader, so the node can forward.
  proposal propose(std::string data) noexcept;

  /// Leader only: appends a conf_change entry. One change at a time, and only
  /// after the leader committed an entry of its own term (dissertation §4.1).
  proposal propose_conf_change(const conf_change& cc) noexcept;

  /// Requests a linearizable read point (dissertation §6.4). On the leader
  /// (after its no-op commits) a heartbeat round confirms leadership; on a
  /// follower the request goes to the leader. The answer arrives as a
  /// read_state with the same context in a later ready. A leader that is the
  /// only voter answers at once, and so does a leader asked by a voter that
  /// with it makes a quorum (three voters): the request is that voter's
  /// acknowledgement. Returns not_leader if no leader is known,
  /// duplicate_read if a read with this context is still pending. Contexts
  /// must be unique across nodes and process lifetimes: a late answer to an
  /// earlier request with the same context would be taken for this one.
  std::error_code read_index(std::string context) noexcept;

  /// Leader only: transfers leadership to voter `to` (dissertation §3.10):
  /// stops accepting proposals, catches `to` up, then sends timeout_now.
  std::error_code transfer_leadership(const node_id& to) noexcept;

  /// The application has durably snapshotted its state machine at `index`
  /// (<= applied) and stored the bytes under `handle`. The core drops its
  /// log up to `index` and offers this snapshot to followers that lag behind.
  std::error_code compact(std::uint64_t index, std::string handle) noexcept;

  /// Campaign immediately (used for a single-node bootstrap and tests).
  /// already_leader on a leader (nothing changes); not_voter on a node that
  /// cannot be elected (a learner, or no longer a member).
  std::error_code campaign() noexcept;

  /// The transport could not deliver to `id`: probe it again later.
  void report_unreachable(const node_id& id) noexcept;
  /// The transport's link to `id` closed (typically: its process died and
  /// the kernel reset the connection). A leader probes `id` again, like
  /// report_unreachable. A follower whose leader is `id` stops honouring that
  /// leader's lease (the rule of dissertation §4.2.3 that ignores votes
  /// within the minimum election timeout): its election timer is advanced to
  /// the minimum timeout, so it campaigns after the random remainder of its
  /// timeout, [0, election_ticks), instead of a whole one. Only timing
  /// changes: no read relies on a lease, and a live leader's next heartbeat
  /// resets the timer as usual.
  void report_link_down(const node_id& id) noexcept;
  /// The snapshot stream to `id` finished (`ok`) or failed.
  void report_snapshot(const node_id& id, bool ok) noexcept;

  // ---- output -----------------------------------------------------------

  /// True when get_ready() would return something.
  bool has_ready() const noexcept;
  /// Takes the next batch. Call advance() with it before the next call.
  ready get_ready() noexcept;
  /// While a batch from get_ready() is still being persisted: the leader's
  /// appends/heartbeats, and any node's heartbeat answers, that may go out
  /// at once (types.h contract step 1, dissertation §10.2.1), including
  /// appends of proposals made since that batch. Owned by the consensus
  /// actor like every other call here.
  std::vector<message> take_early_messages() noexcept;
  /// The shell finished the batch per the contract in types.h: entries and
  /// hard state are durable, messages sent, committed entries applied.
  void advance(const ready& rd) noexcept;

  // ---- observers --------------------------------------------------------

  const node_id& id() const;
  role state() const;
  /// The current randomized election timeout, in election ticks (grows with
  /// the election backoff; for tests and /status).
  int election_timeout() const;
  const node_id& leader() const;  ///< empty if unknown
  std::uint64_t term() const;
  const node_id& vote() const;
  std::uint64_t commit_index() const;
  std::uint64_t applied_index() const;
  std::uint64_t first_index() const;  ///< first entry still in the log
  std::uint64_t last_index() const;
  std::uint64_t snapshot_index() const;
  /// Term of the entry at `index`; nullopt if compacted or beyond the log.
  std::optional<std::uint64_t> term_at(std::uint64_t index) const;
  /// Entry at `index`; nullopt if compacted or beyond the log.
  std::optional<entry> entry_at(std::uint64_t index) const;
  /// The configuration in force: the latest in the log, committed or not.
  const membership& config() const;
  /// True if this node is a learner (member but not a voter).
  bool is_learner() const;
  /// True while an uncommitted conf_change is in the log.
  bool conf_change_pending() const;
  /// Leader only: replication progress of every member (self included).
  std::vector<peer_progress> progress() const;
  /// progress() into `out`, reusing its elements' memory.
  void progress_into(std::vector<peer_progress>& out) const;
  /// The current snapshot's metadata (index 0 if none).
  const snapshot_meta& snapshot() const;

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace qc::raft
