#include "actors/apply_actor.h"

#include <pthread.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>

#include <boost/asio/post.hpp>

#include "common/log.h"
#include "common/overloaded.h"
#include "db/errc.h"
#include "db/fsync.h"
#include "db/snapshot_files.h"
#include "db/sqlite_util.h"

namespace qc::actors {

namespace fs = std::filesystem;

namespace {
/// How often what a full disk refused is tried again.
constexpr std::chrono::seconds disk_retry{1};
/// How long a failed snapshot copy waits before the next attempt.
constexpr std::chrono::seconds snapshot_retry{5};
/// What an entry takes in the log beyond its data (its term, index, type
/// and length inside a batch record, db/log_format.h), roughly.
constexpr std::uint64_t log_record_bytes = 32;

/// Size of the newest snapshot file in `dir` (0 if none).
std::uint64_t newest_snapshot_bytes(const fs::path& dir) {
  std::error_code ec;
  std::uint64_t newest = 0, bytes = 0;
  for (const auto& de : fs::directory_iterator(dir, ec)) {
    const auto index = db::snapshot_name_index(de.path().filename().string());
    if (!index || *index < newest) continue;
    std::error_code size_ec;
    const auto size = fs::file_size(de.path(), size_ec);
    newest = *index;
    bytes = size_ec ? 0 : size;
  }
  return bytes;
}
}  // namespace

apply_actor::apply_actor(boost::asio::io_context& io, std::unique_ptr<db::chat_store> store,
                         fs::path snapshot_dir, snapshot_policy policy, std::uint64_t commit_bytes,
                         apply_outputs out, failure_handler on_failure)
    : io_(io),
      store_(std::move(store)),
      snapshot_dir_(std::move(snapshot_dir)),
      policy_(policy),
      commit_bytes_(commit_bytes),
      out_(std::move(out)),
      commit_timer_(io),
      retry_timer_(io) {
  last_snapshot_ = store_->applied_index();
  reported_ = store_->applied_index();
  snapshot_bytes_ = newest_snapshot_bytes(snapshot_dir_);
  report_free_bytes();
  inbox_ = std::make_unique<thread_mailbox<apply_message>>(
      "apply", [this](std::vector<apply_message>&& b) { handle_batch(std::move(b)); }, std::move(on_failure));
}

apply_actor::~apply_actor() { stop(); }

void apply_actor::handle_batch(std::vector<apply_message>&& batch) {
  if (!held_.empty()) {
    // An install waits for the gateway's reader to close; what came after
    // it waits behind it, in order.
    bool closed = false;
    for (auto& m : batch) {
      if (std::holds_alternative<apply_msg::reader_closed>(m))
        closed = true;
      else
        held_.push_back(std::move(m));
    }
    if (!closed) return;
    reader_lent_ = false;
    batch = std::exchange(held_, {});
  }
  // Gather every entry in the batch into one transaction; a snapshot to
  // install splits the batch (it replaces the state wholesale).
  for (std::size_t i = 0; i < batch.size(); ++i) {
    auto& m = batch[i];
    if (auto* a = std::get_if<apply_msg::apply>(&m); a && a->install && reader_lent_) {
      // The install deletes chat.db's WAL and renames a new file over it: a
      // connection still open on the old one would, when it closes, delete
      // the new file's WAL by name. So the gateway closes its own first.
      held_.assign(std::make_move_iterator(batch.begin() + static_cast<std::ptrdiff_t>(i)),
                   std::make_move_iterator(batch.end()));
      boost::asio::post(io_, [this] { out_.reader_close(); });
      break;
    }
    std::visit(overloaded{
                   [&](apply_msg::apply& a) {
                     if (a.install) {
                       if (!apply_full_) apply_waiting();
                       install(*a.install);
                     }
                     for (auto& e : a.entries) {
                       log_bytes_ += e.data.size() + log_record_bytes;
                       waiting_.push_back(std::move(e));
                     }
                   },
                   [&](apply_msg::query& q) {
                     if (!apply_full_) apply_waiting();  // queries see every entry that arrived before them
                     parked_.push_back(std::move(q));
                   },
                   [&](apply_msg::queries& qs) {
                     if (!apply_full_) apply_waiting();
                     for (auto& q : qs.list) parked_.push_back(std::move(q));
                   },
                   [&](apply_msg::snapshot_done&) { poll_snapshot(false); },
                   [&](apply_msg::retry&) {
                     retry_armed_ = false;
                     apply_waiting();
                     // The alarm clears once a write goes through: the applies above, and
                     // their commit (a failed apply rolled back and left them waiting).
                     if (apply_full_ && waiting_.empty()) commit();
                   },
                   [&](apply_msg::commit_due&) {
                     commit_timer_armed_ = false;
                     commit();
                   },
                   [&](apply_msg::storage_pressure& p) { storage_pressure_ = p.full; },
                   [&](apply_msg::lend_reader&) { lend_reader(); },
                   [&](apply_msg::reader_closed&) {},  // only ever awaited while held_ holds an install
               },
               m);
  }
  // While chat.db is full, only the retry timer tries again (a failing
  // transaction per incoming batch would only burn the disk).
  if (!apply_full_) apply_waiting();
  run_ready_queries();
  schedule_commit();
  maybe_snapshot();
  if (apply_full_ || snap_full_ || snap_failed_) arm_retry();
}

bool apply_actor::commit() {
  // Nothing open (say, after a rollback): nothing to prove the disk
  // writable again, so the alarm stays as it is.
  if (store_->uncommitted() == 0) return true;
  std::error_code ec;
  std::string err;
  store_->commit(ec, err);
  if (ec) {
    rolled_back(ec, err);
    return false;
  }
  clear_uncommitted();
  set_disk_full(apply_full_, "chat.db", {});
  report_free_bytes();
  return true;
}

void apply_actor::schedule_commit() {
  if ((store_->uncommitted() >= commit_every || uncommitted_bytes_ >= commit_bytes_) && !commit()) return;
  if (store_->uncommitted() == 0 || commit_timer_armed_) return;
  commit_timer_armed_ = true;
  boost::asio::post(io_, [this] {
    commit_timer_.expires_after(commit_after);
    commit_timer_.async_wait([this](const boost::system::error_code& ec) {
      if (!ec) tell(apply_msg::commit_due{});
    });
  });
}

void apply_actor::rolled_back(std::error_code ec, const std::string& err) {
  if (ec != db::errc::disk_full) throw std::runtime_error("cannot write " + err);
  waiting_.insert(waiting_.begin(), std::make_move_iterator(uncommitted_.begin()),
                  std::make_move_iterator(uncommitted_.end()));
  clear_uncommitted();
  set_disk_full(apply_full_, "chat.db", err);
}

void apply_actor::apply_waiting() {
  if (waiting_.empty()) return;
  // Back-pressure: a copy far behind must finish first, or the log
  // (compacted only at snapshots) would grow without bound.
  if (snap_busy_ && policy_.must_wait_for_copy(entries_at_copy_, entries_since_snapshot())) poll_snapshot(true);
  std::error_code ec;
  std::string err;
  auto results = store_->apply_batch(waiting_, ec, err);
  if (ec) return rolled_back(ec, err);
  for (const auto& e : waiting_) uncommitted_bytes_ += e.data.size();
  uncommitted_.insert(uncommitted_.end(), std::make_move_iterator(waiting_.begin()),
                      std::make_move_iterator(waiting_.end()));
  waiting_.clear();
  // Entries applied again after a rollback were answered the first time.
  std::erase_if(results, [&](const db::apply_result& r) { return r.index <= reported_; });
  if (!results.empty()) reported_ = results.back().index;
  const auto applied = store_->applied_index();
  boost::asio::post(io_, [this, r = std::move(results), applied]() mutable { out_.applied(std::move(r), applied); });
}

void apply_actor::install(const raft::snapshot_meta& snap) {
  const auto file = snapshot_path(snap.handle);
  // The install replaces chat.db's file: a copy still reading the old one
  // finishes first (and is dropped below if the install supersedes it).
  poll_snapshot(true);
  if (auto e = store_->install_snapshot(file)) throw std::runtime_error("cannot install snapshot " + e.what);
  clear_uncommitted();  // the snapshot replaced the state wholesale (install commits first)
  last_snapshot_ = store_->applied_index();
  reported_ = std::max(reported_, last_snapshot_);
  log_bytes_ = 0;
  log_bytes_at_copy_ = 0;
  std::error_code ec;
  snapshot_bytes_ = fs::file_size(file, ec);
  if (ec) snapshot_bytes_ = 0;
  log::info("installed snapshot at index ", last_snapshot_);
  // The snapshot covers whatever was still waiting up to its index.
  std::erase_if(waiting_, [&](const raft::entry& e) { return e.index <= last_snapshot_; });
  const auto applied = store_->applied_index();
  boost::asio::post(io_, [this, applied] { out_.applied({}, applied); });
  report_free_bytes();
  lend_reader();
}

void apply_actor::lend_reader() {
  // Lent only where it can be taken back (a node wires both ways).
  if (reader_lent_ || !out_.reader_open || !out_.reader_close) return;
  reader_lent_ = true;
  boost::asio::post(io_, [this, db = store_->path()] { out_.reader_open(db); });
}

void apply_actor::report_free_bytes() {
  if (!out_.free_bytes) return;
  std::uint64_t bytes = 0;
  try {
    bytes = store_->free_bytes();
  } catch (const std::exception&) {
    return;  // a read of chat.db's first page failed: the next commit tells
  }
  if (bytes == reported_free_) return;
  reported_free_ = bytes;
  boost::asio::post(io_, [this, bytes] { out_.free_bytes(bytes); });
}

void apply_actor::set_disk_full(bool& flag, const char* source, const std::string& error) {
  const bool full = !error.empty();
  if (flag == full) return;
  flag = full;
  if (full)
    log::warn("apply: ", error, "; writes are refused (storage_full) until space is back; retrying");
  else
    log::info("apply: ", source, " is writable again");
  if (out_.disk_full) boost::asio::post(io_, [this, s = std::string(source), error] { out_.disk_full(s, error); });
}

void apply_actor::arm_retry() {
  if (retry_armed_) return;
  retry_armed_ = true;
  boost::asio::post(io_, [this] {
    retry_timer_.expires_after(disk_retry);
    retry_timer_.async_wait([this](boost::system::error_code ec) {
      if (!ec) tell(apply_msg::retry{});
    });
  });
}

void apply_actor::run_ready_queries() {
  const auto applied = store_->applied_index();
  auto ready_end = std::stable_partition(parked_.begin(), parked_.end(),
                                         [&](const apply_msg::query& q) { return q.min_index <= applied; });
  if (ready_end == parked_.begin()) return;
  // One read transaction for the batch, and one hand-over of all results to
  // the loop thread.
  std::vector<std::pair<std::uint64_t, std::string>> results;
  results.reserve(static_cast<std::size_t>(ready_end - parked_.begin()));
  store_->read_together([&] {
    for (auto it = parked_.begin(); it != ready_end; ++it) results.emplace_back(it->tag, it->fn(*store_));
  });
  parked_.erase(parked_.begin(), ready_end);
  boost::asio::post(io_, [this, results = std::move(results)]() mutable {
    if (!out_.query_done) return;
    for (auto& [tag, r] : results) out_.query_done(tag, std::move(r));
  });
}

void apply_actor::stop() {
  inbox_->stop();
  // The worker is gone: this thread owns the store now. A commit the disk
  // refuses loses nothing: the log replays it at the next start.
  std::error_code ec;
  std::string err;
  store_->commit(ec, err);
  if (snap_thread_.joinable()) {
    snap_thread_.join();
    std::error_code ec;
    if (snap_busy_) fs::remove(snap_tmp_, ec);  // never renamed: not a snapshot
    snap_busy_ = false;
  }
}

void apply_actor::maybe_snapshot() {
  poll_snapshot(false);
  // The wait after a failed copy is over: from here the usual rule decides.
  if (std::chrono::steady_clock::now() >= next_snapshot_try_) snap_failed_ = false;
  const auto applied = store_->applied_index();
  if (snap_busy_ || policy_.every_entries == 0 || applied <= last_snapshot_) return;
  // After a failed copy the next attempt waits a while; after one that
  // found the disk full it no longer waits for a whole interval of new
  // entries (while writes are refused, none may come).
  if (std::chrono::steady_clock::now() < next_snapshot_try_) return;
  if (!snap_full_ &&
      !policy_.due(entries_since_snapshot(), log_bytes_, snapshot_bytes_, storage_pressure_, !snapshot_taken_))
    return;
  // The copy sees only committed state: commit, so it is taken at `applied`.
  if (!commit()) return;
  std::error_code ec;
  fs::create_directories(snapshot_dir_, ec);
  snap_tmp_ = snapshot_dir_ / db::copy_name(applied);
  fs::remove(snap_tmp_, ec);
  // Copying the whole database takes seconds once it holds ~1M messages;
  // doing it here stalled every write and read behind it. A second
  // connection copies a consistent snapshot while we keep applying.
  snap_busy_ = true;
  snap_running_ = true;
  snapshot_taken_ = true;  // from here whole intervals: policy_.first_phase placed this member
  log_bytes_at_copy_ = log_bytes_;
  entries_at_copy_ = entries_since_snapshot();
  snap_thread_ = std::thread([this, db = store_->path()] {
    ::pthread_setname_np(::pthread_self(), "qc-snapshot");
    snap_index_ = 0;
    snap_error_ = db::chat_store::snapshot_file_to(db, snap_tmp_);
    if (!snap_error_) snap_error_ = name_copy();
    snap_running_ = false;
    inbox_->push(apply_msg::snapshot_done{});
  });
}

qc::error apply_actor::name_copy() {
  // The copy holds the state as committed when it began: name it by the
  // applied index inside it, never by the index that triggered it.
  const auto index = db::chat_store::snapshot_applied_index(snap_tmp_);
  if (index == 0) return {db::errc::io_error, snap_tmp_.string() + ": the copy has no applied index"};
  const auto final_file = snapshot_dir_ / db::snapshot_name(index);
  if (::link(snap_tmp_.c_str(), final_file.c_str()) != 0) {
    const int e = errno;
    if (e == EEXIST) return {};  // a received snapshot of the same state: it stays
    return {db::from_errno(e),
            "cannot name " + snap_tmp_.string() + " " + final_file.filename().string() + ": " + std::strerror(e)};
  }
  ::unlink(snap_tmp_.c_str());
  // The name must be durable before the log is compacted to this snapshot:
  // after a power loss raft.db would name a file not there.
  if (auto ec = db::fsync_dir(snapshot_dir_)) {
    const int e = ec.value();
    ::unlink(final_file.c_str());
    return {db::from_errno(e), "cannot fsync " + snapshot_dir_.string() + ": " + std::strerror(e)};
  }
  snap_index_ = index;
  return {};
}

void apply_actor::poll_snapshot(bool wait) {
  if (!snap_busy_ || (!wait && snap_running_.load())) return;
  snap_thread_.join();
  snap_busy_ = false;
  std::error_code ec;
  if (snap_error_) {
    fs::remove(snap_tmp_, ec);
    next_snapshot_try_ = std::chrono::steady_clock::now() + snapshot_retry;
    snap_failed_ = true;  // tried again by the retry timer, whether or not more entries come
    if (snap_error_.code == db::errc::disk_full)
      set_disk_full(snap_full_, "snapshot", snap_error_.what);
    else
      log::warn("apply: snapshot failed: ", snap_error_.what, "; next attempt in ", snapshot_retry.count(), " s");
    return;
  }
  const auto applied = snap_index_;
  const std::string handle = db::snapshot_name(applied);
  if (applied == 0) {  // a snapshot of the same state was there already
    fs::remove(snap_tmp_, ec);
    return;
  }
  if (applied <= last_snapshot_) {  // a newer received snapshot was installed meanwhile
    fs::remove(snapshot_dir_ / handle, ec);
    return;
  }
  set_disk_full(snap_full_, "snapshot", {});
  last_snapshot_ = applied;
  log_bytes_ -= std::min(log_bytes_, log_bytes_at_copy_);
  snapshot_bytes_ = fs::file_size(snapshot_dir_ / handle, ec);
  if (ec) snapshot_bytes_ = 0;
  // Keep the two newest snapshots (a follower may be streaming the older).
  std::vector<std::pair<std::uint64_t, fs::path>> snaps;
  for (const auto& de : fs::directory_iterator(snapshot_dir_, ec))
    if (auto index = db::snapshot_name_index(de.path().filename().string())) snaps.emplace_back(*index, de.path());
  std::sort(snaps.begin(), snaps.end(), [](auto& a, auto& b) { return a.first > b.first; });
  for (std::size_t i = 2; i < snaps.size(); ++i) fs::remove(snaps[i].second, ec);
  boost::asio::post(io_, [this, applied, handle] { out_.snapshot_taken(applied, handle); });
}

}  // namespace qc::actors
