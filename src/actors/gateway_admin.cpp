// Admin ops (docs/PROTOCOL.md) and joins, the gateway's part: checking the
// admin token, relaying an op to the leader, and on the leader handing it to
// the membership actor (membership_actor.h), which drives the change.
#include <boost/json.hpp>

#include "actors/events_actor.h"
#include "actors/gateway_actor.h"
#include "chat/password.h"
#include "common/log.h"

namespace qc::actors {

namespace json = boost::json;
using clock = std::chrono::steady_clock;

namespace {
/// How long an add may go on: a learner may need a big snapshot.
constexpr std::chrono::seconds add_node_bound{300};
/// Every admin op is answered within 30 s (docs/PROTOCOL.md); an add that
/// is still catching its learner up then is answered `unavailable` and
/// goes on (asked again, it answers with the add under way).
constexpr std::chrono::seconds admin_reply_bound{25};
}  // namespace

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
  if (rq.kind == chat::op::admin_disk_stall) {
    // Fault injection: every Raft log write of this node takes delay_ms
    // longer, as on a disk shared with a large write (a joiner's snapshot).
    if (!cfg_.testing_enabled) {
      reply_error(conn_id, rq, "forbidden", "admin.disk_stall needs [testing] enabled = true in the config");
      return;
    }
    log::warn("testing: every Raft log write now takes ", rq.delay_ms, " ms longer");
    if (out_.storage) out_.storage(storage_msg::testing_delay{std::chrono::milliseconds(rq.delay_ms)});
    reply(conn_id, rq, json::serialize(json::object{{"delay_ms", rq.delay_ms}}));
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
  const bool add = rq.kind == chat::op::admin_add_node;
  const auto bound = add ? clock::duration(add_node_bound) : clock::duration(timeout_);
  auto answered = std::make_shared<bool>(false);
  if (add) {
    auto t = std::make_shared<boost::asio::steady_timer>(io_, admin_reply_bound);
    t->async_wait([this, t, conn_id, rq, answered](const boost::system::error_code& ec) {
      if (ec || *answered || stopped_) return;
      *answered = true;
      reply_error(conn_id, rq, "unavailable",
                  "node " + rq.node_id + " is not a voter yet: it is still catching up as a learner, and the add goes "
                  "on (it is promoted once caught up; GET /status shows it). Asking again waits for the same add; "
                  "admin.remove_node " + rq.node_id + " cancels it");
    });
  }
  run_admin(std::move(body),
            [this, conn_id, rq, answered](std::string code, std::string message, std::string result) {
              if (*answered) return;
              *answered = true;
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
  if (view_->state == raft::role::leader) {
    const auto tag = next_admin_tag_++;
    admin_local_[tag] = std::move(done);
    out_.membership(membership_msg::run{std::move(body), tag, deadline});
    return;
  }
  if (!view_->leader.empty() && view_->leader != view_->id) {
    const auto rid = next_admin_rid_++;
    json::object req = body;
    req["deadline_ms"] =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock::now()).count();
    if (send_peer(view_->leader, net::peer_admin{rid, false, json::serialize(req)})) {
      admin_forwards_[rid] = {std::move(done), deadline};
      return;
    }
  }
  auto t = std::make_shared<boost::asio::steady_timer>(io_, std::chrono::milliseconds(100));
  t->async_wait([this, t, body = std::move(body), done = std::move(done), deadline](const boost::system::error_code& ec) mutable {
    if (!ec) run_admin(std::move(body), std::move(done), deadline);
  });
}

void gateway_actor::propose_conf(std::uint64_t tag, raft::conf_change cc) {
  submit_write(raft::encode_conf_entry(raft::conf_entry{std::move(cc), {}}), 0,
               [this, tag](write_outcome out) {
                 out_.membership(membership_msg::conf_done{tag, out.result.has_value(), std::move(out.error_code),
                                                           std::move(out.error_message)});
               },
               true);
}

}  // namespace qc::actors
