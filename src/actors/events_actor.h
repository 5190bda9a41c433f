// The events actor: the source of the live cluster view's event stream
// (GET /events, docs/PROTOCOL.md). It is fed typed messages only: the
// consensus actor's raft_views (turned into timeline events by
// cluster_event.h), the apply actor's applied index, and the gateway's
// admin actions. It keeps a bounded ring of recent events, so a page that
// connects late sees recent history, and pushes every event plus a
// progress frame every `progress_period` to each subscriber.
//
// Owned by: the loop thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/json/object.hpp>

#include "actors/cluster_event.h"
#include "actors/mailbox.h"
#include "actors/raft_view.h"
#include "actors/ticker.h"
#include "net/push_session.h"

namespace qc::actors {

namespace events_msg {
/// A new raft_view from the consensus actor.
struct view {
  view_ptr v;
};
/// The apply actor applied up to `index`.
struct applied {
  std::uint64_t index = 0;
};
/// An admin action taken on this node (gateway): shown on the timeline.
/// `drop_from` / `pause` carry the fault state it set, if it set one.
struct action {
  std::string op;    ///< wire name, e.g. "admin.net_filter"
  std::string text;  ///< one line for people
  std::optional<std::vector<std::string>> drop_from;
  std::optional<std::chrono::milliseconds> pause;
};
/// A subscriber's WebSocket completed its handshake / went away.
struct subscribed {
  std::shared_ptr<net::push_session> s;
};
struct unsubscribed {
  std::shared_ptr<net::push_session> s;
};
/// An upgraded /events stream from the server (network callback).
struct accept {
  net::stream stream;
  net::push_session::request req;
};
}  // namespace events_msg

/// Everything the events actor accepts.
using events_message = std::variant<events_msg::view, events_msg::applied, events_msg::action,
                                    events_msg::subscribed, events_msg::unsubscribed, events_msg::accept>;

/// Tunables of the event stream.
struct events_options {
  std::chrono::milliseconds progress_period{250};  ///< one progress frame per subscriber this often
  std::size_t ring = 256;                           ///< recent events kept for late subscribers
  std::size_t max_subscribers = 64;                 ///< more are refused (close 1013)
  net::push_limits queue;                           ///< per subscriber
};

/// The actor.
class events_actor {
 public:
  events_actor(boost::asio::io_context& io, std::string node_id, bool testing, events_options opt = {});

  /// Queues a message. Loop thread only.
  void tell(events_message m) { inbox_.push(std::move(m)); }
  /// Starts the progress ticker.
  void start();
  /// Closes every subscriber and stops the ticker.
  void stop();

 private:
  void handle(events_message&& m);
  /// Takes an upgraded /events stream from the server.
  void accept(net::stream stream, net::push_session::request req);
  void on_view(view_ptr&& v);
  void on_action(events_msg::action&& a);
  void on_subscribed(std::shared_ptr<net::push_session> s);
  /// Stamps, keeps and pushes one event.
  void record(cluster_event e);
  void broadcast(const std::shared_ptr<const std::string>& frame);
  void tick();
  std::string progress_json();

  boost::asio::io_context& io_;
  std::string node_;
  bool testing_;
  events_options opt_;
  loop_mailbox<events_message> inbox_;
  ticker ticker_;

  view_ptr view_ = empty_view();
  std::uint64_t applied_ = 0;
  std::uint64_t seq_ = 0;
  std::deque<boost::json::object> ring_;
  std::set<std::shared_ptr<net::push_session>> subs_;
  std::size_t pending_ = 0;  ///< handshakes under way (counted against max_subscribers)

  /// Fault state set by admin actions on this node, for the page.
  std::vector<std::string> drop_from_;
  std::chrono::steady_clock::time_point paused_until_{};
  /// (time, commit index) samples over the last second: commits per second.
  std::deque<std::pair<std::chrono::steady_clock::time_point, std::uint64_t>> commits_;
  bool stopped_ = false;
};

}  // namespace qc::actors
