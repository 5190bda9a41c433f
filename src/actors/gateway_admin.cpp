// Admin ops (docs/PROTOCOL.md) and joins: single-server membership changes
// driven by the leader, one at a time (dissertation §4.1), with learners
// promoted only once they keep up (§4.2.1), and removal of the leader done
// by handing leadership over first (§3.10).
#include <boost/json.hpp>

#include "actors/events_actor.h"
#include "actors/gateway_actor.h"
#include "chat/password.h"
#include "common/log.h"

namespace qc::actors {

namespace json = boost::json;
using clock = std::chrono::steady_clock;

namespace {
constexpr std::chrono::milliseconds admin_poll{50};
constexpr std::chrono::seconds add_node_bound{300};  // a learner may need a big snapshot

std::string str(const json::object& o, const char* key) {
  auto* v = o.if_contains(key);
  return v && v->is_string() ? std::string(v->as_string()) : std::string();
}
}  // namespace

std::string gateway_actor::members_json() const {
  json::array a;
  for (const auto& m : view_.config.members) a.push_back(json::object{{"id", m.id}, {"address", m.address}, {"voter", m.voter}});
  return json::serialize(json::object{{"members", std::move(a)}});
}

void gateway_actor::op_admin(std::uint64_t conn_id, chat::request rq) {
  if (cfg_.admin_token.empty()) {
    // No token configured must not mean "any token, even empty, will do".
    reply_error(conn_id, rq, "forbidden", "admin ops are disabled: no cluster.admin_token configured");
    return;
  }
  if (!chat::constant_time_equal(rq.admin_token, cfg_.admin_token)) {
    reply_error(conn_id, rq, "forbidden", "bad admin token");
    return;
  }
  if (rq.kind == chat::op::admin_digest) {
    submit_read(rq.cons,
                [](db::chat_store& s) {
                  return json::serialize(json::object{{"digest", s.state_digest()}, {"applied_index", s.applied_index()}});
                },
                [this, conn_id, rq](std::optional<std::string> res, std::string err) {
                  if (!res) reply_error(conn_id, rq, err, "no leader within the time bound; safe to retry");
                  else reply(conn_id, rq, *res);
                });
    return;
  }
  if (rq.kind == chat::op::admin_net_filter || rq.kind == chat::op::admin_pause) {
    op_fault(conn_id, std::move(rq));
    return;
  }
  // Membership and leadership changes: on the live cluster view's timeline.
  const std::string what = std::string(chat::to_string(rq.kind)) + " " + rq.node_id +
                           (rq.address.empty() ? "" : " at " + rq.address);
  log::info("admin: ", what, " requested by a client");
  if (out_.events) out_.events(events_msg::action{chat::to_string(rq.kind), what + " requested", {}, {}});
  json::object body;
  body["op"] = chat::to_string(rq.kind);
  body["id"] = rq.node_id;
  body["to"] = rq.node_id;
  body["address"] = rq.address;
  const auto bound = rq.kind == chat::op::admin_add_node ? clock::duration(add_node_bound) : clock::duration(timeout_);
  run_admin(std::move(body),
            [this, conn_id, rq](std::string code, std::string message, std::string result) {
              if (code.empty())
                reply(conn_id, rq, result);
              else
                reply_error(conn_id, rq, code, message);
            },
            clock::now() + bound);
}

void gateway_actor::run_admin(json::object body, admin_cb done, clock::time_point deadline) {
  if (stopped_) return;
  if (clock::now() >= deadline) {
    done("unavailable", "no leader within the time bound; safe to retry", {});
    return;
  }
  if (view_.state == raft::role::leader) {
    start_admin_task(std::move(body), std::move(done), deadline);
    return;
  }
  if (!view_.leader.empty() && view_.leader != view_.id) {
    const auto rid = next_admin_rid_++;
    json::object req = body;
    req["deadline_ms"] =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock::now()).count();
    if (send_peer(view_.leader, net::peer_admin{rid, false, json::serialize(req)})) {
      admin_forwards_[rid] = {std::move(done), deadline};
      return;
    }
  }
  auto t = std::make_shared<boost::asio::steady_timer>(io_, std::chrono::milliseconds(100));
  t->async_wait([this, t, body = std::move(body), done = std::move(done), deadline](const boost::system::error_code& ec) mutable {
    if (!ec) run_admin(std::move(body), std::move(done), deadline);
  });
}

void gateway_actor::propose_conf(raft::conf_change cc, std::function<void(write_outcome)> done) {
  submit_write(raft::encode_conf_entry(raft::conf_entry{std::move(cc), {}}), 0, std::move(done), true);
}

void gateway_actor::start_admin_task(json::object body, admin_cb done, clock::time_point deadline) {
  const std::string op = str(body, "op");
  if (op != "admin.transfer_leader" && op != "admin.remove_node" && op != "admin.add_node" && op != "join") {
    done("bad_request", "unknown admin op '" + op + "'", {});
    return;
  }
  if (op == "admin.transfer_leader") {
    const std::string to = str(body, "to");
    if (to == view_.id) {
      done({}, {}, json::serialize(json::object{{"leader", to}}));
      return;
    }
    if (!raft::is_voter(view_.config, to)) {
      done("not_found", "no voting member '" + to + "'", {});
      return;
    }
  } else if (op == "admin.remove_node") {
    if (!raft::find_member(view_.config, str(body, "id"))) {
      done("not_found", "no member '" + str(body, "id") + "'", {});
      return;
    }
  }
  // Removing the very node an unfinished add is waiting for (a typo'd or
  // dead address) cancels that add instead of waiting out its time bound.
  if (op == "admin.remove_node" && admin_ && !admin_->busy && !view_.conf_change_pending &&
      str(admin_->body, "id") == str(body, "id") &&
      (str(admin_->body, "op") == "admin.add_node" || str(admin_->body, "op") == "join")) {
    auto cancelled = std::move(*admin_);
    admin_.reset();
    log::info("admin: adding ", str(body, "id"), " cancelled by admin.remove_node");
    cancelled.done("conflict", "cancelled by admin.remove_node of the same node", {});
  }
  if (admin_ || view_.conf_change_pending) {
    done("conflict", "a membership change is already in progress", {});
    return;
  }
  admin_ = admin_task{std::move(body), std::move(done), deadline, 0, false, {}, std::nullopt};
  log::info("admin: starting ", op, " ", str(admin_->body, "id"));
  admin_step();
}

void gateway_actor::admin_step() {
  if (!admin_ || stopped_) return;
  auto& t = *admin_;
  auto finish = [this](std::string code, std::string message, std::string result) {
    auto task = std::move(*admin_);
    admin_.reset();
    log::info("admin: ", str(task.body, "op"), " ", str(task.body, "id"), " -> ",
              code.empty() ? "ok" : code + ": " + message);
    task.done(std::move(code), std::move(message), std::move(result));
  };
  auto again = [this] {
    admin_timer_.expires_after(admin_poll);
    admin_timer_.async_wait([this](const boost::system::error_code& ec) {
      if (!ec) admin_step();
    });
  };
  auto after_commit = [this](int next_stage) {
    return [this, next_stage](write_outcome out) {
      if (!admin_) return;
      admin_->busy = false;
      if (!out.result) {
        auto task = std::move(*admin_);
        admin_.reset();
        task.done(out.error_code, out.error_message, {});
        return;
      }
      admin_->stage = next_stage;
      admin_step();
    };
  };
  if (t.busy) return;
  if (clock::now() >= t.deadline) {
    finish("unavailable", "membership change did not finish within the time bound", {});
    return;
  }
  const std::string op = str(t.body, "op");
  const std::string id = str(t.body, op == "admin.transfer_leader" ? "to" : "id");

  if (view_.state != raft::role::leader) {
    // Leadership moved (a transfer, or we were deposed): let the new leader
    // finish the job.
    if (op == "admin.transfer_leader" && view_.leader == id) {
      finish({}, {}, json::serialize(json::object{{"leader", id}}));
      return;
    }
    if (view_.leader.empty()) {
      again();
      return;
    }
    auto task = std::move(*admin_);
    admin_.reset();
    run_admin(std::move(task.body), std::move(task.done), task.deadline);
    return;
  }

  if (op == "admin.transfer_leader") {
    if (t.stage == 0) {
      t.stage = 1;
      out_.consensus(consensus_msg::transfer{id, admin_transfer_tag});  // a refusal ends the task (on_reply)
    } else if (t.stage == 1 && clock::now() - t.round_start > std::chrono::milliseconds(4 * cfg_.election_timeout_ms) &&
               t.round_start != clock::time_point{}) {
      finish("unavailable", "leadership transfer did not complete", {});
      return;
    }
    if (t.round_start == clock::time_point{}) t.round_start = clock::now();
    again();
    return;
  }

  if (op == "admin.remove_node") {
    if (id == view_.id) {
      // Removing the leader: hand leadership to the most caught-up voter first.
      if (t.stage == 0) {
        std::string best;
        std::uint64_t best_match = 0;
        for (const auto& p : view_.progress)
          if (p.id != view_.id && p.voter && p.recent_active && p.match >= best_match) {
            best = p.id;
            best_match = p.match;
          }
        if (best.empty()) {
          // `recent_active` is cleared at every check-quorum round and set
          // again by the next responses: look again until the deadline.
          if (clock::now() + admin_poll >= t.deadline) {
            finish("unavailable", "no other live voter to hand leadership to", {});
            return;
          }
          again();
          return;
        }
        t.stage = 1;
        log::info("admin: removing the leader; transferring leadership to ", best, " first");
        out_.consensus(consensus_msg::transfer{best, ignored_transfer_tag});
      }
      again();
      return;
    }
    if (t.stage == 0) {
      t.busy = true;
      propose_conf({raft::conf_change_type::remove, id, {}}, after_commit(1));
      return;
    }
    finish({}, {}, members_json());
    return;
  }

  // admin.add_node and join: learner, catch up, promote.
  const std::string address = str(t.body, "address");
  const raft::member* m = raft::find_member(view_.config, id);
  if (t.stage == 0) {
    if (m && m->voter) {
      finish({}, {}, members_json());
      return;
    }
    if (!m) {
      t.busy = true;
      propose_conf({raft::conf_change_type::add_learner, id, address}, after_commit(1));
      return;
    }
    t.stage = 1;
  }
  if (t.stage == 1) {
    // Promote only once the learner is within one round of the leader: a
    // round of replication ended within an election timeout (§4.2.1).
    std::uint64_t match = 0;
    for (const auto& p : view_.progress)
      if (p.id == id) match = p.match;
    if (!t.rounds) t.rounds.emplace(static_cast<std::uint64_t>(cfg_.election_timeout_ms));
    const auto now_ms = static_cast<std::uint64_t>(
        std::chrono::duration_cast<std::chrono::milliseconds>(clock::now().time_since_epoch()).count());
    const int rounds_before = t.rounds->rounds_done();
    if (t.rounds->observe(now_ms, view_.last_index, match)) {
      t.stage = 2;
      t.busy = true;
      log::info("admin: learner ", id, " caught up: round ", t.rounds->rounds_done(), " reached index ",
                t.rounds->round_target(), " in ", t.rounds->last_round_ms(), " ms (election timeout ",
                cfg_.election_timeout_ms, " ms), match ", match, ", leader last ", view_.last_index, "; promoting");
      propose_conf({raft::conf_change_type::promote, id, {}}, after_commit(3));
      return;
    }
    if (t.rounds->rounds_done() != rounds_before)
      log::info("admin: learner ", id, " round ", rounds_before + 1, " took ", t.rounds->last_round_ms(),
                " ms (over the election timeout); next round to index ", t.rounds->round_target());
    again();
    return;
  }
  finish({}, {}, members_json());
}

}  // namespace qc::actors
