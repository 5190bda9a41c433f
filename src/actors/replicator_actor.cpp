#include "actors/replicator_actor.h"

#include <boost/asio/steady_timer.hpp>

#include "common/log.h"
#include "common/overloaded.h"
#include "db/errc.h"
#include "db/snapshot_files.h"

namespace qc::actors {

namespace fs = std::filesystem;

namespace {
/// How long a received snapshot that found the disk full keeps the
/// disk-full report up without a new failure (the leader retries sooner).
constexpr std::chrono::seconds disk_full_hold{30};
}  // namespace

/// A snapshot being streamed to one follower.
struct replicator_actor::outgoing_snapshot {
  raft::message msg;  ///< the InstallSnapshot message, sent once the bytes are there
  std::uint64_t stream = 0;  ///< in the snapshot I/O worker
  bool opened = false;       ///< the worker knows the size
  std::uint64_t total = 0;
  std::uint64_t requested = 0;  ///< bytes asked of the worker
  std::uint64_t sent = 0;       ///< bytes handed to the transport
  std::uint64_t acked = 0;
  bool asked_empty = false;  ///< an empty file's one empty chunk was asked for
  std::unique_ptr<boost::asio::steady_timer> pause;  ///< [testing] chunk delay
  std::unique_ptr<boost::asio::steady_timer> stall;  ///< see snapshot_stream_options::stall_timeout
};

/// A snapshot being received from the leader.
struct replicator_actor::incoming_snapshot {
  std::uint64_t stream = 0;  ///< in the snapshot I/O worker
  std::uint64_t index = 0;
  std::uint64_t total = 0;
  std::uint64_t queued = 0;  ///< bytes handed to the worker
};

replicator_actor::replicator_actor(boost::asio::io_context& io, std::string self_id,
                                   std::string secret, fs::path snapshot_dir,
                                   replicator_outputs out, failure_handler on_failure, snapshot_stream_options snap,
                                   net::peer_limits links, std::string incarnation)
    : io_(io),
      self_(self_id),
      incarnation_(std::move(incarnation)),
      snap_(snap),
      snapshot_dir_(std::move(snapshot_dir)),
      out_(std::move(out)),
      disk_full_timer_(io),
      inbox_(io, [this](replicator_message&& m) { handle(std::move(m)); }) {
  if (snap_.chunk_delay.count() > 0) snap_.chunk_bytes = snap_.window_bytes = 64 << 10;
  // (Transfers a crash cut off are dealt with at start-up: db::recover_snapshot_dir.)
  net::peer_handlers h;
  h.frame = [this](const std::string& from, std::string frame, bool binary) {
    on_frame(from, std::move(frame), binary);
  };
  h.up = [this](const std::string& id) {
    log::info("peer ", id, " up");
    say_hello(id);  // before anything else
    publish_links();
  };
  h.down = [this](const std::string& id) {
    log::info("peer ", id, " down");
    json_peers_.erase(id);
    on_down(id);
    publish_links();
  };
  h.replaced = [this](const std::string& id) {
    // The new link starts like any other: hello first, checked again.
    if (out_.link_replaced) out_.link_replaced(id);
    say_hello(id);
    if (out_snaps_.count(id)) {
      log::info("peer ", id, ": link replaced by a duplicate; restarting the snapshot stream");
      fail_snapshot(id);
    }
  };
  h.auth_failed = [](const std::string& remote, const std::string& why) {
    log::warn("peer from ", remote, " refused: ", why);
  };
  transport_ = std::make_shared<net::peer_transport>(io, std::move(self_id), std::move(secret),
                                                     std::move(links), std::move(h));
  io_worker_ = std::make_unique<snapshot_io>(
      io, [this](snapshot_io_result r) { on_io(std::move(r)); }, std::move(on_failure));
}

replicator_actor::~replicator_actor() { stop(); }

void replicator_actor::say_hello(const std::string& peer) {
  // Until this link's hello says otherwise, the peer may be a build that
  // reads entry data only as strings.
  json_peers_.erase(peer);
  if (!incarnation_.empty()) send_frame(peer, net::peer_hello{incarnation_, true});
}

void replicator_actor::stop() {
  transport_->stop();
  disk_full_timer_.cancel();
  io_worker_->stop();
}

void replicator_actor::handle(replicator_message&& m) {
  std::visit(overloaded{
                 [&](replicator_msg::send& s) { send(std::move(s.msgs)); },
                 [&](replicator_msg::send_frame& f) {
                   if (!send_frame(f.to, f.frame) && out_.undelivered) out_.undelivered(f.to, std::move(f.frame));
                 },
                 [&](replicator_msg::send_join& j) { send_join(j); },
                 [&](replicator_msg::refuse& r) { send_frame(r.peer, net::peer_refused{r.reason}); },
                 [&](replicator_msg::set_peers& p) { transport_->set_peers(p.peers); },
                 [&](replicator_msg::dial& d) { transport_->dial(d.address); },
                 [&](replicator_msg::accept& a) { transport_->accept(std::move(a.stream), std::move(a.req)); },
                 [&](replicator_msg::set_drop_from& d) { transport_->set_drop_from(std::move(d.ids)); },
                 [&](replicator_msg::pause& p) { transport_->pause(p.d); },
             },
             m);
}

void replicator_actor::send_join(replicator_msg::send_join& j) {
  // Before the first append arrives a joining node knows no configuration:
  // it asks whoever it is linked to (the seed it dialed, then members).
  // Once a leader is known, it asks that one alone.
  if (!j.leader.empty() && j.leader != self_ && transport_->connected(j.leader) && send_frame(j.leader, j.frame))
    return;
  for (const auto& id : transport_->connected_peers())
    if (id != self_ && send_frame(id, j.frame)) return;
  transport_->dial(j.seed);
}

void replicator_actor::publish_links() {
  if (!out_.links) return;
  const auto peers = transport_->connected_peers();
  out_.links(std::set<std::string>(peers.begin(), peers.end()));
}

void replicator_actor::send(std::vector<raft::message> msgs) {
  const auto batch_for = [this](const std::string& to) -> net::peer_raft& {
    for (auto& [peer, batch] : batches_)
      if (peer == to) return batch;
    return batches_.emplace_back(to, net::peer_raft{}).second;
  };
  for (auto& m : msgs) {
    if (m.type == raft::msg_type::snapshot) {
      start_snapshot(m);
      continue;
    }
    batch_for(m.to).msgs.push_back(std::move(m));
  }
  for (auto& [to, batch] : batches_) {
    if (batch.msgs.empty()) continue;
    auto frame = std::make_shared<const std::string>(net::encode_peer_frame(batch, json_peers_.contains(to)));
    batch.msgs.clear();
    if (!transport_->send(to, frame)) out_.unreachable(to);
  }
  // Peers that left the configuration leave their (empty) slot behind.
  if (batches_.size() > 16) batches_.clear();
}

bool replicator_actor::send_frame(const std::string& to, const net::peer_frame& f) {
  return transport_->send(to, std::make_shared<const std::string>(net::encode_peer_frame(f, json_peers_.contains(to))));
}

void replicator_actor::on_frame(const std::string& from, std::string frame, bool binary) {
  if (binary) {
    on_snapshot_chunk(from, std::move(frame));
    return;
  }
  auto decoded = net::decode_peer_frame(frame);
  if (!decoded) {
    log::warn("peer ", from, ": malformed frame dropped (", frame.size(), " bytes)");
    return;
  }
  std::visit(overloaded{
                 [&](net::peer_raft& r) {
                   // A peer may only speak for itself.
                   std::vector<raft::message> msgs;
                   msgs.reserve(r.msgs.size());
                   for (auto& m : r.msgs)
                     if (m.from == from && m.to == self_) msgs.push_back(std::move(m));
                   if (!msgs.empty()) out_.raft_in(std::move(msgs));
                 },
                 [&](net::peer_snap_ack& a) { on_snapshot_ack(from, a); },
                 [&](net::peer_hello& h) {
                   if (h.json_entries) json_peers_.insert(from);
                   else json_peers_.erase(from);
                   if (out_.hello) out_.hello(from, h.incarnation);
                 },
                 [&](net::peer_refused& r) {
                   if (out_.refused) out_.refused(from, r.reason);
                 },
                 // Forwarded proposals, their answers and admin ops: the gateway's.
                 [&](net::peer_propose& f) { out_.gateway_in(from, std::move(f)); },
                 [&](net::peer_propose_resp& f) { out_.gateway_in(from, std::move(f)); },
                 [&](net::peer_admin& f) { out_.gateway_in(from, std::move(f)); },
             },
             *decoded);
}

void replicator_actor::on_down(const std::string& peer) {
  if (out_.link_down) out_.link_down(peer);
  if (out_snaps_.count(peer)) fail_snapshot(peer);
  drop_incoming(peer);
}

// ---- snapshot streaming (sender) -------------------------------------------

void replicator_actor::start_snapshot(const raft::message& m) {
  if (!m.snapshot) return;
  auto& slot = out_snaps_[m.to];
  if (slot && slot->msg.snapshot && slot->msg.snapshot->index == m.snapshot->index) return;
  if (slot) io_worker_->tell(snapshot_io_msg::close{slot->stream});
  auto s = std::make_unique<outgoing_snapshot>();
  s->msg = m;
  s->stream = next_stream_++;
  streams_[s->stream] = {m.to, true};
  io_worker_->tell(snapshot_io_msg::open_read{s->stream, snapshot_dir_ / m.snapshot->handle});
  slot = std::move(s);
  arm_stall_timer(m.to);  // pumping starts once the worker has opened the file
}

void replicator_actor::arm_stall_timer(const std::string& peer) {
  auto it = out_snaps_.find(peer);
  if (it == out_snaps_.end()) return;
  auto& t = it->second->stall;
  if (!t) t = std::make_unique<boost::asio::steady_timer>(io_);
  t->expires_after(snap_.stall_timeout);  // cancels the previous wait
  t->async_wait([this, peer](boost::system::error_code ec) {
    if (ec) return;  // re-armed, or the stream is gone (its timer with it)
    log::warn("snapshot stream to ", peer, ": no acknowledgement for ", snap_.stall_timeout.count(),
              " ms; starting over");
    fail_snapshot(peer);
  });
}

void replicator_actor::pump_snapshot(const std::string& peer) {
  auto it = out_snaps_.find(peer);
  if (it == out_snaps_.end() || !it->second->opened) return;
  auto& s = *it->second;
  // An empty file still sends one (empty) chunk so the receiver learns it.
  while (s.requested - s.acked < snap_.window_bytes && (s.requested < s.total || (s.total == 0 && !s.asked_empty))) {
    const std::size_t n =
        static_cast<std::size_t>(std::min<std::uint64_t>(snap_.chunk_bytes, s.total - s.requested));
    io_worker_->tell(snapshot_io_msg::read_chunk{s.stream, s.msg.snapshot->index, s.requested, n, s.total});
    s.requested += n;
    s.asked_empty = n == 0;
  }
}

void replicator_actor::on_snapshot_ack(const std::string& from, const net::peer_snap_ack& ack) {
  auto it = out_snaps_.find(from);
  if (it == out_snaps_.end() || it->second->msg.snapshot->index != ack.index) return;
  auto& s = *it->second;
  if (ack.failed) {
    fail_snapshot(from);
    return;
  }
  if (ack.offset > s.sent) return;  // from an earlier, abandoned stream of this snapshot
  s.acked = std::max(s.acked, ack.offset);
  arm_stall_timer(from);
  if (ack.done) {
    // The bytes are durable on the follower: now the core's message.
    net::peer_raft batch;
    batch.msgs.push_back(s.msg);
    const bool sent = transport_->send(from, std::make_shared<const std::string>(net::encode_peer_frame(batch)));
    log::info("snapshot at index ", ack.index, " delivered to ", from);
    io_worker_->tell(snapshot_io_msg::close{s.stream});
    streams_.erase(s.stream);
    out_snaps_.erase(it);
    out_.snapshot_status(from, sent);
    return;
  }
  if (snap_.chunk_delay.count() > 0) {
    s.pause = std::make_unique<boost::asio::steady_timer>(io_, snap_.chunk_delay);
    s.pause->async_wait([this, from](boost::system::error_code ec) {
      if (!ec) pump_snapshot(from);  // aborted when the stream was dropped
    });
    return;
  }
  pump_snapshot(from);
}

void replicator_actor::fail_snapshot(const std::string& peer) {
  log::warn("snapshot stream to ", peer, " failed");
  if (auto it = out_snaps_.find(peer); it != out_snaps_.end()) {
    io_worker_->tell(snapshot_io_msg::close{it->second->stream});
    streams_.erase(it->second->stream);
    out_snaps_.erase(it);
  }
  out_.snapshot_status(peer, false);
}

void replicator_actor::on_io(snapshot_io_result r) {
  auto st = streams_.find(r.stream);
  if (st == streams_.end()) return;  // a stream given up meanwhile
  const auto [peer, outgoing] = st->second;
  if (outgoing)
    on_io_sender(peer, r);
  else
    on_io_receiver(peer, r);
}

void replicator_actor::on_io_sender(const std::string& peer, snapshot_io_result& r) {
  auto it = out_snaps_.find(peer);
  if (it == out_snaps_.end() || it->second->stream != r.stream) return;
  auto& s = *it->second;
  using kind = snapshot_io_result::kind;
  if (r.what == kind::failed) {
    log::warn("snapshot for ", peer, ": ", r.error);
    fail_snapshot(peer);
  } else if (r.what == kind::opened) {
    s.opened = true;
    s.total = r.value;
    log::info("sending snapshot at index ", s.msg.snapshot->index, " (", s.total, " bytes) to ", peer);
    pump_snapshot(peer);
  } else if (r.what == kind::chunk) {
    const auto n = r.frame->size() - snapshot_chunk_header::bytes;
    if (!transport_->send(peer, std::move(r.frame), true)) {
      fail_snapshot(peer);
      return;
    }
    s.sent += n;
  }
}

// ---- snapshot streaming (receiver) -----------------------------------------

void replicator_actor::drop_incoming(const std::string& peer) {
  auto it = in_snaps_.find(peer);
  if (it == in_snaps_.end()) return;
  io_worker_->tell(snapshot_io_msg::close{it->second->stream});
  streams_.erase(it->second->stream);
  in_snaps_.erase(it);
}

void replicator_actor::on_snapshot_chunk(const std::string& from, std::string frame) {
  const auto h = decode_chunk_header(frame);
  if (!h) return;
  const std::size_t n = frame.size() - snapshot_chunk_header::bytes;
  auto fail = [&] {
    drop_incoming(from);
    send_frame(from, net::peer_snap_ack{h->index, 0, false, true});
  };

  if (h->offset > 0 && snap_.lose_chunks > 0) {
    --snap_.lose_chunks;
    log::warn("[testing] snapshot chunk at offset ", h->offset, " from ", from, " discarded");
    return;
  }
  if (h->offset == 0) {
    drop_incoming(from);
    auto s = std::make_unique<incoming_snapshot>();
    s->stream = next_stream_++;
    s->index = h->index;
    s->total = h->total;
    streams_[s->stream] = {from, false};
    io_worker_->tell(snapshot_io_msg::open_write{s->stream, snapshot_dir_ / db::transfer_name(h->index)});
    in_snaps_[from] = std::move(s);
    log::info("receiving snapshot at index ", h->index, " (", h->total, " bytes) from ", from);
  }
  auto it = in_snaps_.find(from);
  if (it == in_snaps_.end() || it->second->index != h->index || it->second->queued != h->offset ||
      h->offset + n > h->total) {
    fail();
    return;
  }
  auto& s = *it->second;
  s.queued += n;
  io_worker_->tell(snapshot_io_msg::write_chunk{s.stream, std::move(frame)});
  // Complete: durable under its final name before saying so (answered by `finished`).
  if (s.queued == s.total)
    io_worker_->tell(snapshot_io_msg::finish_write{s.stream, snapshot_dir_ / db::snapshot_name(s.index)});
}

void replicator_actor::on_io_receiver(const std::string& peer, snapshot_io_result& r) {
  auto it = in_snaps_.find(peer);
  if (it == in_snaps_.end() || it->second->stream != r.stream) return;
  const auto index = it->second->index;
  const auto total = it->second->total;
  using kind = snapshot_io_result::kind;
  if (r.what == kind::failed) {
    log::warn("snapshot at index ", index, " from ", peer, ": ", r.error);
    if (r.ec == db::errc::disk_full) report_disk_full(r.error);
    streams_.erase(r.stream);
    in_snaps_.erase(it);  // the worker already dropped the file
    send_frame(peer, net::peer_snap_ack{index, 0, false, true});
  } else if (r.what == kind::written) {
    if (r.value < total) send_frame(peer, net::peer_snap_ack{index, r.value, false, false});
  } else if (r.what == kind::finished) {
    streams_.erase(r.stream);
    in_snaps_.erase(it);
    report_disk_full({});
    send_frame(peer, net::peer_snap_ack{index, total, true, false});
  }
}

void replicator_actor::report_disk_full(const std::string& error) {
  if (!error.empty()) {
    disk_full_timer_.expires_after(disk_full_hold);
    disk_full_timer_.async_wait([this](boost::system::error_code ec) {
      if (!ec) report_disk_full({});
    });
  } else {
    disk_full_timer_.cancel();
    if (!disk_full_) return;
  }
  disk_full_ = !error.empty();
  if (out_.disk_full) out_.disk_full(error);
}

}  // namespace qc::actors
