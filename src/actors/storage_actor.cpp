#include "actors/storage_actor.h"

#include <chrono>
#include <stdexcept>
#include <thread>

#include <boost/asio/post.hpp>

#include "common/overloaded.h"

namespace qc::actors {

namespace {

/// Folds one persist request into the record being built: the last hard
/// state wins, entries replace the suffix they overlap (exactly as the log
/// would). A request with a snapshot starts a record of its own (the
/// caller flushes first), since a snapshot resets the log before the
/// record's entries apply. New persist_request fields are folded here.
void fold(db::log_batch& into, persist_request&& req) {
  if (req.snapshot) into.snapshot = std::move(req.snapshot);
  if (req.hard) into.hard = std::move(req.hard);
  for (auto& e : req.entries) {
    while (!into.entries.empty() && into.entries.back().index >= e.index) into.entries.pop_back();
    into.entries.push_back(std::move(e));
  }
}

}  // namespace

storage_actor::storage_actor(boost::asio::io_context& io, std::unique_ptr<db::log_store> store, storage_outputs out)
    : io_(io), store_(std::move(store)), out_(std::move(out)) {
  inbox_ = std::make_unique<thread_mailbox<storage_message>>(
      "storage", [this](std::vector<storage_message>&& b) { handle_batch(std::move(b)); }, out_.crashed);
}

storage_actor::~storage_actor() { stop(); }

void storage_actor::fail(const db::log_error& e) {
  failed_ = true;
  boost::asio::post(io_, [this, e] { out_.failed(e); });
}

bool storage_actor::write(db::log_batch& batch, std::vector<std::uint64_t>& acks) {
  if (acks.empty()) return true;
  const auto t0 = std::chrono::steady_clock::now();
  if (auto e = store_->save(batch)) {
    fail(e);
    return false;
  }
  if (testing_delay_.count() > 0) std::this_thread::sleep_for(testing_delay_);
  const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  std::uint64_t bytes = 0;
  for (const auto& e : batch.entries) bytes += e.data.size();
  // One hand-off to the loop for every request the record covered.
  boost::asio::post(io_, [this, seqs = std::move(acks), ms, n = batch.entries.size(), bytes] {
    if (out_.wrote) out_.wrote(ms, n, bytes);
    for (auto seq : seqs) out_.persisted(seq);
  });
  acks.clear();
  batch = {};
  return true;
}

void storage_actor::handle_batch(std::vector<storage_message>&& batch) {
  if (failed_) return;
  std::vector<std::uint64_t> acks;
  db::log_batch record;
  for (auto& m : batch) {
    const bool go_on = std::visit(overloaded{
                                      [&](storage_msg::persist& p) {
                                        if (p.req.snapshot && !write(record, acks)) return false;
                                        acks.push_back(p.req.seq);
                                        fold(record, std::move(p.req));
                                        return true;
                                      },
                                      [&](storage_msg::compact& c) {
                                        if (!write(record, acks)) return false;
                                        if (auto e = store_->compact(c.snap)) {
                                          fail(e);
                                          return false;
                                        }
                                        return true;
                                      },
                                      [&](storage_msg::record_peers& r) {
                                        if (auto e = db::save_peer_incarnations(r.dir, r.peers))
                                          throw std::runtime_error(e.what);
                                        boost::asio::post(io_, [this] { out_.peers_recorded(); });
                                        return true;
                                      },
                                      [&](storage_msg::testing_delay& t) {
                                        testing_delay_ = t.delay;
                                        return true;
                                      },
                                  },
                                  m);
    if (!go_on) return;
  }
  write(record, acks);
}

}  // namespace qc::actors
