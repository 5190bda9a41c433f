#include "actors/membership_actor.h"

#include <boost/json.hpp>

#include "common/log.h"
#include "common/overloaded.h"

namespace qc::actors {

namespace json = boost::json;
using clock = std::chrono::steady_clock;

namespace {
constexpr std::chrono::milliseconds poll_every{50};

std::string str(const json::object& o, const char* key) {
  auto* v = o.if_contains(key);
  return v && v->is_string() ? std::string(v->as_string()) : std::string();
}
}  // namespace

membership_actor::membership_actor(boost::asio::io_context& io, std::chrono::milliseconds election_timeout,
                                   membership_outputs out)
    : election_timeout_(election_timeout),
      out_(std::move(out)),
      timer_(io),
      inbox_(io, [this](membership_message&& m) { handle(std::move(m)); }) {}

void membership_actor::stop() {
  stopped_ = true;
  timer_.cancel();
}

void membership_actor::handle(membership_message&& m) {
  std::visit(overloaded{
                 [&](membership_msg::view& v) { view_ = std::move(v.v); },
                 [&](membership_msg::run& r) { start(std::move(r)); },
                 [&](membership_msg::conf_done& c) {
                   if (!task_ || task_->tag != c.tag || !task_->busy) return;  // an op that ended meanwhile
                   task_->busy = false;
                   if (!c.ok) {
                     finish(std::move(c.code), std::move(c.message), {});
                     return;
                   }
                   // add/join: learner added -> 1, promoted -> 3; remove: removed -> 1.
                   task_->stage = task_->stage == 2 ? 3 : 1;
                   step();
                 },
                 [&](membership_msg::transferred& t) {
                   if (t.ec && task_ && task_->tag == t.tag && str(task_->body, "op") == "admin.transfer_leader")
                     finish("unavailable", "leadership transfer refused: " + t.ec.message(), {});
                 },
                 [&](membership_msg::poll&) { step(); },
             },
             m);
}

std::string membership_actor::members_json() const {
  json::array a;
  for (const auto& m : view_->config.members) a.push_back(json::object{{"id", m.id}, {"address", m.address}, {"voter", m.voter}});
  return json::serialize(json::object{{"members", std::move(a)}});
}

void membership_actor::finish(std::string code, std::string message, std::string result) {
  auto t = std::move(*task_);
  task_.reset();
  log::info("admin: ", str(t.body, "op"), " ", str(t.body, "id"), " -> ", code.empty() ? "ok" : code + ": " + message);
  for (auto tag : t.also) out_.done(tag, code, message, result);
  out_.done(t.tag, std::move(code), std::move(message), std::move(result));
}

void membership_actor::again() {
  timer_.expires_after(poll_every);
  timer_.async_wait([this](const boost::system::error_code& ec) {
    if (!ec && !stopped_) tell(membership_msg::poll{});
  });
}

void membership_actor::start(membership_msg::run&& r) {
  const std::string op = str(r.body, "op");
  auto answer = [&](std::string code, std::string message, std::string result) {
    out_.done(r.tag, std::move(code), std::move(message), std::move(result));
  };
  if (stopped_) return;
  if (view_->state != raft::role::leader) {  // leadership moved while the op travelled here
    out_.elsewhere(r.tag, std::move(r.body), r.deadline);
    return;
  }
  if (op != "admin.transfer_leader" && op != "admin.remove_node" && op != "admin.add_node" && op != "join") {
    answer("bad_request", "unknown admin op '" + op + "'", {});
    return;
  }
  if (op == "admin.transfer_leader") {
    const std::string to = str(r.body, "to");
    if (to == view_->id) {
      answer({}, {}, json::serialize(json::object{{"leader", to}}));
      return;
    }
    if (!raft::is_voter(view_->config, to)) {
      answer("not_found", "no voting member '" + to + "'", {});
      return;
    }
  } else if (op == "admin.remove_node") {
    if (!raft::find_member(view_->config, str(r.body, "id"))) {
      answer("not_found", "no member '" + str(r.body, "id") + "'", {});
      return;
    }
  }
  // Removing the very node an unfinished add is waiting for (a typo'd or
  // dead address) cancels that add instead of waiting out its time bound.
  if (op == "admin.remove_node" && task_ && !task_->busy && !view_->conf_change_pending &&
      str(task_->body, "id") == str(r.body, "id") &&
      (str(task_->body, "op") == "admin.add_node" || str(task_->body, "op") == "join")) {
    log::info("admin: adding ", str(r.body, "id"), " cancelled by admin.remove_node");
    finish("conflict", "cancelled by admin.remove_node of the same node", {});
  }
  // The same add asked again (a client that got no answer in time, while
  // the learner still catches up): it waits for the add under way.
  if (op == "admin.add_node" && task_ && str(task_->body, "id") == str(r.body, "id") &&
      str(task_->body, "address") == str(r.body, "address") &&
      (str(task_->body, "op") == "admin.add_node" || str(task_->body, "op") == "join")) {
    log::info("admin: adding ", str(r.body, "id"), " asked again; answered with the add under way");
    task_->also.push_back(r.tag);
    return;
  }
  if (task_ || view_->conf_change_pending) {
    answer("conflict", "a membership change is already in progress", {});
    return;
  }
  task_ = task{std::move(r.body), r.tag, r.deadline, 0, false, {}, std::nullopt, {}};
  log::info("admin: starting ", op, " ", str(task_->body, "id"));
  step();
}

void membership_actor::step() {
  if (!task_ || stopped_) return;
  auto& t = *task_;
  if (t.busy) return;
  if (clock::now() >= t.deadline) {
    finish("unavailable", "membership change did not finish within the time bound", {});
    return;
  }
  const std::string op = str(t.body, "op");
  const std::string id = str(t.body, op == "admin.transfer_leader" ? "to" : "id");

  if (view_->state != raft::role::leader) {
    // Leadership moved (a transfer, or we were deposed): let the new leader
    // finish the job.
    if (op == "admin.transfer_leader" && view_->leader == id) {
      finish({}, {}, json::serialize(json::object{{"leader", id}}));
      return;
    }
    if (view_->leader.empty()) {
      again();
      return;
    }
    auto moved = std::move(*task_);
    task_.reset();
    for (auto tag : moved.also) out_.elsewhere(tag, moved.body, moved.deadline);
    out_.elsewhere(moved.tag, std::move(moved.body), moved.deadline);
    return;
  }

  if (op == "admin.transfer_leader") {
    if (t.stage == 0) {
      t.stage = 1;
      out_.transfer(t.tag, id);  // a refusal ends the task (transferred)
    } else if (t.stage == 1 && t.round_start != clock::time_point{} &&
               clock::now() - t.round_start > 4 * election_timeout_) {
      finish("unavailable", "leadership transfer did not complete", {});
      return;
    }
    if (t.round_start == clock::time_point{}) t.round_start = clock::now();
    again();
    return;
  }

  if (op == "admin.remove_node") {
    if (id == view_->id) {
      // Removing the leader: hand leadership to the most caught-up voter first.
      if (t.stage == 0) {
        std::string best;
        std::uint64_t best_match = 0;
        for (const auto& p : view_->progress)
          if (p.id != view_->id && p.voter && p.recent_active && p.match >= best_match) {
            best = p.id;
            best_match = p.match;
          }
        if (best.empty()) {
          // `recent_active` is cleared at every check-quorum round and set
          // again by the next responses: look again until the deadline.
          if (clock::now() + poll_every >= t.deadline) {
            finish("unavailable", "no other live voter to hand leadership to", {});
            return;
          }
          again();
          return;
        }
        t.stage = 1;
        log::info("admin: removing the leader; transferring leadership to ", best, " first");
        out_.transfer(t.tag, best);  // its answer matters not: the view shows the outcome
      }
      again();
      return;
    }
    if (t.stage == 0) {
      t.busy = true;
      out_.propose_conf(t.tag, {raft::conf_change_type::remove, id, {}});
      return;
    }
    finish({}, {}, members_json());
    return;
  }

  // admin.add_node and join: learner, catch up, promote.
  const std::string address = str(t.body, "address");
  const raft::member* m = raft::find_member(view_->config, id);
  if (t.stage == 0) {
    if (m && m->voter) {
      finish({}, {}, members_json());
      return;
    }
    if (!m) {
      t.busy = true;
      out_.propose_conf(t.tag, {raft::conf_change_type::add_learner, id, address});
      return;
    }
    t.stage = 1;
  }
  if (t.stage == 1) {
    // Promote only once the learner is within one round of the leader: a
    // round of replication ended within an election timeout (§4.2.1).
    std::uint64_t match = 0;
    for (const auto& p : view_->progress)
      if (p.id == id) match = p.match;
    if (!t.rounds) t.rounds.emplace(static_cast<std::uint64_t>(election_timeout_.count()));
    const auto now_ms = static_cast<std::uint64_t>(
        std::chrono::duration_cast<std::chrono::milliseconds>(clock::now().time_since_epoch()).count());
    const int rounds_before = t.rounds->rounds_done();
    if (t.rounds->observe(now_ms, view_->last_index, match)) {
      t.stage = 2;
      t.busy = true;
      log::info("admin: learner ", id, " caught up: round ", t.rounds->rounds_done(), " reached index ",
                t.rounds->round_target(), " in ", t.rounds->last_round_ms(), " ms (election timeout ",
                election_timeout_.count(), " ms), match ", match, ", leader last ", view_->last_index, "; promoting");
      out_.propose_conf(t.tag, {raft::conf_change_type::promote, id, {}});
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
