// The [testing] fault ops (docs/PROTOCOL.md): admin.net_filter (drop the
// peer frames arriving from some peers) and admin.pause (drop every peer
// frame in and out for a while, then heal). Both act on the node that
// receives them, are refused unless [testing] enabled = true, are logged,
// and appear on the live cluster view's timeline.
#include <boost/json.hpp>

#include "actors/events_actor.h"
#include "actors/gateway_actor.h"
#include "common/log.h"

namespace qc::actors {

namespace json = boost::json;

void gateway_actor::op_fault(std::uint64_t conn_id, chat::request rq) {
  const char* name = chat::to_string(rq.kind);
  if (!cfg_.testing_enabled) {
    reply_error(conn_id, rq, "forbidden", std::string(name) + " needs [testing] enabled = true in the config");
    return;
  }
  if (rq.kind == chat::op::admin_pause) {
    const std::chrono::milliseconds d(rq.pause_ms);
    const std::string text = d.count() > 0 ? "testing: pausing: every peer frame in and out dropped for " +
                                                 std::to_string(d.count()) + " ms"
                                           : std::string("testing: pause lifted");
    log::warn(text);
    out_.replicator(replicator_msg::pause{d});
    if (out_.events) out_.events(events_msg::action{name, text, std::nullopt, d});
    reply(conn_id, rq, json::serialize(json::object{{"paused_ms", d.count()}}));
    return;
  }
  std::string list;
  json::array ids;
  for (const auto& id : rq.drop_from) {
    list += (list.empty() ? "" : ",") + id;
    ids.emplace_back(id);
  }
  const std::string text =
      list.empty() ? std::string("testing: peer filter cleared") : "testing: dropping peer frames from [" + list + "]";
  log::warn(text);
  out_.replicator(replicator_msg::set_drop_from{{rq.drop_from.begin(), rq.drop_from.end()}});
  if (out_.events) out_.events(events_msg::action{name, text, rq.drop_from, std::nullopt});
  reply(conn_id, rq, json::serialize(json::object{{"drop_from", std::move(ids)}}));
}

}  // namespace qc::actors
