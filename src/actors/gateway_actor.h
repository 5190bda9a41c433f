// The gateway actor: the client side of the node. It owns the client
// connections, decodes requests, enforces who is logged in, turns writes
// into proposals (forwarding them to the leader when this node is not it),
// turns reads into ReadIndex + query (answered on the loop from chat.db's
// committed state when it covers the read, gateway_reads.cpp, else by the
// apply actor), answers each writer from this node's own state machine
// once it has applied the entry, and pushes live events.
// It also serves /status, /health and /metrics from the latest raft_view.
// It is reached only through its mailbox (gateway_message): the network's
// callbacks, other actors' results and the consensus actor's replies all
// arrive there; it reaches the others only through gateway_outputs.
//
// Owned by: the loop thread. Its password-hashing jobs run on a bounded
// worker pool (chat::hash_pool) and post their results back.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <variant>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/json/object.hpp>

#include "actors/apply_actor.h"
#include "actors/consensus_actor.h"
#include "actors/events_actor.h"
#include "actors/mailbox.h"
#include "actors/membership_actor.h"
#include "actors/metrics.h"
#include "actors/raft_view.h"
#include "actors/replicator_actor.h"
#include "actors/storage_actor.h"
#include "actors/storage_alarm.h"
#include "chat/hash_pool.h"
#include "chat/login_limiter.h"
#include "chat/request.h"
#include "config/config.h"
#include "db/chat_store.h"
#include "net/server.h"
#include "net/write_batch.h"

namespace qc::actors {

/// Messages the gateway actor accepts. Owned by the gateway actor.
namespace gateway_msg {
/// A new raft_view from the consensus actor.
struct view {
  view_ptr v;
};
/// Results of an applied batch from the apply actor.
struct applied {
  std::vector<db::apply_result> results;
  std::uint64_t applied_index = 0;
};
/// A non-raft frame from a peer (forwarded proposal, answer, admin).
struct peer {
  std::string from;
  net::peer_frame frame;
};
/// A measurement of the data directory from the disk monitor.
struct usage {
  db::disk_usage u;
};
/// Entries of `bytes` went to this node's log (consensus -> storage).
struct appended {
  std::uint64_t bytes = 0;
};
/// Writes of `source` fail for lack of space, or (empty `error`) work again.
struct disk_full {
  std::string source;
  std::string error;
};
/// A stall measurement for GET /metrics (node_metrics).
struct timing {
  enum class what { loop_lag, log_persist, persist_round_trip };
  what w = what::loop_lag;
  double ms = 0;
};
/// The peers with a link up (the replicator publishes it on every change).
struct links {
  std::set<std::string> linked;
};
/// A frame sent through the replicator found no link to `to`: it comes back.
struct undelivered {
  std::string to;
  net::peer_frame frame;
};
/// A reply of the consensus actor to a tagged request.
struct consensus {
  consensus_reply r;
};
/// The apply actor lends a read-only connection to chat.db at `db`
/// (gateway_reads.cpp): reads whose point its committed state covers are
/// answered on the loop.
struct reader_open {
  std::filesystem::path db;
};
/// The apply actor is about to install a snapshot: close the connection
/// and say so (gateway_outputs::reader_closed).
struct reader_close {};
/// The result of apply query `tag` (a read's id).
struct query_done {
  std::uint64_t tag = 0;
  std::string result;
};
/// A client connection completed its WebSocket handshake (network).
struct client_open {
  std::shared_ptr<net::client_session> s;
};
/// A text frame from a client (network).
struct client_frame {
  std::shared_ptr<net::client_session> s;
  std::string frame;
};
/// The client connection is gone (network; exactly once per open).
struct client_close {
  std::shared_ptr<net::client_session> s;
};
/// The membership actor's answer to admin op `tag`: empty `code` = ok with
/// `result` (a JSON object text).
struct admin_done {
  std::uint64_t tag = 0;
  std::string code;
  std::string message;
  std::string result;
};
/// This node stopped leading while running admin op `tag`: forward it.
struct admin_elsewhere {
  std::uint64_t tag = 0;
  boost::json::object body;
  std::chrono::steady_clock::time_point deadline;
};
/// The membership actor proposes a configuration change for its op `tag`
/// (answered with membership_msg::conf_done once applied or failed).
struct propose_conf {
  std::uint64_t tag = 0;
  raft::conf_change change;
};
/// GET of /status, /health, /metrics, ... (network); the answer goes to
/// `respond`, the HTTP session's reply address.
struct http_get {
  std::string target;
  std::function<void(net::http_reply)> respond;
};
}  // namespace gateway_msg

/// Everything the gateway accepts. Owned by the gateway actor.
using gateway_message =
    std::variant<gateway_msg::view, gateway_msg::applied, gateway_msg::peer, gateway_msg::usage,
                 gateway_msg::appended, gateway_msg::disk_full, gateway_msg::links, gateway_msg::undelivered,
                 gateway_msg::consensus, gateway_msg::query_done, gateway_msg::client_open,
                 gateway_msg::client_frame, gateway_msg::client_close, gateway_msg::http_get,
                 gateway_msg::admin_done, gateway_msg::admin_elsewhere, gateway_msg::propose_conf,
                 gateway_msg::timing, gateway_msg::reader_open, gateway_msg::reader_close>;

/// Where the gateway's requests go (each pushes into another actor's
/// mailbox). Owned by the gateway actor; set once by the node.
struct gateway_outputs {
  std::function<void(consensus_message)> consensus;
  std::function<void(apply_message)> apply;
  /// The connection gateway_msg::reader_close asked for is closed (the apply actor's mailbox).
  std::function<void()> reader_closed;
  std::function<void(replicator_message)> replicator;
  /// Admin ops this node runs as the leader (membership actor).
  std::function<void(membership_message)> membership;
  /// The live cluster view's timeline (events actor). Optional.
  std::function<void(events_message)> events;
  /// admin.disk_stall ([testing] enabled): the storage actor's mailbox.
  std::function<void(storage_message)> storage;
  /// Asks the disk monitor for a measurement now (storage_alarm::wants_measurement).
  std::function<void()> measure;
};

/// The outcome of a write: the apply result at the proposal's index, or a
/// contract error code when it could not be committed in time. Owned by the
/// gateway actor.
struct write_outcome {
  std::optional<db::apply_result> result;
  std::string error_code;  ///< set when !result ("unavailable", "internal")
  std::string error_message;
};

/// The gateway actor. Owned by the node; reached only through tell().
class gateway_actor {
 public:
  gateway_actor(boost::asio::io_context& io, const config::node_config& cfg, gateway_outputs out,
                const char* version);
  ~gateway_actor();

  /// Queues a message from another actor or the network. Loop thread only.
  void tell(gateway_message m) { inbox_.push(std::move(m)); }

  /// Starts the deadline sweeper.
  void start();
  /// Fails every pending request with `unavailable` and stops timers.
  void stop();

 private:
  // Network callbacks, as they arrive through the mailbox.
  void client_open(const std::shared_ptr<net::client_session>& s);
  void client_frame(const std::shared_ptr<net::client_session>& s, std::string frame);
  void client_close(const std::shared_ptr<net::client_session>& s);
  net::http_reply http_get(const std::string& target);

  // ---- connections -------------------------------------------------------
  struct connection {
    std::shared_ptr<net::client_session> session;
    std::string user;        ///< empty until login/resume
    std::string token_hash;  ///< of the token that bound it
    std::int64_t last_used_ms = 0;  ///< the session's last use as recorded through the log
    bool touching = false;          ///< a touch_session write is in flight
  };
  void bind(std::uint64_t conn_id, const std::string& user, const std::string& token_hash,
            std::int64_t last_used_ms);
  /// For an op that needs login: false (and the reply sent) if the bound
  /// session has been idle past [security] session_idle_timeout_ms; else
  /// records this use through the log if the last record is older than the
  /// refresh interval.
  bool session_alive(std::uint64_t conn_id, const chat::request& rq);
  void unbind(std::uint64_t conn_id);
  /// An applied delete_account of `user` (entry `index`): unbinds this
  /// node's connections of that user (the entry is applied on every node)
  /// and records it for op_resume.
  void account_deleted(const std::string& user, std::uint64_t index);
  void send_to(std::uint64_t conn_id, std::shared_ptr<const std::string> frame);
  void reply(std::uint64_t conn_id, const chat::request& rq, std::string_view result_json);
  void reply_error(std::uint64_t conn_id, const chat::request& rq, std::string_view code,
                   std::string_view message);

  // ---- dispatch (gateway_ops.cpp) ----------------------------------------
  void dispatch(std::uint64_t conn_id, chat::request rq);
  /// A stored hash to replace after a successful login (weaker or other
  /// parameters than [security] now asks for); empty `to` = keep it.
  struct password_upgrade {
    std::string from, to;
  };
  /// Verifies rq.password against rq.user's stored hash (linearizable read,
  /// hash on the worker pool), then runs `then`; else invalid_credentials.
  /// Login rate limits ([limits] login_*) apply here, per user name and per
  /// connection: over either budget the reply is `rate_limited`.
  void check_password(std::uint64_t conn_id, chat::request rq, const char* wrong_message,
                      std::function<void(chat::request, password_upgrade)> then);
  /// Runs `job` on the hash pool; if its queue is full, replies
  /// `rate_limited` with the pool's estimate and returns false.
  bool submit_hash(std::uint64_t conn_id, const chat::request& rq, std::function<void()> job);
  /// Charges a create_account to the per-connection and per-address
  /// budgets; false (and `rate_limited` sent) if either is spent.
  bool charge_new_account(std::uint64_t conn_id, const chat::request& rq);
  /// Replies `rate_limited`: "<why>; retry in N s", and error.retry_after_ms.
  void reply_rate_limited(std::uint64_t conn_id, const chat::request& rq, std::chrono::milliseconds wait,
                          std::string_view why = "too many login attempts");
  /// Replies storage_full if this node's disk refuses writes (for the
  /// writes that start with a password check); true if it did.
  bool refuse_if_disk_refused(std::uint64_t conn_id, const chat::request& rq);
  void op_login(std::uint64_t conn_id, chat::request rq);
  void op_resume(std::uint64_t conn_id, chat::request rq);
  void op_delete_account(std::uint64_t conn_id, chat::request rq);
  void op_write(std::uint64_t conn_id, chat::request rq, chat::command cmd);
  void op_read(std::uint64_t conn_id, chat::request rq);
  void op_admin(std::uint64_t conn_id, chat::request rq);
  /// admin.net_filter and admin.pause ([testing] only): this node's peer faults.
  void op_fault(std::uint64_t conn_id, chat::request rq);
  void finish_write(std::uint64_t conn_id, const chat::request& rq, const write_outcome& out);

  // ---- the write path ----------------------------------------------------
  struct pending_write {
    std::string data;  ///< encoded command (ts stamped by the leader)
    std::chrono::steady_clock::time_point deadline;
    std::chrono::steady_clock::time_point started;
    std::uint64_t origin_conn = 0;  ///< events skip the connection that asked
    std::uint64_t index = 0;
    std::uint64_t term = 0;
    std::function<void(write_outcome)> done;
    bool conf = false;  ///< data is an encoded raft::conf_entry (membership change)
  };
  /// Proposes `data`; `done` runs exactly once with the outcome.
  void submit_write(std::string data, std::uint64_t origin_conn, std::function<void(write_outcome)> done,
                    bool conf = false);
  void try_propose(std::uint64_t wid);
  void on_proposed(std::uint64_t wid, const raft::proposal& p);
  void retry_later(std::uint64_t wid);
  void complete_write(std::uint64_t wid, write_outcome out);
  std::string stamp(const std::string& data) const;

  // ---- the read path -----------------------------------------------------
  /// Runs `fn` on the state machine with the requested consistency; `done`
  /// gets the result text, or an error code when no read point in time.
  void submit_read(chat::consistency cons, query_fn fn,
                   std::function<void(std::optional<std::string> result, std::string error)> done);
  void try_read_index(std::uint64_t rid);

  // ---- admin ops (gateway_admin.cpp) ---------------------------------------
  /// Answer of an admin op: empty code = ok with `result` (a JSON object text).
  using admin_cb = std::function<void(std::string code, std::string message, std::string result)>;
  /// Runs an admin request ({"op":...}) on the leader: this node's
  /// membership actor if it leads, else forwarded to the leader.
  void run_admin(boost::json::object body, admin_cb done, std::chrono::steady_clock::time_point deadline);
  /// Proposes the membership actor's change for its op `tag`; answers it with conf_done.
  void propose_conf(std::uint64_t tag, raft::conf_change cc);

  // ---- inbound from other actors ------------------------------------------
  void handle(gateway_message&& m);
  void on_reply(consensus_reply& r);
  void on_undelivered(const std::string& to, net::peer_frame& f);
  /// Sends `f` to `to` through the replicator if a link to it is up (as
  /// last published); false otherwise. A frame the link then loses comes
  /// back as gateway_msg::undelivered.
  bool send_peer(const std::string& to, net::peer_frame f);
  bool reachable(const std::string& peer) const { return linked_.count(peer) > 0; }
  void on_applied(std::vector<db::apply_result>& results, std::uint64_t applied);
  void on_peer(const std::string& from, net::peer_frame& f);
  void on_peer_propose(const std::string& from, net::peer_propose& p);
  void on_peer_admin(const std::string& from, net::peer_admin& a);
  void on_peer_propose_resp(net::peer_propose_resp& r);
  void on_view(view_ptr v);
  void on_usage(const db::disk_usage& u);
  void on_appended(std::uint64_t bytes);
  /// Tells the apply actor and the log when the storage alarm went up or
  /// down (it was `was_full` before the change at hand).
  void alarm_changed(bool was_full);
  /// Why the write `data` (conf: a membership change) is refused with
  /// storage_full here; empty if it may go on. `local`: a client of this
  /// node asks (not a forwarded proposal), so this node must apply it.
  std::string storage_refusal(const std::string& data, bool conf, bool local) const;
  void sweep();

  // ---- status (gateway_status.cpp) ----------------------------------------
  std::string status_json() const;
  std::string hello_json() const;
  std::string metrics_text() const;
  bool healthy() const;

  boost::asio::io_context& io_;
  /// The loop's write batch: flush_reads holds its replies to the end of the flush.
  net::write_batch& write_batch_;
  config::node_config cfg_;
  gateway_outputs out_;
  std::string version_;
  chat::request_limits limits_;
  std::chrono::milliseconds timeout_;

  loop_mailbox<gateway_message> inbox_;
  view_ptr view_ = empty_view();
  std::uint64_t applied_index_ = 0;
  std::set<std::string> linked_;  ///< peers with a link up, as the replicator last published

  /// Whose proposal a consensus reply answers (by tag).
  struct local_proposal {
    std::uint64_t wid = 0;
  };
  struct peer_proposal {
    std::string from;
    std::uint64_t rid = 0;
  };
  std::uint64_t next_tag_ = 1;
  std::map<std::uint64_t, std::variant<local_proposal, peer_proposal>> proposals_;  ///< tag -> asker


  std::unordered_map<std::uint64_t, connection> conns_;
  std::unordered_map<std::string, std::set<std::uint64_t>> by_user_;

  std::uint64_t next_write_id_ = 1;
  std::map<std::uint64_t, pending_write> writes_;          ///< by write id
  std::map<std::uint64_t, std::uint64_t> by_index_;        ///< log index -> write id
  std::map<std::uint64_t, std::uint64_t> forwarded_;       ///< peer rid -> write id
  std::vector<std::uint64_t> waiting_for_leader_;          ///< write ids

  /// A read waits here until answered, also while the apply actor runs
  /// it: the sweep answers `unavailable` if the state machine cannot catch
  /// up within the bound (e.g. chat.db is full).
  struct pending_read {
    query_fn fn;
    std::chrono::steady_clock::time_point deadline;
    std::function<void(std::optional<std::string>, std::string)> done;
  };
  /// The query of read `rid`, marked as handed to the apply actor; nullopt
  /// if the read is gone or was handed over already.
  std::optional<apply_msg::query> take_read(std::uint64_t rid, std::uint64_t min_index);
  /// Read `rid` may be answered by any state that applied `min_index`: it
  /// is, at the end of this loop turn (flush_reads).
  void queue_read(std::uint64_t rid, std::uint64_t min_index);
  /// Answers the queued reads that reader_'s committed state covers, in one
  /// read transaction, and hands the rest to the apply actor in one message.
  void flush_reads();
  /// gateway_msg::reader_open: reads may use a connection to chat.db at `db`.
  void lend_reader(std::filesystem::path db);
  /// gateway_msg::reader_close: closes it and tells the apply actor.
  void take_back_reader();
  /// Opens reader_ on reader_path_; on failure, reads go to the apply
  /// actor and flush_reads tries again a second later.
  void open_reader();
  std::uint64_t next_read_id_ = 1;
  std::map<std::uint64_t, pending_read> reads_;
  struct ready_read {
    std::uint64_t rid = 0;  ///< 0 once answered
    std::uint64_t min_index = 0;
  };
  std::vector<ready_read> ready_reads_;
  bool flush_posted_ = false;
  /// A read-only connection to chat.db, lent by the apply actor; null
  /// while it is not lent (a snapshot install is replacing the file) or
  /// after it failed.
  std::unique_ptr<db::chat_store> reader_;
  std::filesystem::path reader_path_;  ///< chat.db while lent; empty otherwise
  std::chrono::steady_clock::time_point reader_retry_at_{};

  /// Recently applied results, so a proposal answered after its entry was
  /// already applied still finds its result.
  std::map<std::uint64_t, db::apply_result> recent_;
  /// Accounts deleted by entries this node applied, with those entries'
  /// indexes (the newest deleted_kept): a `resume` whose read saw a state
  /// before the deletion found a session that is gone by the time it binds.
  std::map<std::string, std::uint64_t> deleted_at_;
  std::deque<std::string> deleted_order_;
  static constexpr std::size_t deleted_kept = 4096;

  /// Password attempts (login, delete_account) per user name and per
  /// connection id; see chat::login_limiter.
  chat::login_limiter login_per_user_;
  chat::login_limiter login_per_conn_;
  /// create_account per connection id and per source address.
  chat::login_limiter accounts_per_conn_;
  chat::login_limiter accounts_per_addr_;
  std::chrono::steady_clock::time_point next_limiter_prune_{};

  /// [storage] quota and disk-full conditions of this node (and, on the
  /// leader, of the voters).
  storage_alarm alarm_;
  bool alarm_reported_ = false;  ///< the last report to the leader said "full"
  bool measure_asked_ = false;   ///< a measurement was asked for and has not come
  node_metrics metrics_;
  boost::asio::steady_timer sweeper_;
  chat::hash_pool hash_pool_;
  bool stopped_ = false;

  /// Admin ops with this node's membership actor (by tag), and ops
  /// forwarded to the leader (by request id), each with its answer.
  std::map<std::uint64_t, admin_cb> admin_local_;
  std::uint64_t next_admin_tag_ = 1;
  std::map<std::uint64_t, std::pair<admin_cb, std::chrono::steady_clock::time_point>> admin_forwards_;
  std::uint64_t next_admin_rid_ = 1;
};

}  // namespace qc::actors
