#include "actors/node.h"

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <random>
#include <system_error>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/json.hpp>

#include "actors/apply_actor.h"
#include "actors/consensus_actor.h"
#include "actors/disk_monitor.h"
#include "actors/events_actor.h"
#include "actors/gateway_actor.h"
#include "actors/loop_monitor.h"
#include "actors/join_actor.h"
#include "actors/membership_actor.h"
#include "actors/replicator_actor.h"
#include "actors/storage_actor.h"
#include "actors/ticker.h"
#include "common/log.h"
#include "common/overloaded.h"
#include "db/chat_store.h"
#include "db/dir_lock.h"
#include "db/errc.h"
#include "db/identity.h"
#include "db/log_store.h"
#include "db/snapshot_files.h"
#include "net/fd_plan.h"
#include "net/server.h"
#include "net/tls.h"

namespace qc::actors {

namespace fs = std::filesystem;

namespace {

constexpr int election_tick_ms = 10;

/// Opens both databases and reconciles them, or explains why not.
struct opened {
  std::unique_ptr<db::dir_lock> lock;  ///< held until the node exits
  db::node_identity identity;
  db::peer_incarnations peers;
  std::unique_ptr<db::log_store> log;
  std::unique_ptr<db::chat_store> chat;
  raft::initial_state initial;
};

bool open_data_dir(const config::node_config& cfg, opened& out, std::string& why) {
  const fs::path dir(cfg.data_dir);
  std::error_code ec;
  fs::create_directories(dir / "snapshots", ec);
  if (ec) {
    why = "cannot create data directory " + dir.string() + ": " + ec.message();
    return false;
  }
  // Before anything reads or changes a file of the directory.
  out.lock = db::dir_lock::acquire(dir, why);
  if (!out.lock) return false;
  // Before anything reads a snapshot: copies and transfers a crash or a
  // power loss left behind (one may be the only copy raft.db names).
  for (const auto& line : db::recover_snapshot_dir(dir / "snapshots")) log::info("snapshots: ", line);
  raft::membership bootstrap;
  bool founding = false;
  for (const auto& m : cfg.members) founding = founding || m.id == cfg.id;
  if (founding) bootstrap.members = cfg.members;

  // A chat.db without a Raft log is a damaged directory, not a fresh one.
  if (!db::log_store::exists(dir) && fs::exists(dir / "chat.db")) {
    why = (dir / "wal").string() + " (the Raft log) is missing but chat.db exists: refusing to start on a damaged data directory";
    return false;
  }
  const bool had_log = db::log_store::exists(dir);
  auto identity = db::load_or_create_identity(dir, cfg.id, true, why);
  if (!identity) return false;
  out.identity = *identity;
  if (!had_log && !out.identity.created) {
    // The identity says this directory held a node's data; its log is gone.
    why = (dir / "identity").string() + " exists but the Raft log does not: the data directory lost its data. "
          "Remove this node from the cluster and start it again with an empty data directory and --join";
    return false;
  }
  if (out.identity.created && had_log)
    log::info("data directory ", dir.string(), " has no identity yet: created one (incarnation ", out.identity.incarnation, ")");
  auto peers = db::load_peer_incarnations(dir, why);
  if (!peers) return false;
  out.peers = std::move(*peers);
  db::log_options log_opts;
  log_opts.segment_bytes = cfg.log_segment_bytes;
  db::log_error log_err;
  out.log = db::log_store::open(dir, cfg.id, bootstrap, log_opts, log_err);
  if (!out.log) {
    why = log_err.what;
    return false;
  }
  db::open_error oe;
  // chat.db's WAL counts toward the quota: at most a sixteenth of it.
  out.chat = db::chat_store::open(dir / "chat.db", oe, cfg.chat_wal_bytes(), cfg.disk_work_phase());
  if (!out.chat) {
    why = oe.message;
    return false;
  }
  out.initial = out.log->load();
  auto& st = out.initial;
  std::uint64_t applied = out.chat->applied_index();
  if (st.snapshot.index > applied) {
    // Crashed between recording a received snapshot and installing it.
    const fs::path file = dir / "snapshots" / st.snapshot.handle;
    if (auto e = out.chat->install_snapshot(file)) {
      why = "the Raft log records a snapshot at index " + std::to_string(st.snapshot.index) +
            " but it cannot be installed from " + file.string() + ": " + e.what;
      return false;
    }
    applied = out.chat->applied_index();
    log::info("reinstalled snapshot at index ", applied, " from ", file.string());
  }
  const std::uint64_t last = st.entries.empty() ? st.snapshot.index : st.entries.back().index;
  // (The commit index on disk may lag what was applied: it is made durable
  // lazily, see raft::ready::hard_must_sync. The log itself may not.)
  if (applied > last) {
    why = (dir / "chat.db").string() + " has applied index " + std::to_string(applied) +
          " beyond the Raft log's last entry (" + std::to_string(last) +
          "): the directories do not belong together";
    return false;
  }
  st.applied = std::max(applied, st.snapshot.index);
  return true;
}

std::map<std::string, std::string> peers_of(const raft::membership& m, const std::string& self) {
  std::map<std::string, std::string> peers;
  for (const auto& mb : m.members)
    if (mb.id != self) peers[mb.id] = mb.address;
  return peers;
}

}  // namespace

int run_node(const config::node_config& cfg, const char* version) {
  opened db;
  std::string why;
  if (!open_data_dir(cfg, db, why)) {
    log::error("cannot start: ", why);
    return 1;
  }
  log::info("starting chatnode ", version, " id ", cfg.id, " listen ", cfg.listen, " data ", cfg.data_dir,
            " (term ", db.initial.hard.term, ", durable commit ", db.initial.hard.commit, ", snapshot ",
            db.initial.snapshot.index, ", ", db.initial.entries.size(), " log entries, applied ",
            db.initial.applied, ")");

  boost::asio::io_context io(1);
  const fs::path snap_dir = fs::path(cfg.data_dir) / "snapshots";

  raft::config rc;
  rc.id = cfg.id;
  rc.election_ticks = std::max(2, cfg.election_timeout_ms / election_tick_ms);
  rc.heartbeat_ticks = 1;  // the heartbeat ticker itself runs at heartbeat_ms
  rc.seed = std::random_device{}() ^ (static_cast<std::uint64_t>(std::random_device{}()) << 32);

  // A worker actor that cannot go on (its mailbox already logged the one
  // line saying why) stops the node as a signal would, and the process
  // exits 3. Any thread; the stop itself runs on the loop.
  int exit_code = 0;
  std::function<void()> stop_node;  // set once everything it stops exists
  auto fail_node = [&io, &exit_code, &stop_node](const std::string&) {
    boost::asio::post(io, [&exit_code, &stop_node] {
      exit_code = 3;
      if (stop_node) stop_node();
    });
  };

  // Actors refer to each other only through these pointers, set below
  // before the loop runs; every call pushes into a mailbox.
  consensus_actor* consensus = nullptr;
  storage_actor* storage = nullptr;
  apply_actor* apply = nullptr;
  replicator_actor* replicator = nullptr;
  gateway_actor* gateway = nullptr;
  events_actor* events = nullptr;  // the live cluster view's event source
  join_actor* joiner = nullptr;    // a node started with --join, until it is a voter
  disk_monitor* monitor = nullptr;
  membership_actor* membership = nullptr;  // the membership change this node leads, if any

  const raft::membership initial_config = raft::newest_config(db.initial.snapshot, db.initial.entries);

  consensus_outputs cout;
  cout.persist = [&](persist_request r) {
    std::uint64_t bytes = 0;
    for (const auto& e : r.entries) bytes += e.data.size();
    if (bytes > 0 && gateway) gateway->tell(gateway_msg::appended{bytes});  // the storage quota's estimate
    storage->tell(storage_msg::persist{std::move(r)});
  };
  cout.send = [&](std::vector<raft::message> m) { replicator->tell(replicator_msg::send{std::move(m)}); };
  cout.apply = [&](std::optional<raft::snapshot_meta> s, std::vector<raft::entry> e) {
    apply->tell(apply_msg::apply{std::move(s), std::move(e)});
  };
  cout.compact = [&](raft::snapshot_meta s) { storage->tell(storage_msg::compact{std::move(s)}); };
  cout.record_peers = [&](db::peer_incarnations p) {
    storage->tell(storage_msg::record_peers{fs::path(cfg.data_dir), std::move(p)});
  };
  cout.refuse = [&](const std::string& peer, const std::string& reason) {
    replicator->tell(replicator_msg::refuse{peer, reason});
  };
  cout.persist_round_trip = [&](double ms) {
    if (gateway) gateway->tell(gateway_msg::timing{gateway_msg::timing::what::persist_round_trip, ms});
  };
  // A reply goes to whoever asks that kind of question: transfers are the
  // membership actor's, proposals and read points the gateway's.
  cout.reply = [&](consensus_reply r) {
    std::visit(overloaded{[&](consensus_reply_msg::transferred& t) {
                            membership->tell(membership_msg::transferred{t.tag, t.ec});
                          },
                          [&](auto&) { gateway->tell(gateway_msg::consensus{std::move(r)}); }},
               r);
  };
  raft::membership known_config = initial_config;
  cout.publish = [&](const view_ptr& vp) {
    const raft_view& v = *vp;
    if (!(v.config == known_config)) {
      known_config = v.config;
      replicator->tell(replicator_msg::set_peers{peers_of(v.config, cfg.id)});
      if (!raft::find_member(v.config, cfg.id) && !v.config.members.empty())
        log::warn("this node is not a member of the cluster configuration (removed); it takes no part");
    }
    if (gateway) gateway->tell(gateway_msg::view{vp});
    if (events) events->tell(events_msg::view{vp});  // cluster view
    if (joiner) joiner->tell(join_msg::view{vp});
    if (membership) membership->tell(membership_msg::view{vp});
  };

  storage_outputs sout;
  sout.persisted = [&](std::uint64_t seq) { consensus->tell(consensus_msg::persisted{seq}); };
  sout.wrote = [&](double ms, std::size_t entries, std::uint64_t bytes) {
    if (ms > 200)
      log::debug("storage: a log record of ", entries, " entries (", bytes, " bytes) took ",
                 static_cast<long long>(ms), " ms to write and sync");
    if (gateway) gateway->tell(gateway_msg::timing{gateway_msg::timing::what::log_persist, ms});
  };
  sout.failed = [&](const db::log_error& e) {
    // The log reports I/O failures with the system's errno; db::from_errno
    // says which of those mean a full disk.
    const bool disk_full =
        e.code.category() == std::generic_category() && db::from_errno(e.code.value()) == db::errc::disk_full;
    log::error("cannot write the Raft log", disk_full ? " (its disk is full)" : "", ": ", e.what,
               "; stopping (nothing after the last acknowledged write is lost)");
    exit_code = 3;
    if (stop_node) stop_node();
  };
  sout.peers_recorded = [&] { consensus->tell(consensus_msg::peers_recorded{}); };
  sout.crashed = fail_node;
  storage_actor storage_a(io, std::move(db.log), std::move(sout));
  storage = &storage_a;

  apply_outputs aout;
  aout.applied = [&](std::vector<db::apply_result> r, std::uint64_t applied) {
    gateway->tell(gateway_msg::applied{std::move(r), applied});
    if (events) events->tell(events_msg::applied{applied});  // cluster view
  };
  aout.snapshot_taken = [&](std::uint64_t index, std::string handle) {
    consensus->tell(consensus_msg::snapshot_taken{index, std::move(handle)});
  };
  aout.disk_full = [&](std::string source, std::string error) {
    gateway->tell(gateway_msg::disk_full{std::move(source), std::move(error)});
  };
  aout.query_done = [&](std::uint64_t tag, std::string result) {
    gateway->tell(gateway_msg::query_done{tag, std::move(result)});
  };
  aout.reader_open = [&](std::filesystem::path db) { gateway->tell(gateway_msg::reader_open{std::move(db)}); };
  aout.reader_close = [&] { gateway->tell(gateway_msg::reader_close{}); };
  aout.free_bytes = [&](std::uint64_t bytes) { monitor->tell(disk_monitor_msg::chat_free{bytes}); };
  const snapshot_policy snap_policy{cfg.snapshot_every, cfg.disk_work_phase()};
  apply_actor apply_a(io, std::move(db.chat), snap_dir, snap_policy, cfg.apply_commit_bytes(), aout, fail_node);
  apply = &apply_a;

  replicator_outputs rout;
  rout.raft_in = [&](std::vector<raft::message> m) { consensus->tell(consensus_msg::peer_messages{std::move(m)}); };
  rout.snapshot_status = [&](const std::string& peer, bool ok) {
    consensus->tell(consensus_msg::snapshot_status{peer, ok});
  };
  rout.unreachable = [&](const std::string& peer) { consensus->tell(consensus_msg::unreachable{peer}); };
  rout.link_down = [&](const std::string& peer) { consensus->tell(consensus_msg::link_down{peer}); };
  rout.link_replaced = [&](const std::string& peer) { consensus->tell(consensus_msg::link_replaced{peer}); };
  rout.gateway_in = [&](const std::string& from, net::peer_frame f) {
    gateway->tell(gateway_msg::peer{from, std::move(f)});
  };
  rout.disk_full = [&](const std::string& error) { gateway->tell(gateway_msg::disk_full{"snapshot transfer", error}); };
  rout.links = [&](std::set<std::string> linked) { gateway->tell(gateway_msg::links{std::move(linked)}); };
  rout.undelivered = [&](const std::string& to, net::peer_frame f) {
    gateway->tell(gateway_msg::undelivered{to, std::move(f)});
  };
  rout.hello = [&](const std::string& peer, const std::string& incarnation) {
    consensus->tell(consensus_msg::peer_hello{peer, incarnation});
  };
  // A peer that knew this node with another data directory: this one lost
  // its data and must not take part (it could vote twice, or be counted for
  // entries it no longer holds). A node started with --join is being added
  // anew; peers that have not yet applied its removal refuse it for a while.
  const bool joining = cfg.join && initial_config.members.empty();
  rout.refused = [&](const std::string& peer, const std::string& reason) {
    if (joining) {
      log::warn("peer ", peer, " refuses this node for now: ", reason);
      return;
    }
    log::error("stopping: peer ", peer, " refuses this node: ", reason);
    exit_code = 1;
    stop_node();
  };
  snapshot_stream_options snap_opts;
  snap_opts.chunk_delay = std::chrono::milliseconds(cfg.testing_snapshot_chunk_delay_ms);
  if (cfg.testing_snapshot_chunk_delay_ms > 0)
    log::warn("[testing] snapshot_chunk_delay_ms = ", cfg.testing_snapshot_chunk_delay_ms, ": snapshot streams are throttled");
  if (cfg.testing_snapshot_stall_timeout_ms > 0)
    snap_opts.stall_timeout = std::chrono::milliseconds(cfg.testing_snapshot_stall_timeout_ms);
  snap_opts.lose_chunks = cfg.testing_snapshot_lose_chunks;
  if (cfg.testing_snapshot_lose_chunks > 0)
    log::warn("[testing] snapshot_lose_chunks = ", cfg.testing_snapshot_lose_chunks, ": snapshot chunks will be discarded");
  // [tls]: the listener serves https/wss, peers are dialed over wss and
  // must present a certificate that chains to tls.ca_file.
  net::server_tls server_tls;
  net::peer_limits peer_links;
  peer_links.max_handshakes = cfg.max_peer_handshakes;
  // Ten election timeouts, 3 s to 10 s: a stopped peer leaves `reachable`
  // within seconds, and a link is never closed in less time than an
  // election (a leader's followers answer its heartbeats every 50 ms).
  peer_links.idle_timeout = std::clamp(std::chrono::milliseconds(10LL * cfg.election_timeout_ms),
                                       std::chrono::milliseconds(3000), std::chrono::milliseconds(10000));
  if (cfg.tls.enabled()) {
    std::string tls_err;
    server_tls.context = net::make_server_context(cfg.tls, tls_err);
    server_tls.allow_plaintext = cfg.tls.allow_plaintext;
    server_tls.require_peer_cert = cfg.tls.verify_peers;
    if (server_tls.context)
      peer_links.tls = net::make_client_context(cfg.tls.ca_file, cfg.tls.verify_peers, tls_err, cfg.tls.cert_file,
                                                cfg.tls.key_file);
    if (!server_tls.context || !peer_links.tls) {
      log::error("cannot start: ", tls_err);
      return 1;
    }
    log::info("TLS on: https:// and wss:// for clients", cfg.tls.allow_plaintext ? " (plain ws:// too)" : "",
              "; peers over wss://", cfg.tls.verify_peers ? " with mutually verified certificates" : " WITHOUT certificate checks");
  }
  replicator_actor replicator_a(io, cfg.id, cfg.secret, snap_dir, rout, fail_node, snap_opts, peer_links,
                               db.identity.incarnation);
  replicator = &replicator_a;

  consensus_actor consensus_a(io, rc, std::move(db.initial), cout, std::move(db.peers));
  consensus = &consensus_a;

  // The live cluster view (GET /cluster): fed views, applied indexes and
  // admin actions; serves /events.
  events_actor events_a(io, cfg.id, cfg.testing_enabled);
  events = &events_a;

  membership_outputs mout;
  mout.done = [&](std::uint64_t tag, std::string code, std::string message, std::string result) {
    gateway->tell(gateway_msg::admin_done{tag, std::move(code), std::move(message), std::move(result)});
  };
  mout.elsewhere = [&](std::uint64_t tag, boost::json::object body, std::chrono::steady_clock::time_point deadline) {
    gateway->tell(gateway_msg::admin_elsewhere{tag, std::move(body), deadline});
  };
  mout.propose_conf = [&](std::uint64_t tag, raft::conf_change cc) {
    gateway->tell(gateway_msg::propose_conf{tag, std::move(cc)});
  };
  mout.transfer = [&](std::uint64_t tag, std::string to) {
    consensus->tell(consensus_msg::transfer{std::move(to), tag});
  };
  membership_actor membership_a(io, std::chrono::milliseconds(cfg.election_timeout_ms), std::move(mout));
  membership = &membership_a;

  gateway_outputs gout;
  gout.consensus = [&](consensus_message m) { consensus->tell(std::move(m)); };
  gout.apply = [&](apply_message m) { apply->tell(std::move(m)); };
  gout.reader_closed = [&] { apply->tell(apply_msg::reader_closed{}); };
  gout.replicator = [&](replicator_message m) { replicator->tell(std::move(m)); };
  gout.events = [&](events_message m) { events->tell(std::move(m)); };
  gout.membership = [&](membership_message m) { membership->tell(std::move(m)); };
  gout.storage = [&](storage_message m) { storage_a.tell(std::move(m)); };
  gout.measure = [&] { monitor->tell(disk_monitor_msg::measure{}); };
  gateway_actor gateway_a(io, cfg, std::move(gout), version);
  gateway = &gateway_a;

  disk_monitor monitor_a(
      io, cfg.data_dir, [&](db::disk_usage u) { gateway_a.tell(gateway_msg::usage{u}); }, fail_node);
  monitor = &monitor_a;

  // Connection limits come from the descriptor limit (raised to the hard
  // one), so they are reached before the process runs out of descriptors.
  const auto fds = net::plan_descriptors(cfg.max_connections, cfg.max_peer_handshakes,
                                         std::max(initial_config.members.size(), cfg.members.size()));
  log::write(fds.error.empty() ? log::level::info : log::level::warn, net::describe(fds));
  net::server_limits limits;
  limits.max_frame_bytes = cfg.max_frame_bytes;
  limits.max_connections = fds.clients;
  limits.max_sockets = fds.sockets;
  limits.max_connections_per_ip = cfg.max_connections_per_ip;
  limits.idle_timeout = std::chrono::milliseconds(cfg.idle_timeout_ms);
  net::server_handlers h;
  // The network reaches the actors through their mailboxes too.
  h.http_get = [&](const std::string& target, std::function<void(net::http_reply)> respond) {
    gateway_a.tell(gateway_msg::http_get{target, std::move(respond)});
  };
  h.client_open = [&](const std::shared_ptr<net::client_session>& s) { gateway_a.tell(gateway_msg::client_open{s}); };
  h.client_frame = [&](const std::shared_ptr<net::client_session>& s, std::string f) {
    gateway_a.tell(gateway_msg::client_frame{s, std::move(f)});
  };
  h.client_close = [&](const std::shared_ptr<net::client_session>& s) { gateway_a.tell(gateway_msg::client_close{s}); };
  h.peer_upgrade = [&](net::stream stream, boost::beast::http::request<boost::beast::http::string_body> req) {
    replicator_a.tell(replicator_msg::accept{std::move(stream), std::move(req)});
  };
  h.events_upgrade = [&](net::stream stream, boost::beast::http::request<boost::beast::http::string_body> req) {
    events_a.tell(events_msg::accept{std::move(stream), std::move(req)});
  };
  h.refused = [](const std::string& remote, const std::string& why) {
    log::warn("connection from ", remote, " refused: ", why);
  };
  auto srv = std::make_shared<net::server>(io, limits, std::move(h), std::move(server_tls));
  if (auto e = srv->listen(cfg.listen)) {
    log::error("cannot start: cannot listen on ", e.what);
    return 1;
  }

  ticker election(io, "election", std::chrono::milliseconds(election_tick_ms),
                  [&] { consensus_a.tell(consensus_msg::tick_election{}); });
  ticker heartbeat(io, "heartbeat", std::chrono::milliseconds(cfg.heartbeat_ms),
                   [&] { consensus_a.tell(consensus_msg::tick_heartbeat{}); });
  ticker measure(io, "disk", std::chrono::milliseconds(500), [&] { monitor_a.tell(disk_monitor_msg::measure{}); });
  loop_monitor lag(io, std::chrono::milliseconds(50), [&](double ms) {
    gateway_a.tell(gateway_msg::timing{gateway_msg::timing::what::loop_lag, ms});
  });

  // A node outside any configuration asks to be added through a seed, and
  // keeps asking (any member relays to the leader) until it is a voter.
  std::unique_ptr<join_actor> join_a;
  if (joining) {
    join_a = std::make_unique<join_actor>(io, cfg.id, cfg.advertise, *cfg.join,
                                          [&](replicator_message m) { replicator_a.tell(std::move(m)); });
    joiner = join_a.get();
  }

  replicator_a.tell(replicator_msg::set_peers{peers_of(initial_config, cfg.id)});
  srv->start();
  gateway_a.start();
  apply_a.tell(apply_msg::lend_reader{});  // reads on the loop (actors/gateway_reads.cpp)
  events_a.start();  // cluster view
  consensus_a.start();
  election.start();
  heartbeat.start();
  measure.start();
  lag.start();
  // Posted, so that it reaches the monitor after the apply actor's first
  // chat_free (posted when that actor was made): the first measurement
  // then leaves chat.db's free pages out like every later one.
  boost::asio::post(io, [&] { monitor_a.tell(disk_monitor_msg::measure{}); });
  if (join_a) join_a->start();
  log::info("listening on ", cfg.listen, " (clients ws://", cfg.advertise, "/ws, peers /raft)");

  boost::asio::signal_set signals(io, SIGINT, SIGTERM);
  bool stopping = false;
  stop_node = [&] {
    if (stopping) return;
    stopping = true;
    election.stop();
    heartbeat.stop();
    measure.stop();
    lag.stop();
    if (join_a) join_a->stop();
    srv->stop();
    gateway_a.stop();
    membership_a.stop();
    events_a.stop();  // cluster view
    replicator_a.stop();
    signals.cancel();
    io.stop();
  };
  signals.async_wait([&](const boost::system::error_code& ec, int sig) {
    if (ec) return;
    log::info("signal ", sig, ": stopping gracefully");
    stop_node();
  });
  io.run();
  // Finish in-flight disk writes before exiting.
  storage_a.stop();
  apply_a.stop();
  monitor_a.stop();
  log::info("stopped");
  return exit_code;
}

}  // namespace qc::actors
