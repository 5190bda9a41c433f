// The join actor: a node started with --join and no configuration asks to be
// added, through whoever it is linked to, every 250 ms until the consensus
// actor's published view shows it as a voter. It keeps nothing but the
// latest view it was sent (join_msg::view); its requests go to the
// replicator as replicator_msg::send_join (the leader if linked, else any
// linked peer, else the seed is dialed again). Repeats while the change is
// running get `conflict` on the leader and are ignored; one after a failed
// or expired attempt starts it again.
//
// Owned by: the loop thread.
#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <utility>
#include <variant>

#include <boost/asio/io_context.hpp>
#include <boost/json.hpp>

#include "actors/mailbox.h"
#include "actors/raft_view.h"
#include "actors/replicator_actor.h"
#include "actors/ticker.h"
#include "common/log.h"
#include "common/overloaded.h"

namespace qc::actors {

/// Messages the join actor accepts. Owned by the join actor.
namespace join_msg {
/// A new raft_view from the consensus actor.
struct view {
  view_ptr v;
};
/// From its own ticker: time to ask again.
struct tick {};
}  // namespace join_msg

/// Everything the join actor accepts. Owned by the join actor.
using join_message = std::variant<join_msg::view, join_msg::tick>;

/// The join actor. Owned by the node; reached only through tell().
class join_actor {
 public:
  /// `self`, `advertise`: this node's id and address; `seed`: the --join
  /// address; `replicator`: the replicator's mailbox.
  join_actor(boost::asio::io_context& io, std::string self, std::string advertise, std::string seed,
             std::function<void(replicator_message)> replicator)
      : self_(std::move(self)),
        advertise_(std::move(advertise)),
        seed_(std::move(seed)),
        replicator_(std::move(replicator)),
        inbox_(io, [this](join_message&& m) { handle(std::move(m)); }),
        ticker_(io, "join", std::chrono::milliseconds(250), [this] { tell(join_msg::tick{}); }) {}

  /// Queues a message. Loop thread only.
  void tell(join_message m) { inbox_.push(std::move(m)); }
  /// Dials the seed and starts asking.
  void start() {
    log::info("joining the cluster through ", seed_);
    replicator_(replicator_msg::dial{seed_});
    ticker_.start();
  }
  /// Stops asking.
  void stop() { ticker_.stop(); }

 private:
  void handle(join_message&& m) {
    std::visit(overloaded{
                   [&](join_msg::view& v) {
                     view_ = std::move(v.v);
                     if (!done_ && raft::is_voter(view_->config, self_)) {
                       done_ = true;
                       log::info("joined the cluster as a voter");
                       ticker_.stop();
                     }
                   },
                   [&](join_msg::tick&) {
                     if (done_) return;
                     boost::json::object body{
                         {"op", "join"}, {"id", self_}, {"address", advertise_}, {"deadline_ms", 300000}};
                     replicator_(replicator_msg::send_join{
                         view_->leader, net::peer_admin{1, false, boost::json::serialize(body)}, seed_});
                   },
               },
               m);
  }

  std::string self_, advertise_, seed_;
  std::function<void(replicator_message)> replicator_;
  loop_mailbox<join_message> inbox_;
  ticker ticker_;
  view_ptr view_ = empty_view();  ///< the latest the consensus actor published
  bool done_ = false;
};

}  // namespace qc::actors
