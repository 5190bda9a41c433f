// The Raft core. Structure follows etcd-io/raft: become_* change role,
// step_* handle a message in a role, maybe_* apply a rule if it holds.
// Section numbers refer to the Raft paper (Ongaro & Ousterhout 2014) and to
// Ongaro's dissertation ("diss.").
#include "raft/raft.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <map>
#include <set>

#include "common/splitmix64.h"

namespace qc::raft {

namespace {

[[noreturn]] void invariant_failed(const char* what, std::uint64_t a, std::uint64_t b) {
  std::fprintf(stderr, "raft invariant broken: %s (%llu, %llu)\n", what, static_cast<unsigned long long>(a),
               static_cast<unsigned long long>(b));
  std::abort();
}

constexpr const char* transfer_ctx = "transfer";

/// Why a node campaigns (§5.2, diss. §9.6 pre-vote, §3.10 transfer).
enum class campaign_kind : std::uint8_t {
  pre_vote,  ///< an election timeout: a pre-vote round first when enabled
  election,  ///< the real vote, after a won pre-vote round
  transfer,  ///< the leader asked us to take over (timeout_now): no pre-vote, ignore leases
};

bool is_leader_output(msg_type t) {
  return t == msg_type::append || t == msg_type::heartbeat || t == msg_type::snapshot ||
         t == msg_type::timeout_now || t == msg_type::read_index_resp;
}

/// May `t`, sent by a node in role `r`, leave before the batch being
/// persisted (types.h `ready`, step 1)? A leader's output, and any node's
/// answer to a heartbeat: it promises nothing about the log, only that the
/// sender, in its current term, still follows that leader — and the core
/// hands out early messages only while term and vote are durable. Without
/// the latter, a follower whose log fsync stalls (a disk shared with a
/// snapshot being written) answers no heartbeat until it returns, and the
/// leader's check-quorum steps down after one election timeout of that.
bool leaves_early(role r, msg_type t) {
  return (r == role::leader && is_leader_output(t)) || t == msg_type::heartbeat_resp;
}

}  // namespace

const char* to_string(msg_type t) {
  switch (t) {
    case msg_type::append: return "append";
    case msg_type::append_resp: return "append_resp";
    case msg_type::vote: return "vote";
    case msg_type::vote_resp: return "vote_resp";
    case msg_type::pre_vote: return "pre_vote";
    case msg_type::pre_vote_resp: return "pre_vote_resp";
    case msg_type::heartbeat: return "heartbeat";
    case msg_type::heartbeat_resp: return "heartbeat_resp";
    case msg_type::snapshot: return "snapshot";
    case msg_type::timeout_now: return "timeout_now";
    case msg_type::read_index: return "read_index";
    case msg_type::read_index_resp: return "read_index_resp";
  }
  return "?";
}

const char* to_string(role r) {
  switch (r) {
    case role::follower: return "follower";
    case role::candidate: return "candidate";
    case role::pre_candidate: return "pre_candidate";
    case role::leader: return "leader";
  }
  return "?";
}

const char* to_string(progress_state s) {
  switch (s) {
    case progress_state::probe: return "probe";
    case progress_state::replicate: return "replicate";
    case progress_state::snapshot: return "snapshot";
  }
  return "?";
}

/// Leader-side replication state of one follower (etcd's Progress).
struct follower_progress {
  std::uint64_t match = 0;
  std::uint64_t next = 1;
  progress_state state = progress_state::probe;
  bool probe_sent = false;                ///< probe: one append in flight, wait for its answer
  std::deque<std::uint64_t> inflight;     ///< replicate: last index of each append in flight
  std::uint64_t pending_snapshot = 0;
  bool recent_active = false;

  void become_probe() {
    if (state == progress_state::snapshot) next = std::max(match + 1, pending_snapshot + 1);
    else next = match + 1;
    state = progress_state::probe;
    probe_sent = false;
    inflight.clear();
    pending_snapshot = 0;
  }
  void become_replicate() {
    state = progress_state::replicate;
    next = match + 1;
    inflight.clear();
    probe_sent = false;
  }
  bool maybe_update(std::uint64_t n) {
    bool updated = false;
    if (match < n) {
      match = n;
      updated = true;
      probe_sent = false;
    }
    next = std::max(next, n + 1);
    return updated;
  }
  /// An append was rejected at `rejected`; `hint` is the last index that
  /// may match. False if the rejection is stale.
  bool maybe_decr_to(std::uint64_t rejected, std::uint64_t hint) {
    if (state == progress_state::replicate) {
      if (rejected <= match) return false;
      next = match + 1;
      return true;
    }
    if (next == 0 || next - 1 != rejected) return false;
    next = std::max(std::min(rejected, hint + 1), match + 1);
    probe_sent = false;
    return true;
  }
  bool paused(std::size_t max_inflight) const {
    switch (state) {
      case progress_state::probe: return probe_sent;
      case progress_state::replicate: return inflight.size() >= max_inflight;
      case progress_state::snapshot: return true;
    }
    return true;
  }
};

/// A ReadIndex request being confirmed by a heartbeat round (diss. §6.4).
struct read_request {
  std::string ctx;        ///< the requester's context, echoed in its answer
  std::uint64_t index = 0;
  node_id from;           ///< empty = this node
  std::set<node_id> acks;
  /// The heartbeat context of this request's round, chosen by the leader
  /// (unique within its term): only acks to heartbeats sent after the
  /// request arrived may confirm it, whatever contexts requesters pick.
  std::string round;
  std::uint64_t seq = 0;  ///< the round's number: rounds are confirmed in order
};

struct raft_node::impl {
  qc::raft::config cfg;
  common::splitmix64 rng;

  // Persistent state (mirrors what the shell persisted or will persist).
  // Invariant: term >= the term of every entry in the log.
  std::uint64_t term = 0;
  node_id vote;
  // Invariant: snap.index <= applied <= commit <= last_index() (the first
  // once a received snapshot is installed).
  std::uint64_t commit = 0;

  // The log: snapshot, then entries snapshot.index+1 .. last.
  snapshot_meta snap;
  std::vector<entry> log;
  std::uint64_t stable = 0;   ///< last index known durable
  std::uint64_t applied = 0;  ///< last index handed out as committed and advanced
  std::optional<snapshot_meta> pending_snap;  ///< received, not yet handed to the shell

  // Volatile.
  role state = role::follower;
  node_id leader;
  int election_elapsed = 0;
  int heartbeat_elapsed = 0;
  int randomized_timeout = 0;
  int election_backoff = 0;       ///< doublings of the timeout range (config::max_election_backoff)
  bool campaigned_unheard = false;  ///< campaigned since a leader was last heard from
  std::map<node_id, bool> votes;
  std::map<node_id, follower_progress> prs;
  std::vector<std::uint64_t> matches_scratch;  ///< maybe_commit's working space
  /// Invariant: the configuration in force is the latest conf_change entry
  /// in the log, or the snapshot's configuration if there is none (diss. §4.1).
  membership conf;
  /// Invariant: exactly the indexes of the conf_change entries in `log`,
  /// ascending (so the latest configuration is found without a log scan).
  std::vector<std::uint64_t> conf_idx;
  std::uint64_t latest_conf_index = 0;  ///< index of the change `conf` comes from (0: the snapshot's)
  bool voter_before_latest = false;     ///< this node was a voter before that change
  /// Invariant: at most one conf_change entry above `commit`; a leader
  /// accepts a new change only once commit >= pending_conf_index.
  std::uint64_t pending_conf_index = 0;
  node_id transferee;
  int transfer_elapsed = 0;
  bool need_bcast = false;

  std::vector<read_request> reads;             ///< leader: rounds in progress, oldest first
  std::vector<read_request> reads_waiting;     ///< leader: before its term's first commit
  std::uint64_t read_round_seq = 0;            ///< leader: last round number handed out
  /// Leader: the last round whose heartbeats went out. A round numbered
  /// above it is still open: later requests join it until it is sent.
  std::uint64_t read_round_sent = 0;
  std::vector<read_state> read_states;

  std::vector<message> early_out, out;
  /// The hard state of the last batch the shell advanced past: what is
  /// durable. Leader output leaves early only while term and vote match it.
  hard_state prev_hard;
  soft_state prev_soft;

  // ---- log helpers ----------------------------------------------------------
  std::uint64_t first_index() const { return snap.index + 1; }
  std::uint64_t last_index() const { return log.empty() ? snap.index : log.back().index; }
  std::uint64_t last_term() const { return log.empty() ? snap.term : log.back().term; }
  std::optional<std::uint64_t> term_at(std::uint64_t i) const {
    if (i == snap.index) return snap.term;
    if (i < snap.index || i > last_index()) return std::nullopt;
    return log[i - first_index()].term;
  }
  const entry& at(std::uint64_t i) const { return log[i - first_index()]; }
  void truncate_from(std::uint64_t i) {
    if (i <= commit) invariant_failed("truncating committed entries", i, commit);
    if (i < first_index()) invariant_failed("truncating into the snapshot", i, snap.index);
    log.erase(log.begin() + static_cast<std::ptrdiff_t>(i - first_index()), log.end());
    std::erase_if(conf_idx, [&](std::uint64_t c) { return c >= i; });
    stable = std::min(stable, i - 1);
    retract_acks(i);
  }
  /// Drops queued (unsent) append acks that claim index >= `from`: the
  /// entries they promise were just removed, and acks go out only after the
  /// next fsync, which will not contain them. (Found by the simulation,
  /// seed 1551: a stale leader could have counted a follower's ack for an
  /// entry that follower no longer held.)
  void retract_acks(std::uint64_t from) {
    std::erase_if(out, [&](const message& m) {
      return m.type == msg_type::append_resp && !m.reject && m.index >= from;
    });
  }
  std::uint64_t find_conflict_by_term(std::uint64_t index, std::uint64_t t) const {
    index = std::min(index, last_index());
    while (index > snap.index) {
      auto lt = term_at(index);
      if (!lt || *lt <= t) break;
      --index;
    }
    return index;
  }
  bool up_to_date(std::uint64_t idx, std::uint64_t t) const {
    return t > last_term() || (t == last_term() && idx >= last_index());
  }

  // ---- configuration ----------------------------------------------------------
  /// The configuration in force is the latest one in the log (diss. §4.1).
  void recompute_config() {
    membership c = snap.config;
    std::uint64_t idx = 0;
    std::size_t k = conf_idx.size();
    while (k > 0)
      if (auto ce = decode_conf_entry(at(conf_idx[--k]).data)) {
        c = ce->after;
        idx = conf_idx[k];
        break;
      }
    // While the newest change is uncommitted, the members it removes keep a
    // progress entry (replication only: every count — commit, votes,
    // check-quorum, ReadIndex — uses `conf`), so a removed server receives
    // the entry that removes it and learns it is out (diss. §4.2.2).
    membership before = snap.config;
    if (idx > commit)
      while (k > 0)
        if (auto ce = decode_conf_entry(at(conf_idx[--k]).data)) {
          before = ce->after;
          break;
        }
    voter_before_latest = idx > 0 && is_voter(before, cfg.id);
    latest_conf_index = idx;
    conf = std::move(c);
    pending_conf_index = std::max(idx, std::min(pending_conf_index, last_index()));
    // Keep a progress entry for every member (and, until the change commits,
    // for every member it removes).
    for (auto it = prs.begin(); it != prs.end();) {
      if (find_member(conf, it->first) || (idx > commit && find_member(before, it->first))) {
        ++it;
        continue;
      }
      // The removal committed: tell the removed member so (a last commit
      // index), or, not knowing, it would go on campaigning (promotable()).
      if (state == role::leader && it->first != cfg.id && it->second.match >= idx) tell_removed(it->first, it->second.match);
      it = prs.erase(it);
    }
    for (const auto& m : conf.members)
      if (!prs.count(m.id)) {
        follower_progress p;
        p.next = last_index() + 1;
        prs[m.id] = p;
      }
    if (!transferee.empty() && !is_voter(conf, transferee)) transferee.clear();
  }
  /// A heartbeat that lets a removed member, whose log matches ours up to
  /// `matched`, commit that far: past the change that removed it.
  void tell_removed(const node_id& id, std::uint64_t matched) {
    message m;
    m.type = msg_type::heartbeat;
    m.to = id;
    m.commit = std::min(matched, commit);
    send(std::move(m));
  }

  /// May this node campaign? A voter may. So may a voter that the latest,
  /// still uncommitted, change removes (diss. §4.2.2: "it might still be
  /// needed until the Cnew entry is committed"; typically a leader that
  /// removed itself and then lost its quorum while holding the newest log).
  /// So may a learner, for the same reason: other logs may still hold its
  /// promotion after its own log lost it to a newer leader's entry, and then
  /// no voter can be elected without that entry, which only the learner may
  /// hold. A learner campaigns an election timeout after a voter would
  /// (tick_election) and leads only until an entry of its term commits
  /// (after_commit). Its own vote never counts (votes are counted in `conf`).
  bool promotable() const {
    if (is_voter(conf, cfg.id)) return true;
    if (find_member(conf, cfg.id)) return !cfg.testing_bugs.learners_never_campaign;
    return voter_before_latest && latest_conf_index > commit;
  }
  /// A non-voting member of its own latest configuration (diss. §4.2.1).
  bool is_learner() const { return find_member(conf, cfg.id) && !is_voter(conf, cfg.id); }
  std::size_t quorum() const { return voter_count(conf) / 2 + 1; }

  // ---- sending --------------------------------------------------------------------
  void send(message m) {
    m.from = cfg.id;
    if (m.term == 0) m.term = term;
    if (leaves_early(state, m.type)) early_out.push_back(std::move(m));
    else out.push_back(std::move(m));
  }

  /// Sends an append (or a snapshot) to `to` if its progress allows.
  bool send_append(const node_id& to, bool send_if_empty = true) {
    auto it = prs.find(to);
    if (it == prs.end() || to == cfg.id) return false;
    auto& pr = it->second;
    if (pr.paused(cfg.max_inflight)) return false;
    const std::uint64_t prev = pr.next - 1;
    auto prev_term = term_at(prev);
    if (!prev_term) {
      // §7: the follower needs entries we compacted away.
      message m;
      m.type = msg_type::snapshot;
      m.to = to;
      m.snapshot = snap;
      pr.state = progress_state::snapshot;
      pr.pending_snapshot = snap.index;
      send(std::move(m));
      return true;
    }
    message m;
    m.type = msg_type::append;
    m.to = to;
    m.index = prev;
    m.log_term = *prev_term;
    m.commit = commit;
    std::size_t bytes = 0;
    for (std::uint64_t i = pr.next; i <= last_index() && m.entries.size() < cfg.max_entries_per_msg; ++i) {
      const auto& e = at(i);
      if (!m.entries.empty() && bytes + e.data.size() > cfg.max_bytes_per_msg) break;
      bytes += e.data.size();
      m.entries.push_back(e);
    }
    if (m.entries.empty() && !send_if_empty) return false;
    if (!m.entries.empty()) {
      const auto last = m.entries.back().index;
      if (pr.state == progress_state::replicate) {
        pr.next = last + 1;
        pr.inflight.push_back(last);
      } else {
        pr.probe_sent = true;
      }
    } else if (pr.state == progress_state::probe) {
      pr.probe_sent = true;
    }
    send(std::move(m));
    return true;
  }

  /// Sends every follower what it lacks (at least one message each, which
  /// also carries the commit index); in replicate state keeps sending while
  /// the window allows (pipelining, diss. §10.2.2).
  void bcast_append() {
    for (auto& [id, pr] : prs)
      if (id != cfg.id && send_append(id, true) && pr.state == progress_state::replicate)
        while (send_append(id, false)) {
        }
  }

  void bcast_heartbeat(const std::string& ctx) {
    for (auto& [id, pr] : prs) {
      if (id == cfg.id) continue;
      message m;
      m.type = msg_type::heartbeat;
      m.to = id;
      m.commit = std::min(pr.match, commit);
      m.context = ctx;
      send(std::move(m));
    }
  }

  // ---- role changes ------------------------------------------------------------
  void reset(std::uint64_t t) {
    if (t != term) {
      term = t;
      vote.clear();
    }
    leader.clear();
    election_elapsed = 0;
    heartbeat_elapsed = 0;
    randomize_timeout();
    votes.clear();
    transferee.clear();
    transfer_elapsed = 0;
    need_bcast = false;
    for (auto& [id, pr] : prs) {
      pr = follower_progress{};
      pr.next = last_index() + 1;
      if (id == cfg.id) pr.match = stable;
    }
    reads.clear();
    reads_waiting.clear();
  }

  /// Draws the election timeout from [b, 2b), b = election_ticks doubled
  /// once per backoff step (§5.2 randomization, config::max_election_backoff).
  void randomize_timeout() {
    const int base = cfg.election_ticks << election_backoff;
    randomized_timeout = base + static_cast<int>(rng.next() % static_cast<std::uint64_t>(base));
  }

  /// A leader was heard from (or we lead): elections work, so the timeout
  /// range returns to its base.
  void heard_leader() {
    campaigned_unheard = false;
    if (election_backoff == 0) return;
    election_backoff = 0;
    randomize_timeout();
  }

  void become_follower(std::uint64_t t, const node_id& lead) {
    reset(t);
    state = role::follower;
    leader = lead;
  }

  void become_pre_candidate() {
    // A pre-candidate changes neither term nor vote (diss. §9.6).
    state = role::pre_candidate;
    votes.clear();
    leader.clear();
  }

  void become_candidate() {
    if (state == role::leader) invariant_failed("leader cannot become candidate", term, 0);
    reset(term + 1);
    vote = cfg.id;
    state = role::candidate;
  }

  void become_leader() {
    if (state == role::follower) invariant_failed("follower cannot become leader", term, 0);
    reset(term);
    state = role::leader;
    leader = cfg.id;
    heard_leader();
    for (auto& [id, pr] : prs) {
      pr.next = last_index() + 1;
      pr.recent_active = true;
      if (id == cfg.id) pr.match = stable;
    }
    // §8: a no-op entry of the new term lets the leader commit (and learn
    // the commit index) without waiting for a client.
    pending_conf_index = last_index();
    append_entry(entry{term, last_index() + 1, entry_type::normal, {}});
    need_bcast = true;
  }

  void append_entry(entry e) {
    e.term = term;
    e.index = last_index() + 1;
    const bool conf_entry_appended = e.type == entry_type::conf_change;
    log.push_back(std::move(e));
    if (conf_entry_appended) {
      conf_idx.push_back(last_index());
      pending_conf_index = last_index();
      recompute_config();
    }
  }

  /// Starts an election (§5.2) of the given kind. Never on a leader.
  void campaign(campaign_kind kind) {
    if (!promotable() || state == role::leader) return;
    const bool transfer = kind == campaign_kind::transfer;
    const bool pre = cfg.pre_vote && kind == campaign_kind::pre_vote;
    std::uint64_t vote_term;
    if (pre) {
      become_pre_candidate();
      vote_term = term + 1;
    } else {
      become_candidate();
      vote_term = term;
    }
    votes[cfg.id] = true;
    if (poll_result() == 1) {
      if (pre) campaign(campaign_kind::election);
      else become_leader();
      return;
    }
    for (const auto& m : conf.members) {
      if (m.id == cfg.id || !m.voter) continue;
      message v;
      v.type = pre ? msg_type::pre_vote : msg_type::vote;
      v.to = m.id;
      v.term = vote_term;
      v.index = last_index();
      v.log_term = last_term();
      if (transfer) v.context = transfer_ctx;
      send(std::move(v));  // candidate: goes out after term and vote are durable
    }
  }

  /// 1 won, -1 lost, 0 pending (counting voters only).
  int poll_result() const {
    std::size_t granted = 0, rejected = 0;
    for (const auto& [id, g] : votes) {
      if (!is_voter(conf, id)) continue;
      (g ? granted : rejected)++;
    }
    if (granted >= quorum()) return 1;
    if (rejected >= quorum() || voter_count(conf) - rejected < quorum()) return -1;
    return 0;
  }

  // ---- commit -------------------------------------------------------------------
  void commit_to(std::uint64_t c) {
    if (c <= commit) return;
    if (c > last_index()) invariant_failed("commit beyond the log", c, last_index());
    commit = c;
  }

  /// §5.4.2: only an entry of the current term is committed by counting.
  bool maybe_commit() {
    auto& matches = matches_scratch;  // reused: this runs on every acknowledgement
    matches.clear();
    for (const auto& m : conf.members)
      if (m.voter) {
        auto it = prs.find(m.id);
        matches.push_back(it == prs.end() ? 0 : (m.id == cfg.id ? stable : it->second.match));
      }
    if (matches.empty()) return false;
    std::sort(matches.begin(), matches.end(), std::greater<>());
    const std::uint64_t idx = matches[quorum() - 1];
    if (idx <= commit || (term_at(idx) != term && !cfg.testing_bugs.commit_by_counting)) return false;
    commit_to(idx);
    after_commit();
    return true;
  }

  void after_commit() {
    if (state != role::leader) return;
    // A committed removal: stop replicating to the removed members.
    if (prs.size() != conf.members.size() && commit >= pending_conf_index) recompute_config();
    // Reads that waited for this term's first commit can start now.
    if (term_at(commit) == term && !reads_waiting.empty()) {
      auto waiting = std::move(reads_waiting);
      reads_waiting.clear();
      for (auto& r : waiting) start_read(std::move(r.ctx), r.from);  // contexts were checked on arrival
    }
    // A leader removed from the configuration leads until the removal
    // commits, then steps down (diss. §4.2.2).
    if (!find_member(conf, cfg.id) && commit >= pending_conf_index) hand_over();
    // A learner leads until an entry of its term commits (promotable()): a
    // majority of the voters then holds its log, and one of them can win.
    else if (is_learner() && term_at(commit) == term) hand_over();
  }

  /// Steps down from a leadership this node may not keep (a removed member
  /// or a learner), first asking a voter whose log matches its own to
  /// campaign at once (timeout_now, diss. §3.10). Without it the voters
  /// would wait out the lease and an election timeout. If none matches, or
  /// the message is lost, those timeouts elect a voter as before.
  void hand_over() {
    for (const auto& [id, pr] : prs) {
      if (id != cfg.id && is_voter(conf, id) && pr.match == last_index()) {
        send_timeout_now(id);
        break;
      }
    }
    become_follower(term, "");
  }

  // ---- reads (diss. §6.4) ---------------------------------------------------------
  /// True if a read with context `ctx` is pending here (waiting or in a round).
  bool read_pending(const std::string& ctx) const {
    auto same = [&](const read_request& r) { return r.ctx == ctx; };
    return std::any_of(reads.begin(), reads.end(), same) ||
           std::any_of(reads_waiting.begin(), reads_waiting.end(), same);
  }

  /// Voters among `acks` (learners and removed members never count).
  std::size_t voter_acks(const std::set<node_id>& acks) const {
    std::size_t n = 0;
    for (const auto& a : acks) n += is_voter(conf, a) ? 1 : 0;
    return n;
  }

  std::error_code start_read(std::string ctx, const node_id& from) {
    const bool by_context = cfg.testing_bugs.read_acks_by_context;
    if (!by_context && read_pending(ctx)) return errc::duplicate_read;
    if (term_at(commit) != term) {
      reads_waiting.push_back({std::move(ctx), 0, from, {}, {}});
      return {};
    }
    read_request r{ctx, commit, from, {}, {}};
    // The leader's own ack counts only while it is a voter: a leader that
    // removed itself must hear from a quorum of the members it leads.
    if (is_voter(conf, cfg.id)) r.acks.insert(cfg.id);
    const bool one_vote_quorum = cfg.testing_bugs.removed_leader_serves && quorum() <= 1;
    if (one_vote_quorum || voter_acks(r.acks) >= quorum() || requester_completes_quorum(r)) {
      release_read(r);
      return {};
    }
    if (by_context) {
      r.round = ctx;
      r.seq = read_round_sent = ++read_round_seq;
      reads.push_back(std::move(r));
      bcast_heartbeat(reads.back().round);
      return {};
    }
    // One round out at a time: a request that arrives while one is out
    // joins the next, which goes out when the first is confirmed (or with
    // the next periodic heartbeat). Every request in a round arrived before
    // its heartbeats left, so one quorum of acks confirms them all.
    const bool join_sent = cfg.testing_bugs.read_joins_sent_round && read_round_seq > 0;
    if (read_round_seq == read_round_sent && !join_sent) ++read_round_seq;
    r.seq = read_round_seq;
    r.round = "r" + std::to_string(r.seq);
    reads.push_back(std::move(r));
    if (!read_round_out()) send_read_round();
    return {};
  }

  /// May a follower's request be answered at once, without a round?
  /// Diss. §6.4 asks for a quorum of acknowledgements made after the read
  /// began. A voter sends its read_index request after its read began, in a
  /// term no later than this leader's (a later one would have deposed it),
  /// so until it sent it, it had voted for no leader of a later term: the
  /// request is its acknowledgement, good for its own reads. Where that
  /// voter and this leader are a quorum (three voters), no leader of a
  /// later term was elected before the read began, so every write
  /// acknowledged by then is at or below this commit index (which is of
  /// this term: start_read checked). The leader's own reads, and followers'
  /// in larger clusters, still take a round of heartbeats.
  bool requester_completes_quorum(const read_request& r) const {
    if (r.from.empty() || r.from == cfg.id) return false;
    if (cfg.testing_bugs.requester_vouches_alone) return true;
    if (!is_voter(conf, r.from)) return false;
    // The acks with the requester's counted in, without copying the set
    // (this runs for every follower's request on the leader).
    return voter_acks(r.acks) + (r.acks.count(r.from) ? 0 : 1) >= quorum();
  }

  /// True while a round's heartbeats are out and unconfirmed.
  bool read_round_out() const { return !reads.empty() && reads.front().seq <= read_round_sent; }

  /// Sends the heartbeats of the newest round (open or out: acks to a
  /// later copy confirm it just as well, so a lost heartbeat or ack costs
  /// one heartbeat interval, not the read).
  void send_read_round() {
    read_round_sent = read_round_seq;
    bcast_heartbeat(reads.back().round);
  }

  void release_read(const read_request& r) {
    if (r.from.empty() || r.from == cfg.id) {
      read_states.push_back({r.index, r.ctx});
    } else {
      message m;
      m.type = msg_type::read_index_resp;
      m.to = r.from;
      m.index = r.index;
      m.context = r.ctx;
      send(std::move(m));
    }
  }

  /// A heartbeat ack for round `round` from `from`.
  void ack_read(const std::string& round, const node_id& from) {
    auto it = std::find_if(reads.begin(), reads.end(), [&](auto& r) { return r.round == round; });
    if (it == reads.end()) return;
    // The requests of one round are adjacent and share their acks.
    auto end = std::next(it);
    if (!cfg.testing_bugs.read_acks_by_context)
      while (end != reads.end() && end->seq == it->seq) ++end;
    if (is_voter(conf, from))
      for (auto r = it; r != end; ++r) r->acks.insert(from);
    if (voter_acks(it->acks) < quorum()) return;
    // This round and every earlier one are confirmed.
    for (auto r = reads.begin(); r != end; ++r) release_read(*r);
    reads.erase(reads.begin(), end);
    if (!reads.empty() && !read_round_out() && !cfg.testing_bugs.read_acks_by_context) send_read_round();
  }

  // ---- step ----------------------------------------------------------------------
  std::error_code step(const message& m) {
    if (m.term > term) {
      if (m.type == msg_type::vote || m.type == msg_type::pre_vote) {
        const bool force = m.context == transfer_ctx;
        const bool in_lease = cfg.check_quorum && !leader.empty() && election_elapsed < cfg.election_ticks;
        if (!force && in_lease) return errc::stale_message;  // diss. §4.2.3: ignore disruptive votes
      }
      if (m.type == msg_type::pre_vote) {
        // never change term for a pre-vote
      } else if (m.type == msg_type::pre_vote_resp && !m.reject) {
        // a granted pre-vote carries the future term; keep ours
      } else if (m.type == msg_type::append || m.type == msg_type::heartbeat || m.type == msg_type::snapshot) {
        become_follower(m.term, m.from);
      } else {
        become_follower(m.term, "");
      }
    } else if (m.term < term) {
      if ((cfg.check_quorum || cfg.pre_vote) && (m.type == msg_type::heartbeat || m.type == msg_type::append)) {
        // Tell a stale leader about the newer term so it steps down.
        message r;
        r.type = msg_type::append_resp;
        r.to = m.from;
        send(std::move(r));
      } else if (m.type == msg_type::pre_vote) {
        message r;
        r.type = msg_type::pre_vote_resp;
        r.to = m.from;
        r.reject = true;
        send(std::move(r));
      }
      return errc::stale_message;
    }

    if (m.type == msg_type::vote || m.type == msg_type::pre_vote) {
      const bool can_vote = vote == m.from || (vote.empty() && leader.empty()) ||
                            (m.type == msg_type::pre_vote && m.term > term);
      message r;
      r.type = m.type == msg_type::vote ? msg_type::vote_resp : msg_type::pre_vote_resp;
      r.to = m.from;
      if (can_vote && up_to_date(m.index, m.log_term)) {
        r.term = m.term;
        if (m.type == msg_type::vote) {
          election_elapsed = 0;
          vote = m.from;
        }
      } else {
        r.reject = true;
      }
      send(std::move(r));
      return {};
    }

    switch (state) {
      case role::leader: return step_leader(m);
      case role::candidate:
      case role::pre_candidate: return step_candidate(m);
      case role::follower: return step_follower(m);
    }
    return {};
  }

  std::error_code step_leader(const message& m) {
    if (m.type == msg_type::read_index) return start_read(m.context, m.from);
    auto it = prs.find(m.from);
    if (it == prs.end()) {
      // A member whose removal committed acknowledges the entries it got:
      // tell it how far they are committed (its log matches ours up to
      // m.index), so it learns it is out and stops campaigning.
      if (m.type == msg_type::append_resp && !m.reject && !find_member(conf, m.from)) tell_removed(m.from, m.index);
      return errc::unknown_message;
    }
    auto& pr = it->second;
    switch (m.type) {
      case msg_type::append_resp: {
        pr.recent_active = true;
        if (m.reject) {
          std::uint64_t hint = m.reject_hint;
          if (m.hint_term > 0) hint = find_conflict_by_term(m.reject_hint, m.hint_term);
          if (pr.maybe_decr_to(m.index, hint)) {
            if (pr.state == progress_state::replicate) pr.become_probe();
            send_append(m.from);
          }
          return {};
        }
        const bool was_paused = pr.paused(cfg.max_inflight);
        if (pr.maybe_update(m.index)) {
          if (pr.state == progress_state::probe) {
            pr.become_replicate();
          } else if (pr.state == progress_state::snapshot && pr.match >= pr.pending_snapshot) {
            pr.become_probe();
            pr.become_replicate();
          } else if (pr.state == progress_state::replicate) {
            while (!pr.inflight.empty() && pr.inflight.front() <= m.index) pr.inflight.pop_front();
          }
          if (maybe_commit()) {
            need_bcast = true;
          } else if (was_paused || pr.next <= last_index()) {
            while (send_append(m.from, false)) {
              if (pr.state != progress_state::replicate) break;
            }
          }
          if (m.from == transferee && pr.match == last_index()) send_timeout_now(m.from);
        } else if (pr.state == progress_state::probe) {
          pr.probe_sent = false;
        }
        return {};
      }
      case msg_type::heartbeat_resp: {
        pr.recent_active = true;
        pr.probe_sent = false;
        if (pr.state == progress_state::replicate && pr.inflight.size() >= cfg.max_inflight) pr.inflight.pop_front();
        if (pr.match < last_index()) send_append(m.from);
        if (!m.context.empty()) ack_read(m.context, m.from);
        return {};
      }
      default:
        return {};
    }
  }

  void send_timeout_now(const node_id& to) {
    message m;
    m.type = msg_type::timeout_now;
    m.to = to;
    send(std::move(m));
  }

  std::error_code step_candidate(const message& m) {
    switch (m.type) {
      case msg_type::append:
      case msg_type::heartbeat:
      case msg_type::snapshot:
        become_follower(m.term, m.from);
        return step_follower(m);
      case msg_type::vote_resp:
      case msg_type::pre_vote_resp: {
        if ((state == role::pre_candidate) != (m.type == msg_type::pre_vote_resp)) return {};
        votes[m.from] = !m.reject;
        const int r = poll_result();
        if (r == 1) {
          if (state == role::pre_candidate) campaign(campaign_kind::election);
          else {
            become_leader();
          }
        } else if (r == -1) {
          become_follower(term, "");
        }
        return {};
      }
      default:
        return {};
    }
  }

  std::error_code step_follower(const message& m) {
    switch (m.type) {
      case msg_type::append:
        election_elapsed = 0;
        leader = m.from;
        heard_leader();
        handle_append(m);
        return {};
      case msg_type::heartbeat: {
        election_elapsed = 0;
        leader = m.from;
        heard_leader();
        commit_to(std::min(m.commit, last_index()));
        message r;
        r.type = msg_type::heartbeat_resp;
        r.to = m.from;
        r.context = m.context;
        send(std::move(r));
        return {};
      }
      case msg_type::snapshot:
        election_elapsed = 0;
        leader = m.from;
        heard_leader();
        handle_snapshot(m);
        return {};
      case msg_type::timeout_now:
        if (promotable()) campaign(campaign_kind::transfer);
        return {};
      case msg_type::read_index_resp:
        read_states.push_back({m.index, m.context});
        return {};
      default:
        return {};
    }
  }

  void handle_append(const message& m) {
    message r;
    r.type = msg_type::append_resp;
    r.to = m.from;
    if (m.index < commit) {
      r.index = commit;
      send(std::move(r));
      return;
    }
    if (term_at(m.index) == m.log_term) {
      // §5.3: find the first conflicting entry and replace from there.
      std::uint64_t last_new = m.index + m.entries.size();
      for (const auto& e : m.entries) {
        auto t = term_at(e.index);
        if (t && *t == e.term) continue;
        // Truncation may drop a change, and appended entries may bring one:
        // only then does the configuration in force move.
        bool conf_moved = false;
        if (t) {
          conf_moved = !conf_idx.empty() && conf_idx.back() >= e.index;
          truncate_from(e.index);
        }
        const std::size_t off = static_cast<std::size_t>(e.index - m.entries.front().index);
        for (std::size_t k = off; k < m.entries.size(); ++k) {
          if (m.entries[k].index != last_index() + 1) invariant_failed("append out of order", m.entries[k].index, last_index());
          if (m.entries[k].type == entry_type::conf_change) {
            conf_idx.push_back(m.entries[k].index);
            conf_moved = true;
          }
          log.push_back(m.entries[k]);
        }
        if (conf_moved) recompute_config();
        break;
      }
      commit_to(std::min(m.commit, last_new));
      r.index = last_new;
      send(std::move(r));
      return;
    }
    const std::uint64_t hint = find_conflict_by_term(std::min(m.index, last_index()), m.log_term);
    r.reject = true;
    r.index = m.index;
    r.reject_hint = hint;
    r.hint_term = term_at(hint).value_or(0);
    send(std::move(r));
  }

  void handle_snapshot(const message& m) {
    message r;
    r.type = msg_type::append_resp;
    r.to = m.from;
    if (!m.snapshot) return;
    const auto& s = *m.snapshot;
    if (s.index <= commit) {
      r.index = commit;
      send(std::move(r));
      return;
    }
    if (term_at(s.index) == s.term) {
      // We already have the entry: fast-forward the commit index and
      // acknowledge it (etcd acks its commit index). Not last_index(): the
      // entries after s.index may still conflict with the leader's log.
      commit_to(s.index);
      r.index = cfg.testing_bugs.snapshot_ack_last_index ? last_index() : commit;
      send(std::move(r));
      return;
    }
    snap = s;
    log.clear();
    conf_idx.clear();
    retract_acks(s.index + 1);
    commit = s.index;
    stable = s.index;
    pending_snap = s;
    pending_conf_index = 0;
    recompute_config();
    r.index = s.index;
    send(std::move(r));
  }

  // ---- ticks -----------------------------------------------------------------------
  void tick_election() {
    ++election_elapsed;
    if (state == role::leader) {
      if (!transferee.empty() && ++transfer_elapsed >= cfg.election_ticks) transferee.clear();
      if (election_elapsed >= cfg.election_ticks) {
        election_elapsed = 0;
        if (cfg.check_quorum) {
          std::size_t active = 0;
          for (const auto& mb : conf.members)
            if (mb.voter && (mb.id == cfg.id || prs[mb.id].recent_active)) ++active;
          for (auto& [id, pr] : prs)
            if (id != cfg.id) pr.recent_active = false;
          // diss. §6.2: we may be partitioned away. This holds for a leader
          // that removed itself too: until the removal commits it still
          // leads, and it must not go on serving from a minority.
          const bool exempt = cfg.testing_bugs.removed_leader_serves && !find_member(conf, cfg.id);
          if (active < quorum() && !exempt) {
            become_follower(term, "");
            return;
          }
        }
      }
      return;
    }
    // A learner campaigns an election timeout after a voter would, so that
    // it leads only where no voter can (promotable()).
    const int due = randomized_timeout + (is_learner() ? cfg.election_ticks : 0);
    if (promotable() && election_elapsed >= due) {
      election_elapsed = 0;
      // The previous campaign brought no leader: back off (config).
      if (campaigned_unheard && election_backoff < std::min(cfg.max_election_backoff, 10)) ++election_backoff;
      campaigned_unheard = true;
      randomize_timeout();
      campaign(campaign_kind::pre_vote);
    }
  }

  void tick_heartbeat() {
    if (state != role::leader) return;
    if (++heartbeat_elapsed >= cfg.heartbeat_ticks) {
      heartbeat_elapsed = 0;
      if (!reads.empty() && !cfg.testing_bugs.read_acks_by_context) send_read_round();
      else bcast_heartbeat("");
    }
  }

  // ---- ready -----------------------------------------------------------------------
  hard_state current_hard() const { return {term, vote, commit}; }
  soft_state current_soft() const { return {leader, state}; }

  std::uint64_t committed_end() const { return std::min(commit, last_index()); }

  void flush_bcast() {
    if (need_bcast && state == role::leader) bcast_append();
    need_bcast = false;
  }

  /// True while term and vote equal what the shell made durable: only then
  /// may early output leave before the batch in flight (types.h).
  bool term_and_vote_durable() const { return term == prev_hard.term && vote == prev_hard.vote; }
  /// The early output that may leave now: all of it while term and vote are
  /// durable, else nothing — or, with the planted bug, a leader's output
  /// (heartbeat answers still wait: the bug is about the leader).
  std::vector<message> take_early_out() {
    std::vector<message> now;
    if (term_and_vote_durable()) {
      now = std::move(early_out);
      early_out.clear();
    } else if (cfg.testing_bugs.early_messages_before_durable) {
      std::vector<message> keep;
      for (auto& m : early_out) (is_leader_output(m.type) ? now : keep).push_back(std::move(m));
      early_out = std::move(keep);
    }
    return now;
  }

  // ---- invariants (LogCabin's checkInvariants) -------------------------------------
  /// Checks the `Invariant:` comments above; aborts with a message on a
  /// break. Cost: the uncommitted suffix of the log.
  void check() const {
    if (!cfg.check_invariants) return;
    if (!log.empty() && (log.front().index != snap.index + 1 || log.back().index != snap.index + log.size()))
      invariant_failed("log not contiguous after the snapshot", log.front().index, snap.index);
    // (A received snapshot counts as applied once the shell installs it.)
    if (!((pending_snap || snap.index <= applied) && applied <= commit && commit <= last_index()))
      invariant_failed("snapshot <= applied <= commit <= last index", applied, commit);
    if (stable > last_index()) invariant_failed("stable beyond the log", stable, last_index());
    if (last_term() > term) invariant_failed("log holds a term newer than the node's", last_term(), term);
    for (std::size_t k = 0; k < conf_idx.size(); ++k)
      if (conf_idx[k] <= snap.index || conf_idx[k] > last_index() || at(conf_idx[k]).type != entry_type::conf_change ||
          (k > 0 && conf_idx[k - 1] >= conf_idx[k]))
        invariant_failed("conf_idx names an index that is not a conf_change entry", conf_idx[k], k);
    std::size_t uncommitted_changes = 0;
    for (std::uint64_t i = std::max(commit + 1, first_index()); i <= last_index(); ++i)
      if (at(i).type == entry_type::conf_change) {
        ++uncommitted_changes;
        if (!std::binary_search(conf_idx.begin(), conf_idx.end(), i))
          invariant_failed("conf_change entry missing from conf_idx", i, conf_idx.size());
      }
    if (uncommitted_changes > 1) invariant_failed("more than one uncommitted configuration change", uncommitted_changes, commit);
    // The configuration in use is the latest in the log.
    membership latest = snap.config;
    for (std::size_t k = conf_idx.size(); k-- > 0;)
      if (auto ce = decode_conf_entry(at(conf_idx[k]).data)) {
        latest = std::move(ce->after);
        break;
      }
    if (!(latest == conf)) invariant_failed("configuration in use is not the latest in the log", latest_conf_index, conf_idx.size());
    if (state == role::leader) {
      if (leader != cfg.id) invariant_failed("a leader that does not name itself", term, 0);
      if (vote != cfg.id) invariant_failed("a leader that did not vote for itself in its term", term, 0);
    }
  }
};

// ---- public API -----------------------------------------------------------------------

raft_node::raft_node(const qc::raft::config& cfg, initial_state st) : impl_(std::make_unique<impl>()) {
  auto& s = *impl_;
  s.cfg = cfg;
  if (s.cfg.election_ticks < 1) s.cfg.election_ticks = 1;
  if (s.cfg.heartbeat_ticks < 1) s.cfg.heartbeat_ticks = 1;
  if (s.cfg.max_inflight < 1) s.cfg.max_inflight = 1;
  s.rng.s = cfg.seed;
  s.term = st.hard.term;
  s.vote = st.hard.vote;
  s.snap = std::move(st.snapshot);
  s.log = std::move(st.entries);
  for (std::size_t i = 0; i < s.log.size(); ++i) {
    if (s.log[i].index != s.snap.index + 1 + i) invariant_failed("initial log not contiguous", s.log[i].index, s.snap.index + 1 + i);
    if (s.log[i].type == entry_type::conf_change) s.conf_idx.push_back(s.log[i].index);
  }
  s.stable = s.last_index();
  s.commit = std::max(st.hard.commit, s.snap.index);
  if (s.commit > s.last_index()) invariant_failed("initial commit beyond log", s.commit, s.last_index());
  s.applied = std::max(st.applied, s.snap.index);
  // The commit index is made durable lazily (ready::hard_must_sync), so
  // the state machine may have applied past the one on disk: what it
  // applied was committed (Raft §5.3: commitIndex is volatile state).
  if (s.applied > s.last_index()) invariant_failed("initial applied beyond log", s.applied, s.last_index());
  s.commit = std::max(s.commit, s.applied);
  s.recompute_config();
  s.pending_conf_index = s.last_index();
  s.become_follower(s.term, "");
  s.prev_hard = s.current_hard();
  s.prev_soft = s.current_soft();
  s.check();
}

raft_node::~raft_node() = default;

void raft_node::tick_election() noexcept {
  impl_->tick_election();
  impl_->check();
}
void raft_node::tick_heartbeat() noexcept {
  impl_->tick_heartbeat();
  impl_->check();
}
void raft_node::tick() noexcept {
  tick_election();
  tick_heartbeat();
}

std::error_code raft_node::step(const message& m) noexcept {
  if (m.to != impl_->cfg.id || m.from.empty() || m.from == impl_->cfg.id) return errc::unknown_message;
  if (m.type == msg_type::read_index && impl_->state != role::leader) return errc::not_leader;
  auto ec = impl_->step(m);
  impl_->check();
  return ec;
}

proposal raft_node::propose(std::string data) noexcept {
  auto& s = *impl_;
  proposal p;
  if (s.state != role::leader) {
    p.ec = errc::not_leader;
    p.leader = s.leader;
    return p;
  }
  if (!s.transferee.empty() || s.is_learner()) {  // a learner leads only to hand over (after_commit)
    p.ec = errc::proposal_dropped;
    return p;
  }
  s.append_entry(entry{0, 0, entry_type::normal, std::move(data)});
  s.need_bcast = true;
  p.index = s.last_index();
  p.term = s.term;
  p.leader = s.cfg.id;
  s.check();
  return p;
}

proposal raft_node::propose_conf_change(const conf_change& cc) noexcept {
  auto& s = *impl_;
  proposal p;
  if (s.state != role::leader) {
    p.ec = errc::not_leader;
    p.leader = s.leader;
    return p;
  }
  if (!s.transferee.empty() || s.is_learner()) return p.ec = errc::proposal_dropped, p;
  if (s.pending_conf_index > s.commit) return p.ec = errc::conf_change_in_progress, p;
  if (s.term_at(s.commit) != s.term) return p.ec = errc::conf_change_not_ready, p;
  auto next = apply_conf_change(s.conf, cc);
  if (!next) return p.ec = errc::invalid_conf_change, p;
  s.append_entry(entry{0, 0, entry_type::conf_change, encode_conf_entry(conf_entry{cc, *next})});
  s.need_bcast = true;
  p.index = s.last_index();
  p.term = s.term;
  p.leader = s.cfg.id;
  s.check();
  return p;
}

std::error_code raft_node::read_index(std::string context) noexcept {
  auto& s = *impl_;
  if (s.state == role::leader) {
    auto ec = s.start_read(std::move(context), "");
    s.check();
    return ec;
  }
  if (s.state != role::follower || s.leader.empty()) return errc::not_leader;
  message m;
  m.type = msg_type::read_index;
  m.to = s.leader;
  m.context = std::move(context);
  s.send(std::move(m));
  return {};
}

std::error_code raft_node::transfer_leadership(const node_id& to) noexcept {
  auto& s = *impl_;
  if (s.state != role::leader) return errc::not_leader;
  if (to == s.cfg.id) return {};
  if (!is_voter(s.conf, to)) return errc::not_voter;
  if (s.transferee == to) return {};
  s.transferee = to;
  s.transfer_elapsed = 0;
  if (s.prs[to].match == s.last_index()) s.send_timeout_now(to);
  else s.send_append(to);
  s.check();
  return {};
}

std::error_code raft_node::compact(std::uint64_t index, std::string handle) noexcept {
  auto& s = *impl_;
  if (index <= s.snap.index) return errc::compacted;
  if (index > s.applied || index > s.stable) return errc::unavailable;
  // The configuration in force at `index`: the latest change at or below it.
  membership cfg_at = s.snap.config;
  const auto upto = std::upper_bound(s.conf_idx.begin(), s.conf_idx.end(), index);
  for (auto k = upto; k != s.conf_idx.begin();)
    if (auto ce = decode_conf_entry(s.at(*--k).data)) {
      cfg_at = ce->after;
      break;
    }
  const std::uint64_t t = *s.term_at(index);
  s.log.erase(s.log.begin(), s.log.begin() + static_cast<std::ptrdiff_t>(index - s.snap.index));
  s.conf_idx.erase(s.conf_idx.begin(), upto);
  s.snap = snapshot_meta{index, t, std::move(cfg_at), std::move(handle)};
  s.check();
  return {};
}

std::error_code raft_node::campaign() noexcept {
  auto& s = *impl_;
  if (s.state == role::leader) return errc::already_leader;
  if (!s.promotable() || s.is_learner()) return errc::not_voter;  // a learner only when no voter can win (promotable())
  s.campaign(campaign_kind::pre_vote);
  s.check();
  return {};
}

void raft_node::report_unreachable(const node_id& id) noexcept {
  auto& s = *impl_;
  if (s.state != role::leader) return;
  auto it = s.prs.find(id);
  if (it != s.prs.end() && it->second.state == progress_state::replicate) it->second.become_probe();
}

void raft_node::report_link_down(const node_id& id) noexcept {
  auto& s = *impl_;
  if (s.state == role::leader) return report_unreachable(id);
  if (s.state == role::follower && !id.empty() && s.leader == id)
    s.election_elapsed = std::max(s.election_elapsed, s.cfg.election_ticks);
}

void raft_node::report_snapshot(const node_id& id, bool ok) noexcept {
  auto& s = *impl_;
  if (s.state != role::leader) return;
  auto it = s.prs.find(id);
  if (it == s.prs.end() || it->second.state != progress_state::snapshot) return;
  if (!ok) it->second.pending_snapshot = 0;
  it->second.become_probe();
  it->second.probe_sent = true;  // wait for the follower's answer before probing
}

bool raft_node::has_ready() const noexcept {
  const auto& s = *impl_;
  return s.need_bcast || !(s.current_hard() == s.prev_hard) || !(s.current_soft() == s.prev_soft) ||
         s.pending_snap.has_value() || s.stable < s.last_index() || !s.early_out.empty() || !s.out.empty() ||
         s.committed_end() > s.applied || !s.read_states.empty();
}

ready raft_node::get_ready() noexcept {
  auto& s = *impl_;
  s.flush_bcast();
  ready rd;
  if (!(s.current_soft() == s.prev_soft)) rd.soft = s.current_soft();
  if (!(s.current_hard() == s.prev_hard)) {
    rd.hard = s.current_hard();
    rd.hard_must_sync = !s.term_and_vote_durable();
  }
  rd.snapshot = s.pending_snap;
  const std::uint64_t from = std::max(s.stable + 1, s.first_index());
  for (std::uint64_t i = from; i <= s.last_index(); ++i) rd.entries.push_back(s.at(i));
  // Early output that may not leave yet (this batch makes a new term or
  // vote durable, and the output depends on it) leaves with the rest,
  // after the fsync.
  rd.early_messages = s.take_early_out();
  rd.messages = std::move(s.early_out);
  rd.messages.insert(rd.messages.end(), std::make_move_iterator(s.out.begin()), std::make_move_iterator(s.out.end()));
  s.early_out.clear();
  s.out.clear();
  const std::uint64_t base = std::max(s.applied, s.snap.index);
  for (std::uint64_t i = base + 1; i <= s.committed_end(); ++i) rd.committed.push_back(s.at(i));
  rd.read_states = std::move(s.read_states);
  s.read_states.clear();
  return rd;
}

std::vector<message> raft_node::take_early_messages() noexcept {
  auto& s = *impl_;
  s.flush_bcast();
  return s.take_early_out();  // without a durable term and vote: nothing, they wait for the batch in flight
}

void raft_node::advance(const ready& rd) noexcept {
  auto& s = *impl_;
  if (rd.soft) s.prev_soft = *rd.soft;
  if (rd.hard) s.prev_hard = *rd.hard;
  if (rd.snapshot) {
    if (s.pending_snap && s.pending_snap->index == rd.snapshot->index) s.pending_snap.reset();
    s.applied = std::max(s.applied, rd.snapshot->index);
  }
  if (!rd.entries.empty()) {
    const auto& last = rd.entries.back();
    // Mark durable only what is still in the log as it was written.
    if (s.term_at(last.index) == last.term) s.stable = std::max(s.stable, last.index);
  }
  if (!rd.committed.empty()) s.applied = std::max(s.applied, rd.committed.back().index);
  if (s.state == role::leader) {
    s.prs[s.cfg.id].match = s.stable;
    if (s.maybe_commit()) s.need_bcast = true;
  }
  s.check();
}

const node_id& raft_node::id() const { return impl_->cfg.id; }
role raft_node::state() const { return impl_->state; }
int raft_node::election_timeout() const { return impl_->randomized_timeout; }
const node_id& raft_node::leader() const { return impl_->leader; }
std::uint64_t raft_node::term() const { return impl_->term; }
const node_id& raft_node::vote() const { return impl_->vote; }
std::uint64_t raft_node::commit_index() const { return impl_->commit; }
std::uint64_t raft_node::applied_index() const { return impl_->applied; }
std::uint64_t raft_node::first_index() const { return impl_->first_index(); }
std::uint64_t raft_node::last_index() const { return impl_->last_index(); }
std::uint64_t raft_node::snapshot_index() const { return impl_->snap.index; }
std::optional<std::uint64_t> raft_node::term_at(std::uint64_t index) const { return impl_->term_at(index); }
std::optional<entry> raft_node::entry_at(std::uint64_t index) const {
  if (index < impl_->first_index() || index > impl_->last_index()) return std::nullopt;
  return impl_->at(index);
}
const membership& raft_node::config() const { return impl_->conf; }
bool raft_node::is_learner() const { return impl_->is_learner(); }
bool raft_node::conf_change_pending() const { return impl_->pending_conf_index > impl_->commit; }
std::vector<peer_progress> raft_node::progress() const {
  std::vector<peer_progress> out;
  progress_into(out);
  return out;
}

void raft_node::progress_into(std::vector<peer_progress>& out) const {
  std::size_t n = 0;
  if (impl_->state == role::leader) {
    out.reserve(impl_->conf.members.size());
    for (const auto& m : impl_->conf.members) {
      auto it = impl_->prs.find(m.id);
      if (it == impl_->prs.end()) continue;
      const auto& pr = it->second;
      const bool self = m.id == impl_->cfg.id;
      if (n == out.size()) out.emplace_back();
      auto& p = out[n++];
      p.id = m.id;  // assigned in place: an id's string keeps its buffer
      p.voter = m.voter;
      p.match = self ? impl_->stable : pr.match;
      p.next = pr.next;
      p.state = pr.state;
      p.recent_active = self || pr.recent_active;
    }
  }
  out.resize(n);
}
const snapshot_meta& raft_node::snapshot() const { return impl_->snap; }

}  // namespace qc::raft
