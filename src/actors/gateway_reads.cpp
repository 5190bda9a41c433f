// The gateway's read path: a read waits for its read point (none for a
// local read, ReadIndex for a linearizable one, Raft §6.4), then is
// answered as of a state that has applied at least that far.
//
// Reads whose point is known are answered together at the end of the loop
// turn. When the gateway holds a read-only connection to chat.db (lent by
// the apply actor) and the state committed there has applied far enough,
// they are answered right here, in one read transaction, with no hand-over
// to the apply thread and back. The rest, and all of them while chat.db's
// committed state lags behind (the apply actor commits about once a
// second under writes), go to the apply actor as one message, which sees
// its own open transaction.
//
// Owned by: the loop thread (the gateway actor).
#include <boost/asio/post.hpp>

#include "actors/gateway_actor.h"
#include "common/log.h"

namespace qc::actors {

namespace {
/// How long reads go to the apply thread after the loop's connection failed.
constexpr std::chrono::seconds reader_retry{1};
}  // namespace

void gateway_actor::submit_read(chat::consistency cons, query_fn fn,
                                std::function<void(std::optional<std::string>, std::string)> done) {
  const auto rid = next_read_id_++;
  reads_[rid] = pending_read{std::move(fn), std::chrono::steady_clock::now() + timeout_, std::move(done)};
  if (cons == chat::consistency::local) {
    ++metrics_.reads_local;
    // Everything this node has reported applied, so a client reads its own
    // acknowledged writes.
    queue_read(rid, applied_index_);
    return;
  }
  ++metrics_.reads_linearizable;
  try_read_index(rid);
}

std::optional<apply_msg::query> gateway_actor::take_read(std::uint64_t rid, std::uint64_t min_index) {
  auto it = reads_.find(rid);
  // Gone (answered by the sweep), or already with the apply actor (a duplicate answer).
  if (it == reads_.end() || !it->second.fn) return std::nullopt;
  query_fn fn = std::move(it->second.fn);
  it->second.fn = nullptr;  // marks it as handed over
  return apply_msg::query{min_index, std::move(fn), rid};
}

void gateway_actor::try_read_index(std::uint64_t rid) { out_.consensus(consensus_msg::read_index{rid}); }

void gateway_actor::queue_read(std::uint64_t rid, std::uint64_t min_index) {
  ready_reads_.push_back({rid, min_index});
  if (flush_posted_) return;
  flush_posted_ = true;
  // After the handlers this turn of the loop already has: the reads they
  // bring share the transaction.
  boost::asio::post(io_, [this] { flush_reads(); });
}

void gateway_actor::flush_reads() {
  flush_posted_ = false;
  if (stopped_) return;  // stop() answered every pending read
  auto batch = std::exchange(ready_reads_, {});
  std::vector<std::pair<std::uint64_t, std::string>> answered;
  if (!reader_ && !reader_path_.empty() && std::chrono::steady_clock::now() >= reader_retry_at_) open_reader();
  if (reader_) {
    try {
      reader_->read_committed([&](std::uint64_t applied) {
        for (auto& r : batch) {
          if (r.min_index > applied) continue;
          auto it = reads_.find(r.rid);
          if (it != reads_.end() && it->second.fn) answered.emplace_back(r.rid, it->second.fn(*reader_));
          r.rid = 0;  // answered here, or gone
        }
      });
    } catch (const std::exception& e) {
      // Those not answered yet go to the apply actor, and so does every
      // read until the connection is opened again, a second from now.
      log::warn("reads on the event loop pause for a second: ", e.what());
      reader_.reset();
      reader_retry_at_ = std::chrono::steady_clock::now() + reader_retry;
    }
  }
  apply_msg::queries rest;
  for (const auto& r : batch)
    if (r.rid)
      if (auto q = take_read(r.rid, r.min_index)) rest.list.push_back(std::move(*q));
  if (!rest.list.empty()) out_.apply(std::move(rest));
  metrics_.reads_on_loop += answered.size();
  // The replies of one connection's pipelined reads leave in one write.
  net::write_batch::scope writes{write_batch_};
  for (auto& [rid, result] : answered) {
    auto it = reads_.find(rid);
    if (it == reads_.end()) continue;
    auto done = std::move(it->second.done);
    reads_.erase(it);
    done(std::move(result), {});
  }
}

void gateway_actor::open_reader() {
  db::open_error err;
  reader_ = db::chat_store::open_reader(reader_path_, err);
  if (reader_) return;
  log::warn("reads go through the apply thread for a second: ", err.message);
  reader_retry_at_ = std::chrono::steady_clock::now() + reader_retry;
}

void gateway_actor::lend_reader(std::filesystem::path db) {
  reader_path_ = std::move(db);
  open_reader();
}

void gateway_actor::take_back_reader() {
  reader_.reset();
  reader_path_.clear();
  if (out_.reader_closed) out_.reader_closed();
}

}  // namespace qc::actors
