#include "actors/apply_actor.h"

#include <algorithm>
#include <cstdlib>
#include <string_view>

#include <boost/asio/post.hpp>

#include "common/log.h"

namespace qc::actors {

namespace fs = std::filesystem;

namespace {
/// Name prefix of a snapshot copy in progress ("snap-at-<index>.db.tmp");
/// only a finished copy is renamed to "snap-<index>.db".
constexpr std::string_view copy_prefix = "snap-at-";
bool is_copy_in_progress(const fs::path& p) { return p.filename().string().rfind(copy_prefix, 0) == 0; }
}  // namespace

apply_actor::apply_actor(boost::asio::io_context& io, std::unique_ptr<db::chat_store> store,
                         fs::path snapshot_dir, std::uint64_t snapshot_every, apply_outputs out)
    : io_(io),
      store_(std::move(store)),
      snapshot_dir_(std::move(snapshot_dir)),
      snapshot_every_(snapshot_every),
      out_(std::move(out)),
      commit_timer_(io) {
  last_snapshot_ = store_->applied_index();
  // A copy that a crash interrupted was never renamed into a snapshot: it
  // is garbage the size of the database (and SQLite's journal beside it).
  std::error_code ec;
  for (const auto& de : fs::directory_iterator(snapshot_dir_, ec))
    if (is_copy_in_progress(de.path())) {
      log::info("removing ", de.path().filename().string(), " (a snapshot copy interrupted by a crash)");
      fs::remove(de.path(), ec);
    }
  inbox_ = std::make_unique<thread_mailbox<apply_message>>(
      [this](std::vector<apply_message>&& b) { handle_batch(std::move(b)); });
}

apply_actor::~apply_actor() { stop(); }

void apply_actor::handle_batch(std::vector<apply_message>&& batch) {
  // Gather every entry in the batch into one transaction; a snapshot to
  // install splits the batch (it replaces the state wholesale).
  std::vector<raft::entry> pending;
  auto apply_pending = [&] {
    if (pending.empty()) return;
    // Back-pressure: a snapshot two intervals behind must finish first, or
    // the log (compacted only at snapshots) would grow without bound.
    if (snap_busy_ && store_->applied_index() >= last_snapshot_ + 2 * snapshot_every_) poll_snapshot(true);
    auto results = store_->apply_batch(pending);
    pending.clear();
    const auto applied = store_->applied_index();
    boost::asio::post(io_, [this, r = std::move(results), applied]() mutable {
      out_.applied(std::move(r), applied);
    });
  };

  for (auto& m : batch) {
    if (auto* a = std::get_if<apply_msg::apply>(&m)) {
      if (a->install) {
        apply_pending();
        const auto file = snapshot_path(a->install->handle);
        std::string err;
        if (!store_->install_snapshot(file, err)) {
          log::error("apply: cannot install snapshot ", file.string(), ": ", err, "; stopping");
          std::_Exit(3);
        }
        last_snapshot_ = store_->applied_index();
        log::info("installed snapshot at index ", last_snapshot_);
        const auto applied = store_->applied_index();
        boost::asio::post(io_, [this, applied] { out_.applied({}, applied); });
      }
      for (auto& e : a->entries) pending.push_back(std::move(e));
    } else if (auto* q = std::get_if<apply_msg::query>(&m)) {
      apply_pending();  // queries see every entry that arrived before them
      parked_.push_back(std::move(*q));
    } else if (std::holds_alternative<apply_msg::snapshot_done>(m)) {
      poll_snapshot(false);
    } else if (std::holds_alternative<apply_msg::commit_due>(m)) {
      commit_timer_armed_ = false;
      store_->commit();
    }
  }
  apply_pending();
  run_ready_queries();
  maybe_snapshot();
  schedule_commit();
}

void apply_actor::schedule_commit() {
  if (store_->uncommitted() >= commit_every) store_->commit();
  if (store_->uncommitted() == 0 || commit_timer_armed_) return;
  commit_timer_armed_ = true;
  boost::asio::post(io_, [this] {
    commit_timer_.expires_after(commit_after);
    commit_timer_.async_wait([this](const boost::system::error_code& ec) {
      if (!ec) tell(apply_msg::commit_due{});
    });
  });
}

void apply_actor::run_ready_queries() {
  const auto applied = store_->applied_index();
  auto ready_end = std::stable_partition(parked_.begin(), parked_.end(),
                                         [&](const apply_msg::query& q) { return q.min_index <= applied; });
  for (auto it = parked_.begin(); it != ready_end; ++it) {
    std::string result = it->fn(*store_);
    boost::asio::post(io_, [done = std::move(it->done), r = std::move(result)]() mutable { done(std::move(r)); });
  }
  parked_.erase(parked_.begin(), ready_end);
}

void apply_actor::stop() {
  inbox_->stop();
  store_->commit();  // the worker is gone: this thread owns the store now
  if (snap_thread_.joinable()) {
    snap_thread_.join();
    std::error_code ec;
    if (snap_busy_) fs::remove(snap_tmp_, ec);  // never renamed: not a snapshot
    snap_busy_ = false;
  }
}

void apply_actor::maybe_snapshot() {
  poll_snapshot(false);
  const auto applied = store_->applied_index();
  if (snap_busy_ || snapshot_every_ == 0 || applied < last_snapshot_ + snapshot_every_) return;
  std::error_code ec;
  fs::create_directories(snapshot_dir_, ec);
  // The copy sees only committed state: commit, so it is taken at `applied`.
  store_->commit();
  snap_tmp_ = snapshot_dir_ / (std::string(copy_prefix) + std::to_string(applied) + ".db.tmp");
  fs::remove(snap_tmp_, ec);
  // Copying the whole database takes seconds once it holds ~1M messages;
  // doing it here stalled every write and read behind it. A second
  // connection copies a consistent snapshot while we keep applying.
  snap_busy_ = true;
  snap_running_ = true;
  snap_thread_ = std::thread([this, db = store_->path()] {
    snap_err_.clear();
    snap_ok_ = db::chat_store::snapshot_file_to(db, snap_tmp_, snap_err_);
    snap_running_ = false;
    inbox_->push(apply_msg::snapshot_done{});
  });
}

void apply_actor::poll_snapshot(bool wait) {
  if (!snap_busy_ || (!wait && snap_running_.load())) return;
  snap_thread_.join();
  snap_busy_ = false;
  std::error_code ec;
  if (!snap_ok_) {
    log::warn("apply: snapshot failed: ", snap_err_);
    fs::remove(snap_tmp_, ec);
    return;
  }
  // The copy holds the state as committed when it began: name it by the
  // applied index inside it, never by the index that triggered it.
  const auto applied = db::chat_store::snapshot_applied_index(snap_tmp_);
  if (applied == 0 || applied <= last_snapshot_) {  // e.g. a received snapshot was installed meanwhile
    fs::remove(snap_tmp_, ec);
    return;
  }
  const std::string handle = "snap-" + std::to_string(applied) + ".db";
  fs::rename(snap_tmp_, snapshot_dir_ / handle, ec);
  if (ec) {
    log::warn("apply: snapshot rename failed: ", ec.message());
    return;
  }
  last_snapshot_ = applied;
  // Keep the two newest snapshots (a follower may be streaming the older).
  std::vector<fs::path> snaps;
  for (const auto& de : fs::directory_iterator(snapshot_dir_, ec))
    if (de.path().extension() == ".db" && de.path().filename().string().rfind("snap-", 0) == 0 &&
        !is_copy_in_progress(de.path()))
      snaps.push_back(de.path());
  auto index_of = [](const fs::path& p) {
    return std::strtoull(p.filename().string().c_str() + 5, nullptr, 10);
  };
  std::sort(snaps.begin(), snaps.end(), [&](auto& a, auto& b) { return index_of(a) > index_of(b); });
  for (std::size_t i = 2; i < snaps.size(); ++i) fs::remove(snaps[i], ec);
  boost::asio::post(io_, [this, applied, handle] { out_.snapshot_taken(applied, handle); });
}

}  // namespace qc::actors
