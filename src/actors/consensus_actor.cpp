#include "actors/consensus_actor.h"

#include <cstdio>
#include <iterator>
#include <random>
#include <utility>

#include "common/log.h"
#include "common/overloaded.h"

namespace qc::actors {

namespace {
/// "<node>.<64 random bits in hex>.": read contexts start with it, so they
/// are unique across nodes and across restarts of this one (a leader's late
/// answer to a previous process's read "1" must not confirm this one's).
std::string read_context_prefix(const std::string& id) {
  std::random_device rd;
  const std::uint64_t nonce = (static_cast<std::uint64_t>(rd()) << 32) ^ rd();
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(nonce));
  return id + "." + hex + ".";
}
}  // namespace

consensus_actor::consensus_actor(boost::asio::io_context& io, const raft::config& cfg,
                                 raft::initial_state st, consensus_outputs out, db::peer_incarnations peers)
    : core_(cfg, std::move(st)),
      out_(std::move(out)),
      inbox_(io, [this](consensus_message&& m) { handle(std::move(m)); }, [this] { drained(); }),
      read_prefix_(read_context_prefix(cfg.id)),
      election_ticks_(cfg.election_ticks),
      peers_(std::move(peers)) {}

void consensus_actor::start() {
  const auto& cfg = core_.config();
  if (raft::voter_count(cfg) == 1 && raft::is_voter(cfg, core_.id())) {  // a sole voter: no one to wait for
    if (auto ec = core_.campaign()) log::warn("consensus: a sole voter cannot campaign: ", ec.message());
  }
  pump();
  publish();
}

namespace {
const char* message_name(const consensus_message& m) {
  static constexpr const char* names[] = {"tick_election", "tick_heartbeat", "peer_messages", "propose",
                                          "propose_conf", "read_index", "transfer", "persisted",
                                          "snapshot_taken", "snapshot_status", "unreachable", "link_down",
                                          "link_replaced", "peer_hello", "peers_recorded"};
  static_assert(std::size(names) == std::variant_size_v<consensus_message>);
  return names[m.index()];
}
}  // namespace

void consensus_actor::count_sent(const std::vector<raft::message>& msgs) {
  work_.msgs += msgs.size();
  for (const auto& x : msgs) work_.sent_entries += x.entries.size();
}

void consensus_actor::handle(consensus_message&& m) {
  const auto t0 = std::chrono::steady_clock::now();
  work_ = {};
  const char* what = message_name(m);
  std::visit(
      overloaded{
          [&](consensus_msg::tick_election&) {
            core_.tick_election();
            if (!round_reads_.empty() && ++round_age_ticks_ > 2 * election_ticks_) {
              // The round was lost (leader changed or messages dropped):
              // fail it so the gateway retries, and start a fresh one.
              auto lost = std::move(round_reads_);
              round_reads_.clear();
              for (auto& [ctx, tags] : lost) answer_reads(std::move(tags), raft::errc::unavailable, 0);
              start_read_round();
            }
          },
          [&](consensus_msg::tick_heartbeat&) { core_.tick_heartbeat(); },
          [&](consensus_msg::peer_messages& pm) { on_peer_messages(std::move(pm.msgs)); },
          [&](consensus_msg::propose& p) {
            out_.reply(consensus_reply_msg::proposed{p.tag, core_.propose(std::move(p.data))});
          },
          [&](consensus_msg::propose_conf& p) {
            out_.reply(consensus_reply_msg::proposed{p.tag, core_.propose_conf_change(p.change)});
          },
          [&](consensus_msg::read_index& r) { on_read_index(r.tag); },
          [&](consensus_msg::transfer& t) {
            out_.reply(consensus_reply_msg::transferred{t.tag, core_.transfer_leadership(t.to)});
          },
          [&](consensus_msg::persisted& p) {
            if (!in_flight_ || p.seq + 1 != next_seq_) {
              log::error("consensus: persisted ack ", p.seq, " does not match the batch in flight");
              std::abort();
            }
            raft::ready rd = std::move(*in_flight_);
            in_flight_.reset();
            if (out_.persist_round_trip)
              out_.persist_round_trip(
                  std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - in_flight_since_).count());
            finish(rd);
          },
          [&](consensus_msg::snapshot_taken& s) {
            if (auto ec = core_.compact(s.index, s.handle))
              log::debug("consensus: compact to ", s.index, " skipped: ", ec.message());
            else {
              log::info("snapshot at index ", s.index, " (", s.handle, "), log compacted");
              out_.compact(core_.snapshot());
            }
          },
          [&](consensus_msg::snapshot_status& s) { core_.report_snapshot(s.peer, s.ok); },
          [&](consensus_msg::unreachable& u) { core_.report_unreachable(u.peer); },
          [&](consensus_msg::link_down& d) {
            greeted_.erase(d.peer);
            core_.report_link_down(d.peer);
          },
          [&](consensus_msg::link_replaced& r) { greeted_.erase(r.peer); },
          [&](consensus_msg::peer_hello& h) { on_hello(h.peer, h.incarnation); },
          [&](consensus_msg::peers_recorded&) { on_peers_recorded(); },
      },
      m);
  log_if_slow(what, t0);
}

void consensus_actor::drained() {
  // Once per batch of messages, not per message: every proposal of the
  // batch rides in one append per follower (and one ack back), and in one
  // ready. Measured per message: the leader sent 1.08 appends per entry to
  // each follower, and each follower 1.09 acks per entry.
  const auto t0 = std::chrono::steady_clock::now();
  work_ = {};
  pump();
  log_if_slow("dispatching ready batches", t0);
}

void consensus_actor::log_if_slow(const char* what, std::chrono::steady_clock::time_point t0) const {
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count();
  if (ms >= 50)
    log::debug("consensus: ", what, " took ", ms, " ms (sent ", work_.msgs, " messages with ", work_.sent_entries,
               " entries, persisting ", work_.persisted_entries, ")");
}

void consensus_actor::on_peer_messages(std::vector<raft::message>&& msgs) {
  constexpr std::size_t held_max = 4096;  // per peer; Raft tolerates what is dropped beyond
  const auto now = std::chrono::steady_clock::now();
  for (auto& msg : msgs) {
    last_heard_[msg.from] = now;
    if (refused_.count(msg.from)) continue;
    if (!greeted_.count(msg.from)) held_.try_emplace(msg.from);  // its hello comes first on every link
    if (auto h = held_.find(msg.from); h != held_.end()) {
      if (h->second.size() < held_max) h->second.push_back(std::move(msg));
      continue;
    }
    if (auto ec = core_.step(msg); ec && ec != raft::errc::stale_message) {
      log::debug("consensus: ", raft::to_string(msg.type), " from ", msg.from, " ignored: ", ec.message());
      ++steps_refused_;
    }
  }
}

std::optional<std::string> consensus_actor::known_incarnation(const std::string& peer) const {
  for (const auto* m : {&pending_, writing_ ? &*writing_ : nullptr, &peers_})
    if (m)
      if (auto it = m->find(peer); it != m->end()) return it->second.empty() ? std::nullopt : std::optional(it->second);
  return std::nullopt;
}

void consensus_actor::on_hello(const std::string& peer, const std::string& incarnation) {
  const auto known = known_incarnation(peer);
  if (known == incarnation) {
    refused_.erase(peer);
    greeted_.insert(peer);
    if (!pending_.count(peer) && !(writing_ && writing_->count(peer))) release_held(peer);
    return;
  }
  if (known && raft::find_member(core_.config(), peer)) {
    held_.erase(peer);
    if (refused_.insert(peer).second)
      log::error("refusing ", peer, ": it came back with another data directory (incarnation ", incarnation,
                 ", known as ", *known, "); it may have lost votes and entries it acknowledged, so it must not "
                 "vote or be counted: remove it (chatctl remove ", peer, ") and start it again with an empty data "
                 "directory and --join");
    if (out_.refuse)
      out_.refuse(peer, "this node knew " + peer + " with another data directory (incarnation " + *known +
                            "): it lost its data; remove it from the cluster and start it again with an empty data "
                            "directory and --join");
    return;
  }
  // First sight (or a non-member back as a new incarnation): record it, and
  // hold its messages until the record is durable.
  refused_.erase(peer);
  greeted_.insert(peer);
  pending_[peer] = incarnation;
  held_.try_emplace(peer);
  record_peers();
}

void consensus_actor::forget_removed_peers(const raft::membership& before, const raft::membership& after) {
  for (const auto& m : before.members)
    if (!raft::find_member(after, m.id) && known_incarnation(m.id)) pending_[m.id] = "";  // erased on write
  record_peers();
}

void consensus_actor::record_peers() {
  if (writing_ || pending_.empty() || !out_.record_peers) return;
  writing_ = peers_;
  for (auto& [id, inc] : pending_)
    if (inc.empty()) writing_->erase(id);
    else (*writing_)[id] = inc;
  pending_.clear();
  out_.record_peers(*writing_);
}

void consensus_actor::on_peers_recorded() {
  peers_ = std::move(*writing_);
  writing_.reset();
  std::vector<std::string> ready;
  for (auto& [peer, msgs] : held_)
    if (greeted_.count(peer) && !pending_.count(peer) && peers_.count(peer)) ready.push_back(peer);
  record_peers();
  for (const auto& peer : ready) release_held(peer);
}

void consensus_actor::release_held(const std::string& peer) {
  auto it = held_.find(peer);
  if (it == held_.end()) return;
  auto msgs = std::move(it->second);
  held_.erase(it);
  on_peer_messages(std::move(msgs));
}

void consensus_actor::answer_reads(std::vector<std::uint64_t> tags, std::error_code ec, std::uint64_t index) {
  if (!tags.empty()) out_.reply(consensus_reply_msg::read_point{std::move(tags), ec, index});
}

void consensus_actor::on_read_index(std::uint64_t tag) {
  waiting_reads_.push_back(tag);
  if (round_reads_.empty()) start_read_round();
}

void consensus_actor::start_read_round() {
  if (waiting_reads_.empty()) return;
  std::string ctx = read_prefix_ + std::to_string(++read_ctx_);
  if (auto ec = core_.read_index(ctx)) {
    fail_reads(ec);
    return;
  }
  round_reads_[ctx] = std::move(waiting_reads_);
  waiting_reads_.clear();
  round_age_ticks_ = 0;
}

void consensus_actor::fail_reads(std::error_code ec) {
  auto tags = std::move(waiting_reads_);
  waiting_reads_.clear();
  answer_reads(std::move(tags), ec, 0);
}

void consensus_actor::pump() {
  if (in_flight_) {
    // Replicate new proposals while our own fsync runs, and answer the
    // leader's heartbeats meanwhile (the core hands out nothing whose
    // safety rests on the pending batch).
    auto early = core_.take_early_messages();
    count_sent(early);
    if (!early.empty()) out_.send(std::move(early));
  }
  while (!in_flight_ && core_.has_ready()) {
    raft::ready rd = core_.get_ready();
    if (rd.soft) {
      const char* role = raft::to_string(rd.soft->state);
      log::info("role ", role, " term ", core_.term(), " leader ",
                rd.soft->leader.empty() ? "(none)" : rd.soft->leader);
    }
    count_sent(rd.early_messages);
    if (!rd.early_messages.empty()) out_.send(std::move(rd.early_messages));
    if (rd.must_persist()) {
      persist_request req{next_seq_++, rd.hard, rd.snapshot, rd.entries};
      work_.persisted_entries += rd.entries.size();
      in_flight_ = std::move(rd);
      in_flight_since_ = std::chrono::steady_clock::now();
      out_.persist(std::move(req));
      return;  // finish() runs when the storage actor acks
    }
    finish(rd);
  }
  publish();
}

void consensus_actor::finish(raft::ready& rd) {
  count_sent(rd.messages);
  if (!rd.messages.empty()) out_.send(std::move(rd.messages));
  if (rd.snapshot || !rd.committed.empty()) out_.apply(rd.snapshot, rd.committed);
  for (const auto& rs : rd.read_states) {
    auto it = round_reads_.find(rs.context);
    if (it == round_reads_.end()) continue;
    auto tags = std::move(it->second);
    round_reads_.erase(it);
    answer_reads(std::move(tags), {}, rs.index);
  }
  core_.advance(rd);
  if (round_reads_.empty()) start_read_round();
  // A lost leadership leaves nobody to answer the waiting round.
  if (core_.state() != raft::role::leader && core_.leader().empty() && !round_reads_.empty()) {
    auto lost = std::move(round_reads_);
    round_reads_.clear();
    for (auto& [ctx, tags] : lost) answer_reads(std::move(tags), raft::errc::not_leader, 0);
  }
}

bool consensus_actor::view_current() {
  const auto& v = *view_;
  if (v.id.empty() || v.state != core_.state() || v.learner != core_.is_learner() || v.leader != core_.leader() ||
      v.term != core_.term() || v.commit_index != core_.commit_index() || v.last_index != core_.last_index() ||
      v.snapshot_index != core_.snapshot_index() || v.conf_change_pending != core_.conf_change_pending() ||
      v.steps_refused != steps_refused_ || !(v.config == core_.config()))
    return false;
  if (v.state != raft::role::leader) return true;
  core_.progress_into(progress_now_);
  return v.progress == progress_now_;
}

void consensus_actor::publish() {
  // Most messages (a read request, a heartbeat answer, a tick) change
  // nothing the others see: copying the view to four actors then is waste.
  if (view_current()) return;
  raft_view v;
  v.id = core_.id();
  v.state = core_.state();
  v.learner = core_.is_learner();
  v.member = raft::find_member(core_.config(), core_.id()) != nullptr;
  v.leader = core_.leader();
  v.term = core_.term();
  v.commit_index = core_.commit_index();
  v.last_index = core_.last_index();
  v.snapshot_index = core_.snapshot_index();
  v.conf_change_pending = core_.conf_change_pending();
  v.steps_refused = steps_refused_;
  v.config = core_.config();
  if (v.state == raft::role::leader) core_.progress_into(v.progress);
  const bool changed_membership = !(v.config == view_->config);
  if (changed_membership && !view_->id.empty()) {
    std::string desc;
    for (const auto& mb : v.config.members)
      desc += mb.id + (mb.voter ? "" : "(learner)") + "@" + mb.address + " ";
    log::info("membership now: ", desc);
    if (view_->member && !v.member)
      log::warn("this node was removed from the cluster configuration: it takes no further part "
                "(stop it; to come back it must be added again)");
  }
  if (view_->state == raft::role::leader && v.state != raft::role::leader && v.term == view_->term && v.member) {
    // No newer term: check-quorum (dissertation §6.2) found no majority of
    // voters heard from within an election timeout.
    std::string heard;
    const auto now = std::chrono::steady_clock::now();
    for (const auto& mb : v.config.members) {
      if (!mb.voter || mb.id == v.id) continue;
      auto it = last_heard_.find(mb.id);
      heard += " " + mb.id + " " +
               (it == last_heard_.end()
                    ? std::string("never")
                    : std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(now - it->second).count()) +
                          " ms ago");
    }
    log::warn("stepped down as leader of term ", v.term,
              ": no majority of voters answered within an election timeout; last heard from:", heard);
  }
  if (v.leader != view_->leader) log::info("leader is now ", v.leader.empty() ? "(unknown)" : v.leader);
  // Once a removal commits, the removed member may come back (added again,
  // with a new data directory): forget its incarnation.
  if (!v.conf_change_pending && !(v.config == committed_config_)) {
    if (!view_->id.empty()) forget_removed_peers(committed_config_, v.config);
    committed_config_ = v.config;
  }
  view_ = std::make_shared<const raft_view>(std::move(v));
  if (out_.publish) out_.publish(view_);
}

}  // namespace qc::actors
