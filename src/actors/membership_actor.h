// The membership actor: drives the one membership or leadership change this
// leader runs at a time (dissertation §4.1): admin.add_node and join (a
// learner first, promoted once it keeps up: §4.2.1 catch-up rounds),
// admin.remove_node (removing the leader hands leadership over first,
// §3.10) and admin.transfer_leader. The gateway hands it an op
// (membership_msg::run) when this node leads, and gets exactly one answer
// per op back as a message: gateway_msg::admin_done, or
// gateway_msg::admin_elsewhere when leadership moved and the op must be
// forwarded to the new leader. Its configuration changes go through the
// gateway's write path (gateway_msg::propose_conf, answered with
// membership_msg::conf_done), its transfers to the consensus actor
// (answered with membership_msg::transferred). It decides from the latest
// raft_view it was sent.
//
// Owned by: the loop thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <system_error>
#include <variant>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/json/object.hpp>

#include "actors/mailbox.h"
#include "actors/raft_view.h"
#include "raft/catch_up.h"
#include "raft/membership.h"

namespace qc::actors {

/// Messages the membership actor accepts. Owned by the membership actor.
namespace membership_msg {
/// A new raft_view (from the consensus actor).
struct view {
  view_ptr v;
};
/// Run an admin op ({"op","id","to","address"}) on this leader (from the
/// gateway); `tag` names it in the answer.
struct run {
  boost::json::object body;
  std::uint64_t tag = 0;
  std::chrono::steady_clock::time_point deadline;
};
/// The outcome of a configuration change proposed for op `tag` (from the
/// gateway's write path): committed and applied, or failed with a code.
struct conf_done {
  std::uint64_t tag = 0;
  bool ok = false;
  std::string code;
  std::string message;
};
/// The consensus actor's answer to a transfer asked for op `tag`.
struct transferred {
  std::uint64_t tag = 0;
  std::error_code ec;
};
/// From its own timer: look at the op in progress again.
struct poll {};
}  // namespace membership_msg

/// Everything the membership actor accepts. Owned by the membership actor.
using membership_message = std::variant<membership_msg::view, membership_msg::run, membership_msg::conf_done,
                                        membership_msg::transferred, membership_msg::poll>;

/// Where the membership actor's messages go (each pushes into another
/// actor's mailbox). Owned by the membership actor; set once by the node.
struct membership_outputs {
  /// The answer to op `tag`: empty `code` = ok with `result` (a JSON object text). Gateway.
  std::function<void(std::uint64_t tag, std::string code, std::string message, std::string result)> done;
  /// This node no longer leads: op `tag` goes to the new leader (the gateway forwards it).
  std::function<void(std::uint64_t tag, boost::json::object body, std::chrono::steady_clock::time_point deadline)>
      elsewhere;
  /// Propose configuration change `cc` for op `tag` through the write path (gateway).
  std::function<void(std::uint64_t tag, raft::conf_change cc)> propose_conf;
  /// Ask the core to hand leadership to `to` (consensus actor); answered with `transferred`.
  std::function<void(std::uint64_t tag, std::string to)> transfer;
};

/// The membership actor. Owned by the node; reached only through tell().
class membership_actor {
 public:
  /// `election_timeout`: the catch-up round bound and the transfer's patience.
  membership_actor(boost::asio::io_context& io, std::chrono::milliseconds election_timeout, membership_outputs out);

  /// Queues a message. Loop thread only.
  void tell(membership_message m) { inbox_.push(std::move(m)); }
  /// Cancels its timer; the op in progress is dropped (the node is stopping).
  void stop();

 private:
  struct task {
    boost::json::object body;
    std::uint64_t tag = 0;
    std::chrono::steady_clock::time_point deadline;
    int stage = 0;
    bool busy = false;  ///< a proposal of this task is in flight
    std::chrono::steady_clock::time_point round_start;  ///< transfer_leader: when it began
    std::optional<raft::catch_up_rounds> rounds;         ///< add/join: §4.2.1 catch-up rounds
    std::vector<std::uint64_t> also;  ///< tags of repeated requests for the same add, answered with it
  };

  void handle(membership_message&& m);
  void start(membership_msg::run&& r);
  void step();
  void again();
  /// Ends the task with this answer.
  void finish(std::string code, std::string message, std::string result);
  std::string members_json() const;

  std::chrono::milliseconds election_timeout_;
  membership_outputs out_;
  view_ptr view_ = empty_view();
  std::optional<task> task_;
  boost::asio::steady_timer timer_;
  bool stopped_ = false;
  loop_mailbox<membership_message> inbox_;
};

}  // namespace qc::actors
