#include "actors/events_actor.h"

#include <cmath>

#include <boost/json.hpp>

#include "common/log.h"
#include "common/overloaded.h"

namespace qc::actors {

namespace json = boost::json;
using steady = std::chrono::steady_clock;

namespace {
std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::shared_ptr<const std::string> frame_of(const json::object& o) {
  return std::make_shared<const std::string>(json::serialize(o));
}
}  // namespace

events_actor::events_actor(boost::asio::io_context& io, std::string node_id, bool testing, events_options opt)
    : io_(io),
      node_(std::move(node_id)),
      testing_(testing),
      opt_(opt),
      inbox_(io, [this](events_message&& m) { handle(std::move(m)); }),
      ticker_(io, "events", opt.progress_period, [this] { tick(); }) {}

void events_actor::start() { ticker_.start(); }

void events_actor::stop() {
  stopped_ = true;
  ticker_.stop();
  auto subs = subs_;
  for (const auto& s : subs) s->close(1001, "node stopping");
}

void events_actor::accept(net::stream stream, net::push_session::request req) {
  if (stopped_) return;
  auto s = std::make_shared<net::push_session>(std::move(stream), opt_.queue);
  ++pending_;
  // The session reports back through the mailbox, like any other actor.
  s->run(std::move(req),
         [this](const std::shared_ptr<net::push_session>& x) { tell(events_msg::subscribed{x}); },
         [this](const std::shared_ptr<net::push_session>& x) { tell(events_msg::unsubscribed{x}); });
}

void events_actor::handle(events_message&& m) {
  std::visit(overloaded{
                 [this](events_msg::view& v) { on_view(std::move(v.v)); },
                 [this](events_msg::applied& a) { applied_ = std::max(applied_, a.index); },
                 [this](events_msg::action& a) { on_action(std::move(a)); },
                 [this](events_msg::subscribed& s) { on_subscribed(std::move(s.s)); },
                 [this](events_msg::unsubscribed& s) { subs_.erase(s.s); },
                 [this](events_msg::accept& a) { accept(std::move(a.stream), std::move(a.req)); },
             },
             m);
}

void events_actor::on_view(view_ptr&& v) {
  for (auto& e : events_between(*view_, *v)) record(std::move(e));
  view_ = std::move(v);
}

void events_actor::on_action(events_msg::action&& a) {
  json::object extra{{"op", a.op}};
  if (a.drop_from) {
    drop_from_ = *a.drop_from;
    json::array ids;
    for (const auto& id : drop_from_) ids.emplace_back(id);
    extra["drop_from"] = std::move(ids);
  }
  if (a.pause) {
    paused_until_ = a.pause->count() > 0 ? steady::now() + *a.pause : steady::time_point{};
    extra["pause_ms"] = a.pause->count();
  }
  record({"action", view_->term, std::move(a.text), std::move(extra)});
}

void events_actor::on_subscribed(std::shared_ptr<net::push_session> s) {
  if (pending_ > 0) --pending_;
  if (stopped_ || subs_.size() >= opt_.max_subscribers) {
    s->close(1013, "too many event subscribers");
    return;
  }
  json::array recent;
  for (const auto& e : ring_) recent.push_back(e);
  s->push(frame_of(json::object{{"type", "hello"},
                                {"node", node_},
                                {"testing", testing_},
                                {"progress_ms", opt_.progress_period.count()},
                                {"events", std::move(recent)}}));
  s->push(std::make_shared<const std::string>(progress_json()));
  subs_.insert(std::move(s));
}

void events_actor::record(cluster_event e) {
  json::object o = std::move(e.extra);
  o["type"] = "event";
  o["node"] = node_;
  o["seq"] = ++seq_;
  o["ts"] = now_ms();
  o["kind"] = e.kind;
  o["term"] = e.term;
  o["text"] = e.text;
  if (ring_.size() >= opt_.ring) ring_.pop_front();
  ring_.push_back(o);
  if (!subs_.empty()) broadcast(frame_of(o));
}

void events_actor::broadcast(const std::shared_ptr<const std::string>& frame) {
  for (const auto& s : subs_) s->push(frame);
}

void events_actor::tick() {
  const auto now = steady::now();
  commits_.emplace_back(now, view_->commit_index);
  while (commits_.size() > 2 && now - commits_[1].first >= std::chrono::seconds(1)) commits_.pop_front();
  if (paused_until_ != steady::time_point{} && now >= paused_until_) {
    paused_until_ = {};
    log::warn("testing: pause over: peer frames flow again");
    record({"heal", view_->term, "pause over: peer frames flow again", {{"op", "admin.pause"}}});
  }
  if (!subs_.empty()) broadcast(std::make_shared<const std::string>(progress_json()));
}

std::string events_actor::progress_json() {
  json::object o;
  o["type"] = "progress";
  o["node"] = node_;
  o["ts"] = now_ms();
  o["role"] = view_->role_name();
  o["term"] = view_->term;
  o["leader"] = view_->leader.empty() ? json::value(nullptr) : json::value(view_->leader);
  o["commit"] = view_->commit_index;
  o["applied"] = applied_;
  o["last"] = view_->last_index;
  o["snapshot"] = view_->snapshot_index;
  double cps = 0;
  if (commits_.size() >= 2) {
    const auto dt = std::chrono::duration<double>(commits_.back().first - commits_.front().first).count();
    if (dt > 0) cps = static_cast<double>(commits_.back().second - commits_.front().second) / dt;
  }
  o["commits_per_s"] = std::llround(cps);  // an integer: Boost.JSON writes doubles as 1.76E1
  json::array members;
  for (const auto& m : view_->config.members) {
    json::object mo{{"id", m.id}, {"address", m.address}, {"voter", m.voter}};
    for (const auto& p : view_->progress)
      if (p.id == m.id && m.id != view_->id) {
        mo["match"] = p.match;
        mo["next"] = p.next;
        mo["state"] = raft::to_string(p.state);
        mo["active"] = p.recent_active;
      }
    members.push_back(std::move(mo));
  }
  o["members"] = std::move(members);
  json::array drops;
  for (const auto& id : drop_from_) drops.emplace_back(id);
  o["drop_from"] = std::move(drops);
  const auto left = paused_until_ == steady::time_point{} ? 0
                    : std::chrono::duration_cast<std::chrono::milliseconds>(paused_until_ - steady::now()).count();
  o["paused_ms"] = std::max<std::int64_t>(0, left);
  return json::serialize(o);
}

}  // namespace qc::actors
