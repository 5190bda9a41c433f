#include "actors/replicator_actor.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstring>

#include <boost/asio/steady_timer.hpp>

#include "common/log.h"

namespace qc::actors {

namespace fs = std::filesystem;

namespace {
constexpr std::size_t header_bytes = 24;       // index, offset, total (big-endian u64)

void put_u64(std::string& s, std::uint64_t v) {
  for (int i = 7; i >= 0; --i) s.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
std::uint64_t get_u64(const char* p) {
  std::uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | static_cast<unsigned char>(p[i]);
  return v;
}
std::string snapshot_handle(std::uint64_t index) { return "snap-" + std::to_string(index) + ".db"; }

bool fsync_dir(const fs::path& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY);
  if (fd < 0) return false;
  bool ok = ::fsync(fd) == 0;
  ::close(fd);
  return ok;
}
}  // namespace

/// A snapshot being streamed to one follower.
struct replicator_actor::outgoing_snapshot {
  raft::message msg;  ///< the InstallSnapshot message, sent once the bytes are there
  std::ifstream file;
  std::uint64_t total = 0;
  std::uint64_t sent = 0;
  std::uint64_t acked = 0;
  std::unique_ptr<boost::asio::steady_timer> pause;  ///< [testing] chunk delay
  std::unique_ptr<boost::asio::steady_timer> stall;  ///< see snapshot_stream_options::stall_timeout
};

/// A snapshot being received from the leader.
struct replicator_actor::incoming_snapshot {
  std::uint64_t index = 0;
  std::uint64_t total = 0;
  std::uint64_t received = 0;
  int fd = -1;
  fs::path tmp;
  ~incoming_snapshot() {
    if (fd >= 0) ::close(fd);
  }
};

replicator_actor::replicator_actor(boost::asio::io_context& io, std::string self_id,
                                   std::string secret, fs::path snapshot_dir,
                                   replicator_outputs out, snapshot_stream_options snap, net::peer_limits links,
                                   std::string incarnation)
    : io_(io),
      self_(self_id),
      incarnation_(std::move(incarnation)),
      snap_(snap),
      snapshot_dir_(std::move(snapshot_dir)),
      out_(std::move(out)) {
  if (snap_.chunk_delay.count() > 0) snap_.chunk_bytes = snap_.window_bytes = 64 << 10;
  // A transfer cut off by a crash leaves its .part file; the next one
  // starts from offset 0 anyway.
  std::error_code ec;
  for (const auto& de : fs::directory_iterator(snapshot_dir_, ec))
    if (de.path().extension() == ".part") fs::remove(de.path(), ec);
  net::peer_handlers h;
  h.frame = [this](const std::string& from, std::string frame, bool binary) {
    on_frame(from, std::move(frame), binary);
  };
  h.up = [this](const std::string& id) {
    log::info("peer ", id, " up");
    if (!incarnation_.empty()) send_frame(id, net::peer_hello{incarnation_});  // before anything else
  };
  h.down = [this](const std::string& id) {
    log::info("peer ", id, " down");
    on_down(id);
  };
  h.replaced = [this](const std::string& id) {
    // The new link starts like any other: hello first, checked again.
    if (out_.link_replaced) out_.link_replaced(id);
    if (!incarnation_.empty()) send_frame(id, net::peer_hello{incarnation_});
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
}

replicator_actor::~replicator_actor() { stop(); }

void replicator_actor::stop() { transport_->stop(); }

void replicator_actor::set_peers(const std::map<std::string, std::string>& peers) {
  transport_->set_peers(peers);
}

void replicator_actor::dial(const std::string& address) { transport_->dial(address); }

void replicator_actor::accept(net::stream stream, boost::beast::http::request<boost::beast::http::string_body> req) {
  transport_->accept(std::move(stream), std::move(req));
}

void replicator_actor::set_drop_from(std::set<std::string> ids) { transport_->set_drop_from(std::move(ids)); }
void replicator_actor::pause(std::chrono::milliseconds d) { transport_->pause(d); }

bool replicator_actor::reachable(const std::string& peer) const { return transport_->connected(peer); }

std::vector<std::string> replicator_actor::linked_peers() const { return transport_->connected_peers(); }

void replicator_actor::send(std::vector<raft::message> msgs) {
  std::map<std::string, net::peer_raft> batches;
  for (auto& m : msgs) {
    if (m.type == raft::msg_type::snapshot) {
      start_snapshot(m);
      continue;
    }
    batches[m.to].msgs.push_back(std::move(m));
  }
  for (auto& [to, batch] : batches) {
    auto frame = std::make_shared<const std::string>(net::encode_peer_frame(batch));
    if (!transport_->send(to, frame)) out_.unreachable(to);
  }
}

bool replicator_actor::send_frame(const std::string& to, const net::peer_frame& f) {
  return transport_->send(to, std::make_shared<const std::string>(net::encode_peer_frame(f)));
}

void replicator_actor::on_frame(const std::string& from, std::string frame, bool binary) {
  if (binary) {
    on_snapshot_chunk(from, frame);
    return;
  }
  auto decoded = net::decode_peer_frame(frame);
  if (!decoded) {
    log::warn("peer ", from, ": malformed frame dropped (", frame.size(), " bytes)");
    return;
  }
  if (auto* r = std::get_if<net::peer_raft>(&*decoded)) {
    // A peer may only speak for itself.
    std::vector<raft::message> msgs;
    msgs.reserve(r->msgs.size());
    for (auto& m : r->msgs)
      if (m.from == from && m.to == self_) msgs.push_back(std::move(m));
    if (!msgs.empty()) out_.raft_in(std::move(msgs));
  } else if (auto* a = std::get_if<net::peer_snap_ack>(&*decoded)) {
    on_snapshot_ack(from, *a);
  } else if (auto* h = std::get_if<net::peer_hello>(&*decoded)) {
    if (out_.hello) out_.hello(from, h->incarnation);
  } else if (auto* r = std::get_if<net::peer_refused>(&*decoded)) {
    if (out_.refused) out_.refused(from, r->reason);
  } else {
    out_.gateway_in(from, std::move(*decoded));
  }
}

void replicator_actor::on_down(const std::string& peer) {
  if (out_.link_down) out_.link_down(peer);
  if (out_snaps_.count(peer)) fail_snapshot(peer);
  in_snaps_.erase(peer);
}

// ---- snapshot streaming (sender) -------------------------------------------

void replicator_actor::start_snapshot(const raft::message& m) {
  if (!m.snapshot) return;
  auto& slot = out_snaps_[m.to];
  if (slot && slot->msg.snapshot && slot->msg.snapshot->index == m.snapshot->index) return;
  auto s = std::make_unique<outgoing_snapshot>();
  s->msg = m;
  const auto path = snapshot_dir_ / m.snapshot->handle;
  std::error_code ec;
  s->total = fs::file_size(path, ec);
  s->file.open(path, std::ios::binary);
  if (ec || !s->file) {
    log::warn("snapshot ", path.string(), " for ", m.to, " cannot be read");
    out_snaps_.erase(m.to);
    out_.snapshot_status(m.to, false);
    return;
  }
  log::info("sending snapshot at index ", m.snapshot->index, " (", s->total, " bytes) to ", m.to);
  slot = std::move(s);
  arm_stall_timer(m.to);
  pump_snapshot(m.to);
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
  if (it == out_snaps_.end()) return;
  auto& s = *it->second;
  const auto index = s.msg.snapshot->index;
  // An empty file still sends one (empty) chunk so the receiver learns it.
  while (s.sent - s.acked < snap_.window_bytes &&
         (s.sent < s.total || (s.total == 0 && s.sent == 0 && s.acked == 0))) {
    const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(snap_.chunk_bytes, s.total - s.sent));
    std::string frame;
    frame.reserve(header_bytes + n);
    put_u64(frame, index);
    put_u64(frame, s.sent);
    put_u64(frame, s.total);
    frame.resize(header_bytes + n);
    s.file.read(frame.data() + header_bytes, static_cast<std::streamsize>(n));
    if (static_cast<std::size_t>(s.file.gcount()) != n) {
      fail_snapshot(peer);
      return;
    }
    if (!transport_->send(peer, std::make_shared<const std::string>(std::move(frame)), true)) {
      fail_snapshot(peer);
      return;
    }
    s.sent += n;
    if (n == 0) break;
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
  out_snaps_.erase(peer);
  out_.snapshot_status(peer, false);
}

// ---- snapshot streaming (receiver) -----------------------------------------

void replicator_actor::on_snapshot_chunk(const std::string& from, const std::string& frame) {
  if (frame.size() < header_bytes) return;
  const auto index = get_u64(frame.data());
  const auto offset = get_u64(frame.data() + 8);
  const auto total = get_u64(frame.data() + 16);
  const std::size_t n = frame.size() - header_bytes;
  auto ack = [&](std::uint64_t off, bool done, bool failed) {
    send_frame(from, net::peer_snap_ack{index, off, done, failed});
  };

  if (offset > 0 && snap_.lose_chunks > 0) {
    --snap_.lose_chunks;
    log::warn("[testing] snapshot chunk at offset ", offset, " from ", from, " discarded");
    return;
  }
  auto& slot = in_snaps_[from];
  if (offset == 0) {
    slot = std::make_unique<incoming_snapshot>();
    slot->index = index;
    slot->total = total;
    std::error_code ec;
    fs::create_directories(snapshot_dir_, ec);
    slot->tmp = snapshot_dir_ / (snapshot_handle(index) + ".part");
    slot->fd = ::open(slot->tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (slot->fd < 0) {
      log::warn("cannot create ", slot->tmp.string(), ": ", std::strerror(errno));
      in_snaps_.erase(from);
      ack(0, false, true);
      return;
    }
    log::info("receiving snapshot at index ", index, " (", total, " bytes) from ", from);
  }
  if (!slot || slot->index != index || slot->received != offset || offset + n > total) {
    in_snaps_.erase(from);
    ack(0, false, true);
    return;
  }
  const char* p = frame.data() + header_bytes;
  std::size_t left = n;
  while (left > 0) {
    ssize_t w = ::write(slot->fd, p, left);
    if (w <= 0) {
      log::warn("snapshot write failed: ", std::strerror(errno));
      in_snaps_.erase(from);
      ack(0, false, true);
      return;
    }
    p += w;
    left -= static_cast<std::size_t>(w);
  }
  slot->received += n;
  if (slot->received < slot->total) {
    ack(slot->received, false, false);
    return;
  }
  // Complete: make it durable under its final name before saying so.
  bool ok = ::fsync(slot->fd) == 0;
  ::close(slot->fd);
  slot->fd = -1;
  std::error_code ec;
  fs::rename(slot->tmp, snapshot_dir_ / snapshot_handle(index), ec);
  ok = ok && !ec && fsync_dir(snapshot_dir_);
  in_snaps_.erase(from);
  ack(total, ok, !ok);
}

}  // namespace qc::actors
