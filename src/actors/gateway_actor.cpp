#include "actors/gateway_actor.h"

#include <algorithm>
#include <thread>

#include <boost/asio/post.hpp>
#include <boost/json.hpp>

#include "chat/command.h"
#include "common/log.h"
#include "common/overloaded.h"
#include "common/wall_clock.h"

namespace qc::actors {

namespace {
constexpr std::chrono::milliseconds retry_delay{25};
constexpr std::size_t recent_results_kept = 4096;
}  // namespace

gateway_actor::gateway_actor(boost::asio::io_context& io, const config::node_config& cfg, gateway_outputs out,
                             const char* version)
    : io_(io),
      write_batch_(boost::asio::use_service<net::write_batch>(io)),
      cfg_(cfg),
      out_(std::move(out)),
      version_(version),
      timeout_(cfg.request_timeout_ms),
      inbox_(io, [this](gateway_message&& m) { handle(std::move(m)); }),
      login_per_user_(cfg.login_failures_per_user, std::chrono::milliseconds(cfg.login_window_ms),
                      cfg.login_tracked_keys),
      login_per_conn_(cfg.login_failures_per_connection, std::chrono::milliseconds(cfg.login_window_ms),
                      cfg.login_tracked_keys),
      accounts_per_conn_(cfg.create_account_per_connection, std::chrono::milliseconds(cfg.create_account_window_ms)),
      accounts_per_addr_(cfg.create_account_per_address, std::chrono::milliseconds(cfg.create_account_window_ms)),
      // Room for what grows in steps the disk monitor sees only afterwards:
      // the largest entry a client write makes (a body at the limit plus
      // names and framing), a new log segment, chat.db's WAL up to its
      // bound, and what the apply actor's open transaction will write.
      alarm_(cfg.quota_bytes, cfg.max_body_bytes + 512,
             cfg.log_segment_bytes + cfg.chat_wal_bytes() +
                 cfg.apply_commit_bytes() * storage_alarm::write_amplification),
      sweeper_(io),
      hash_pool_(cfg.hash_threads ? cfg.hash_threads : std::max(1u, std::thread::hardware_concurrency()),
                 cfg.hash_queue) {
  limits_.max_body_bytes = cfg.max_body_bytes;
}

gateway_actor::~gateway_actor() = default;

void gateway_actor::start() { sweep(); }

void gateway_actor::stop() {
  stopped_ = true;
  sweeper_.cancel();
  auto writes = std::move(writes_);
  writes_.clear();
  for (auto& [id, w] : writes) w.done({std::nullopt, "unavailable", "node is shutting down"});
  auto reads = std::move(reads_);
  reads_.clear();
  for (auto& [id, r] : reads) r.done(std::nullopt, "unavailable");
  reader_.reset();
  for (auto& [id, c] : conns_) c.session->close(1001, "node shutting down");
}

// ---- connections -------------------------------------------------------------

void gateway_actor::client_open(const std::shared_ptr<net::client_session>& s) {
  conns_[s->conn_id()] = connection{s, {}, {}};
}

void gateway_actor::client_close(const std::shared_ptr<net::client_session>& s) {
  login_per_conn_.clear(std::to_string(s->conn_id()));
  accounts_per_conn_.clear(std::to_string(s->conn_id()));
  unbind(s->conn_id());
  conns_.erase(s->conn_id());
}

void gateway_actor::client_frame(const std::shared_ptr<net::client_session>& s, std::string frame) {
  ++metrics_.requests;
  auto decoded = chat::decode_request(frame, limits_);
  if (auto* err = std::get_if<chat::request_error>(&decoded)) {
    ++metrics_.request_errors;
    s->send(std::make_shared<const std::string>(
        chat::reply_error(err->id, err->has_id, err->code, err->message)));
    return;
  }
  dispatch(s->conn_id(), std::move(std::get<chat::request>(decoded)));
}

void gateway_actor::bind(std::uint64_t conn_id, const std::string& user, const std::string& token_hash,
                         std::int64_t last_used_ms) {
  auto it = conns_.find(conn_id);
  if (it == conns_.end()) return;
  unbind(conn_id);
  it->second.user = user;
  it->second.token_hash = token_hash;
  it->second.last_used_ms = last_used_ms;
  by_user_[user].insert(conn_id);
}

void gateway_actor::unbind(std::uint64_t conn_id) {
  auto it = conns_.find(conn_id);
  if (it == conns_.end() || it->second.user.empty()) return;
  auto u = by_user_.find(it->second.user);
  if (u != by_user_.end()) {
    u->second.erase(conn_id);
    if (u->second.empty()) by_user_.erase(u);
  }
  it->second.user.clear();
  it->second.token_hash.clear();
}

void gateway_actor::account_deleted(const std::string& user, std::uint64_t index) {
  if (deleted_at_.insert_or_assign(user, index).second) deleted_order_.push_back(user);
  while (deleted_order_.size() > deleted_kept) {
    deleted_at_.erase(deleted_order_.front());
    deleted_order_.pop_front();
  }
  auto u = by_user_.find(user);
  if (u == by_user_.end()) return;
  for (auto cid : std::vector<std::uint64_t>(u->second.begin(), u->second.end())) unbind(cid);
}

void gateway_actor::send_to(std::uint64_t conn_id, std::shared_ptr<const std::string> frame) {
  auto it = conns_.find(conn_id);
  if (it == conns_.end()) return;
  if (!it->second.session->send(std::move(frame))) ++metrics_.clients_dropped;
}

void gateway_actor::reply(std::uint64_t conn_id, const chat::request& rq, std::string_view result_json) {
  send_to(conn_id, std::make_shared<const std::string>(chat::reply_ok(rq.id, rq.has_id, result_json)));
}

void gateway_actor::reply_error(std::uint64_t conn_id, const chat::request& rq, std::string_view code,
                                std::string_view message) {
  ++metrics_.request_errors;
  send_to(conn_id, std::make_shared<const std::string>(chat::reply_error(rq.id, rq.has_id, code, message)));
}

// ---- the write path ------------------------------------------------------------

void gateway_actor::submit_write(std::string data, std::uint64_t origin_conn,
                                 std::function<void(write_outcome)> done, bool conf) {
  const auto wid = next_write_id_++;
  const auto now = std::chrono::steady_clock::now();
  writes_[wid] = pending_write{std::move(data), now + timeout_, now, origin_conn, 0, 0, std::move(done), conf};
  try_propose(wid);
}

std::string gateway_actor::stamp(const std::string& data) const {
  // Timestamps are fixed by the leader, inside the entry (principle 3);
  // so is which sessions count as expired when a new one is created.
  auto cmd = chat::decode_command(data);
  if (!cmd) return data;
  const auto ts = common::wall_clock_ms();
  std::visit(overloaded{[&](chat::cmd_create_account& c) { c.ts = ts; },
                        [&](chat::cmd_create_session& c) {
                          c.ts = ts;
                          c.expire_before = ts - cfg_.session_idle_timeout_ms;
                        },
                        [&](chat::cmd_touch_session& c) { c.ts = ts; },
                        [&](chat::cmd_send& c) { c.ts = ts; }, [](auto&) {}},
             *cmd);
  return chat::encode_command(*cmd);
}

std::string gateway_actor::storage_refusal(const std::string& data, bool conf, bool local) const {
  if (conf) return {};  // membership changes are tiny and may be what brings room
  auto why = alarm_.refusal(view_->state == raft::role::leader, view_->config, std::chrono::steady_clock::now());
  if (why.empty()) return {};
  // Writes that free or barely take room go on, unless this node's disk
  // refuses writes: then it might not apply (and so answer) them.
  if (grows_data(data) || (local && alarm_.disk_refused())) return why;
  return {};
}

void gateway_actor::try_propose(std::uint64_t wid) {
  auto it = writes_.find(wid);
  if (it == writes_.end()) return;
  auto& w = it->second;
  if (auto why = storage_refusal(w.data, w.conf, true); !why.empty()) {
    ++metrics_.writes_storage_full;
    complete_write(wid, {std::nullopt, "storage_full", why});
    return;
  }
  if (view_->state == raft::role::leader) {
    ++metrics_.proposals;
    const auto tag = next_tag_++;
    if (w.conf) {
      auto ce = raft::decode_conf_entry(w.data);
      if (!ce) {
        complete_write(wid, {std::nullopt, "internal", "undecodable membership change"});
        return;
      }
      proposals_[tag] = local_proposal{wid};
      out_.consensus(consensus_msg::propose_conf{ce->change, tag});
    } else {
      proposals_[tag] = local_proposal{wid};
      out_.consensus(consensus_msg::propose{stamp(w.data), tag});
    }
  } else if (!view_->leader.empty() && view_->leader != view_->id) {
    const auto rid = wid;  // write ids are unique per node: reuse as the request id
    forwarded_[rid] = wid;
    ++metrics_.proposals_forwarded;
    if (!send_peer(view_->leader, net::peer_propose{rid, w.data, w.conf})) {
      forwarded_.erase(rid);
      retry_later(wid);
    }
  } else {
    waiting_for_leader_.push_back(wid);
  }
}

void gateway_actor::on_proposed(std::uint64_t wid, const raft::proposal& p) {
  auto it = writes_.find(wid);
  if (it == writes_.end()) return;
  if (p.ec) {
    retry_later(wid);  // not leader any more, transferring, ...: the bound decides
    return;
  }
  it->second.index = p.index;
  it->second.term = p.term;
  by_index_[p.index] = wid;
  // The entry may already be applied (the answer travelled slower than the log).
  if (auto r = recent_.find(p.index); r != recent_.end()) {
    if (r->second.term == p.term)
      complete_write(wid, {r->second, {}, {}});
    else {
      by_index_.erase(p.index);
      it->second.index = 0;
      retry_later(wid);
    }
  }
}

void gateway_actor::retry_later(std::uint64_t wid) {
  auto t = std::make_shared<boost::asio::steady_timer>(io_, retry_delay);
  t->async_wait([this, t, wid](const boost::system::error_code& ec) {
    if (!ec && !stopped_) try_propose(wid);
  });
}

void gateway_actor::complete_write(std::uint64_t wid, write_outcome out) {
  auto it = writes_.find(wid);
  if (it == writes_.end()) return;
  auto w = std::move(it->second);
  writes_.erase(it);
  if (w.index) by_index_.erase(w.index);
  if (out.result) {
    metrics_.commit_latency.observe(
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - w.started).count());
  } else {
    ++metrics_.proposals_failed;
  }
  w.done(std::move(out));
}

void gateway_actor::on_reply(consensus_reply& r) {
  std::visit(overloaded{
                 [&](consensus_reply_msg::proposed& p) {
                   auto it = proposals_.find(p.tag);
                   if (it == proposals_.end()) return;
                   auto asker = std::move(it->second);
                   proposals_.erase(it);
                   std::visit(overloaded{
                                  [&](local_proposal& l) { on_proposed(l.wid, p.p); },
                                  [&](peer_proposal& f) {
                                    net::peer_propose_resp resp{f.rid, p.p.index, p.p.term, {}, p.p.leader};
                                    if (p.p.ec) resp.error = p.p.ec == raft::errc::not_leader ? "not_leader" : "unavailable";
                                    send_peer(f.from, resp);
                                  },
                              },
                              asker);
                 },
                 [&](consensus_reply_msg::read_point& rp) {
                   if (rp.ec) {
                     auto t = std::make_shared<boost::asio::steady_timer>(io_, retry_delay);
                     t->async_wait([this, t, rids = std::move(rp.tags)](const boost::system::error_code& e) {
                       if (e || stopped_) return;
                       for (auto rid : rids)
                         if (reads_.count(rid)) try_read_index(rid);
                     });
                     return;
                   }
                   for (auto rid : rp.tags) queue_read(rid, rp.index);
                 },
                 // Transfers are the membership actor's: the node routes their answers there.
                 [&](consensus_reply_msg::transferred&) {},
             },
             r);
}

bool gateway_actor::send_peer(const std::string& to, net::peer_frame f) {
  if (!reachable(to)) return false;
  out_.replicator(replicator_msg::send_frame{to, std::move(f)});
  return true;
}

void gateway_actor::on_undelivered(const std::string& to, net::peer_frame& f) {
  // The link went down after it was last published: act as if the send
  // had been refused at once.
  std::visit(overloaded{
                 [&](net::peer_propose& p) {
                   auto it = forwarded_.find(p.rid);
                   if (it == forwarded_.end()) return;
                   const auto wid = it->second;
                   forwarded_.erase(it);
                   retry_later(wid);
                 },
                 [&](net::peer_admin& a) {
                   if (a.response) return;  // the asker's own deadline answers its client
                   boost::json::error_code ec;
                   auto v = boost::json::parse(a.body, ec);
                   if (a.rid == 0) {  // a storage alarm report: the leader did not hear it
                     auto* full = !ec && v.is_object() ? v.as_object().if_contains("full") : nullptr;
                     // A lost "cleared" must go again (as if "full" had been the last one heard).
                     alarm_reported_ = !(full && full->is_bool() && full->as_bool());
                     return;
                   }
                   auto it = admin_forwards_.find(a.rid);
                   if (it == admin_forwards_.end()) return;
                   auto [done, deadline] = std::move(it->second);
                   admin_forwards_.erase(it);
                   if (ec || !v.is_object()) return done("internal", "undeliverable admin request", {});
                   auto t = std::make_shared<boost::asio::steady_timer>(io_, std::chrono::milliseconds(100));
                   t->async_wait([this, t, body = std::move(v.as_object()), done = std::move(done),
                                  deadline](const boost::system::error_code& e) mutable {
                     if (!e) run_admin(std::move(body), std::move(done), deadline);
                   });
                 },
                 [&](auto&) { log::debug("gateway: frame to ", to, " undelivered (no link)"); },
             },
             f);
}

// ---- inbound ---------------------------------------------------------------------

void gateway_actor::handle(gateway_message&& m) {
  std::visit(overloaded{[&](gateway_msg::view& v) { on_view(std::move(v.v)); },
                        [&](gateway_msg::applied& a) { on_applied(a.results, a.applied_index); },
                        [&](gateway_msg::peer& p) { on_peer(p.from, p.frame); },
                        [&](gateway_msg::usage& u) { on_usage(u.u); },
                        [&](gateway_msg::appended& a) { on_appended(a.bytes); },
                        [&](gateway_msg::timing& t) {
                          using w = gateway_msg::timing::what;
                          (t.w == w::loop_lag         ? metrics_.loop_lag
                           : t.w == w::log_persist    ? metrics_.log_persist
                                                      : metrics_.persist_round_trip)
                              .observe(t.ms);
                        },
                        [&](gateway_msg::disk_full& d) { alarm_.on_disk_full(d.source, d.error); },
                        [&](gateway_msg::links& l) { linked_ = std::move(l.linked); },
                        [&](gateway_msg::undelivered& u) { on_undelivered(u.to, u.frame); },
                        [&](gateway_msg::consensus& c) { on_reply(c.r); },
                        [&](gateway_msg::reader_open& r) { lend_reader(std::move(r.db)); },
                        [&](gateway_msg::reader_close&) { take_back_reader(); },
                        [&](gateway_msg::query_done& q) {
                          auto r = reads_.find(q.tag);
                          if (r == reads_.end()) return;  // answered by the sweep meanwhile
                          auto done = std::move(r->second.done);
                          reads_.erase(r);
                          done(std::move(q.result), {});
                        },
                        [&](gateway_msg::client_open& c) { client_open(c.s); },
                        [&](gateway_msg::client_frame& c) { client_frame(c.s, std::move(c.frame)); },
                        [&](gateway_msg::client_close& c) { client_close(c.s); },
                        [&](gateway_msg::http_get& h) { h.respond(http_get(h.target)); },
                        [&](gateway_msg::admin_done& a) {
                          auto it = admin_local_.find(a.tag);
                          if (it == admin_local_.end()) return;
                          auto done = std::move(it->second);
                          admin_local_.erase(it);
                          done(std::move(a.code), std::move(a.message), std::move(a.result));
                        },
                        [&](gateway_msg::admin_elsewhere& a) {
                          auto it = admin_local_.find(a.tag);
                          if (it == admin_local_.end()) return;
                          auto done = std::move(it->second);
                          admin_local_.erase(it);
                          run_admin(std::move(a.body), std::move(done), a.deadline);
                        },
                        [&](gateway_msg::propose_conf& p) { propose_conf(p.tag, std::move(p.change)); }},
             m);
}

void gateway_actor::alarm_changed(bool was_full) {
  const bool full = alarm_.full();
  if (full == was_full) return;
  if (out_.apply) out_.apply(apply_msg::storage_pressure{full});
  if (full)
    log::warn("storage alarm: ", alarm_.refusal(false, view_->config, std::chrono::steady_clock::now()),
              "; writes that grow the data get storage_full");
  else
    log::info("storage alarm cleared: ", alarm_.used_bytes(), " of ", alarm_.quota_bytes(), " bytes used");
}

void gateway_actor::on_appended(std::uint64_t bytes) {
  alarm_.on_appended(bytes);
  if (measure_asked_ || !alarm_.wants_measurement() || !out_.measure) return;
  measure_asked_ = true;
  out_.measure();
}

void gateway_actor::on_usage(const db::disk_usage& u) {
  measure_asked_ = false;
  const bool was_full = alarm_.full();
  alarm_.on_usage(u);
  alarm_changed(was_full);
  const bool full = alarm_.full();
  // Tell the leader while the alarm is up, and once when it clears; it
  // forgets a report after storage_alarm::peer_report_ttl.
  if (view_->state == raft::role::leader || view_->leader.empty() || (!full && !alarm_reported_)) return;
  boost::json::object body{{"op", "storage_alarm"}, {"full", full}};
  if (send_peer(view_->leader, net::peer_admin{0, false, boost::json::serialize(body)})) alarm_reported_ = full;
}

void gateway_actor::on_view(view_ptr v) {
  const bool leader_appeared = !v->leader.empty() && v->leader != view_->leader;
  if (v->snapshot_index != view_->snapshot_index) {
    const bool was_full = alarm_.full();
    alarm_.on_snapshot(v->snapshot_index);
    alarm_changed(was_full);
  }
  view_ = std::move(v);
  if (leader_appeared || view_->state == raft::role::leader) {
    auto waiting = std::move(waiting_for_leader_);
    waiting_for_leader_.clear();
    for (auto wid : waiting) try_propose(wid);
  }
}

void gateway_actor::on_applied(std::vector<db::apply_result>& results, std::uint64_t applied) {
  applied_index_ = std::max(applied_index_, applied);
  for (auto& r : results) {
    std::uint64_t origin = 0;
    std::optional<std::uint64_t> wid;
    if (auto b = by_index_.find(r.index); b != by_index_.end()) {
      wid = b->second;
      if (auto w = writes_.find(*wid); w != writes_.end()) origin = w->second.origin_conn;
    }
    // Live events: every connection of each user, except the one that asked
    // (it gets the reply instead).
    for (const auto& ev : r.events) {
      auto u = by_user_.find(ev.user);
      if (u == by_user_.end()) continue;
      for (auto cid : std::vector<std::uint64_t>(u->second.begin(), u->second.end())) {
        if (cid == origin) continue;
        ++metrics_.events_sent;
        send_to(cid, ev.json);
      }
    }
    if (!r.deleted_account.empty()) account_deleted(r.deleted_account, r.index);
    if (wid) {
      auto w = writes_.find(*wid);
      if (w != writes_.end() && w->second.term == r.term) {
        complete_write(*wid, {r, {}, {}});
      } else if (w != writes_.end()) {
        // Another leader's entry took this index: ours was never committed,
        // so proposing it again cannot duplicate it.
        by_index_.erase(r.index);
        w->second.index = 0;
        retry_later(*wid);
      }
    }
    recent_[r.index] = std::move(r);
  }
  while (recent_.size() > recent_results_kept) recent_.erase(recent_.begin());
}

void gateway_actor::on_peer(const std::string& from, net::peer_frame& f) {
  std::visit(overloaded{
                 [&](net::peer_propose& p) { on_peer_propose(from, p); },
                 [&](net::peer_admin& a) { on_peer_admin(from, a); },
                 [&](net::peer_propose_resp& r) { on_peer_propose_resp(r); },
                 // Raft traffic, snapshot acks, hellos and refusals stay with the replicator.
                 [&](net::peer_raft&) {}, [&](net::peer_snap_ack&) {}, [&](net::peer_hello&) {},
                 [&](net::peer_refused&) {},
             },
             f);
}

void gateway_actor::on_peer_propose(const std::string& from, net::peer_propose& pp) {
  auto* p = &pp;
  // A follower forwards a proposal: only the leader may take it.
  if (view_->state != raft::role::leader) {
    send_peer(from, net::peer_propose_resp{p->rid, 0, 0, "not_leader", view_->leader});
    return;
  }
  const auto rid = p->rid;
  if (auto why = storage_refusal(p->data, p->conf, false); !why.empty()) {
    ++metrics_.writes_storage_full;
    send_peer(from, net::peer_propose_resp{rid, 0, 0, "storage_full", {}});
    return;
  }
  ++metrics_.proposals;
  const auto tag = next_tag_++;
  if (p->conf) {
    auto cc = raft::decode_conf_entry(p->data);
    if (!cc) {
      send_peer(from, net::peer_propose_resp{rid, 0, 0, "bad_request", {}});
      return;
    }
    proposals_[tag] = peer_proposal{from, rid};
    out_.consensus(consensus_msg::propose_conf{cc->change, tag});
  } else {
    proposals_[tag] = peer_proposal{from, rid};
    out_.consensus(consensus_msg::propose{stamp(p->data), tag});
  }
}

void gateway_actor::on_peer_admin(const std::string& from, net::peer_admin& aa) {
  auto* a = &aa;
  boost::json::error_code ec;
  auto v = boost::json::parse(a->body, ec);
  if (ec || !v.is_object()) return;
  auto& body = v.as_object();
  if (auto* op = body.if_contains("op"); !a->response && op && *op == "storage_alarm") {
    auto* full = body.if_contains("full");
    alarm_.on_peer_report(from, full && full->is_bool() && full->as_bool(), std::chrono::steady_clock::now());
    return;
  }
  if (a->response) {
    auto it = admin_forwards_.find(a->rid);
    if (it == admin_forwards_.end()) return;
    auto done = std::move(it->second.first);
    admin_forwards_.erase(it);
    auto field = [&](const char* k) {
      auto* x = body.if_contains(k);
      return x && x->is_string() ? std::string(x->as_string()) : std::string();
    };
    auto* res = body.if_contains("result");
    done(field("code"), field("message"), res ? boost::json::serialize(*res) : "{}");
    return;
  }
  // A peer (a member relaying a client, or a node asking to join) asks the
  // leader to run an admin op. Peers hold the cluster secret: trusted.
  std::int64_t ms = 5000;
  if (auto* d = body.if_contains("deadline_ms"); d && d->is_int64()) ms = std::clamp<std::int64_t>(d->as_int64(), 0, 600'000);
  const auto rid = a->rid;
  run_admin(std::move(body),
            [this, from, rid](std::string code, std::string message, std::string result) {
              boost::json::object resp{{"code", code}, {"message", message}};
              boost::json::error_code e;
              auto rv = boost::json::parse(result.empty() ? "{}" : result, e);
              resp["result"] = e ? boost::json::value(boost::json::object{}) : rv;
              send_peer(from, net::peer_admin{rid, true, boost::json::serialize(resp)});
            },
            std::chrono::steady_clock::now() + std::chrono::milliseconds(ms));
}

void gateway_actor::on_peer_propose_resp(net::peer_propose_resp& rr) {
  auto* r = &rr;
  auto it = forwarded_.find(r->rid);
  if (it == forwarded_.end()) return;
  const auto wid = it->second;
  forwarded_.erase(it);
  if (r->error == "storage_full") {
    ++metrics_.writes_storage_full;
    complete_write(wid, {std::nullopt, "storage_full",
                         "the leader refuses writes: a member's data is at its storage quota or its disk is full"});
    return;
  }
  raft::proposal p;
  p.index = r->index;
  p.term = r->term;
  if (!r->error.empty()) p.ec = raft::errc::not_leader;
  on_proposed(wid, p);
}

void gateway_actor::sweep() {
  if (stopped_) return;
  const auto now = std::chrono::steady_clock::now();
  std::vector<std::uint64_t> expired;
  for (auto& [wid, w] : writes_)
    if (w.deadline <= now) expired.push_back(wid);
  for (auto wid : expired) {
    std::erase(waiting_for_leader_, wid);
    for (auto it = forwarded_.begin(); it != forwarded_.end();)
      it = it->second == wid ? forwarded_.erase(it) : std::next(it);
    complete_write(wid, {std::nullopt, "unavailable",
                         view_->leader.empty() ? "no leader within the time bound; safe to retry"
                                               : "not committed within the time bound; outcome unknown, "
                                                 "retry with the same nonce"});
  }
  std::vector<std::uint64_t> expired_reads;
  for (auto& [rid, r] : reads_)
    if (r.deadline <= now) expired_reads.push_back(rid);
  for (auto rid : expired_reads) {
    auto r = std::move(reads_[rid]);
    reads_.erase(rid);
    r.done(std::nullopt, "unavailable");
  }
  for (auto it = admin_forwards_.begin(); it != admin_forwards_.end();) {
    if (it->second.second <= now) {
      auto done = std::move(it->second.first);
      it = admin_forwards_.erase(it);
      done("unavailable", "the leader did not answer within the time bound", {});
    } else {
      ++it;
    }
  }
  if (now >= next_limiter_prune_) {
    for (auto* l : {&login_per_user_, &login_per_conn_, &accounts_per_conn_, &accounts_per_addr_}) l->prune(now);
    next_limiter_prune_ = now + std::chrono::seconds(5);
  }
  sweeper_.expires_after(std::chrono::milliseconds(50));
  sweeper_.async_wait([this](const boost::system::error_code& ec) {
    if (!ec) sweep();
  });
}

}  // namespace qc::actors
