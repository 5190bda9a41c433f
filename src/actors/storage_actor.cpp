#include "actors/storage_actor.h"

#include <stdexcept>

#include <boost/asio/post.hpp>

namespace qc::actors {

storage_actor::storage_actor(boost::asio::io_context& io, std::unique_ptr<db::log_store> store,
                             std::function<void(std::uint64_t)> on_persisted, failure_handler on_failure,
                             std::function<void()> on_peers_recorded)
    : io_(io),
      store_(std::move(store)),
      on_persisted_(std::move(on_persisted)),
      on_peers_recorded_(std::move(on_peers_recorded)) {
  // A failed write throws out of handle_batch: the mailbox logs the one
  // line, drops every later message (no ack may follow a lost batch) and
  // calls on_failure.
  inbox_ = std::make_unique<thread_mailbox<storage_message>>(
      "storage", [this](std::vector<storage_message>&& b) { handle_batch(std::move(b)); }, std::move(on_failure));
}

storage_actor::~storage_actor() { stop(); }

void storage_actor::handle_batch(std::vector<storage_message>&& batch) {
  // Fold consecutive persists into one transaction: the last hard state
  // wins, snapshots and entries are applied in order (a later entry at a
  // lower index replaces what came before, exactly as save() would).
  std::vector<std::uint64_t> acks;
  std::optional<raft::hard_state> hard;
  std::optional<raft::snapshot_meta> snap;
  std::vector<raft::entry> entries;
  std::string err;

  auto flush = [&] {
    if (acks.empty()) return;
    if (!store_->save(hard, snap, entries, err)) throw std::runtime_error("cannot write the raft log: " + err);
    for (auto seq : acks) boost::asio::post(io_, [this, seq] { on_persisted_(seq); });
    acks.clear();
    hard.reset();
    snap.reset();
    entries.clear();
  };

  for (auto& m : batch) {
    if (auto* p = std::get_if<storage_msg::persist>(&m)) {
      auto& req = p->req;
      if (req.snapshot) {
        flush();  // a snapshot resets the log: keep it in its own transaction
        snap = std::move(req.snapshot);
      }
      if (req.hard) hard = std::move(req.hard);
      for (auto& e : req.entries) {
        while (!entries.empty() && entries.back().index >= e.index) entries.pop_back();
        entries.push_back(std::move(e));
      }
      acks.push_back(req.seq);
    } else if (auto* c = std::get_if<storage_msg::compact>(&m)) {
      flush();
      if (!store_->compact(c->snap, err)) throw std::runtime_error("cannot compact the raft log: " + err);
    } else if (auto* r = std::get_if<storage_msg::record_peers>(&m)) {
      if (!db::save_peer_incarnations(r->dir, r->peers, err))
        throw std::runtime_error("cannot record the peers' incarnations: " + err);
      if (on_peers_recorded_) boost::asio::post(io_, [this] { on_peers_recorded_(); });
    }
  }
  flush();
}

}  // namespace qc::actors
