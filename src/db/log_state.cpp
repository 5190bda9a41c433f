#include "db/log_state.h"

#include <algorithm>
#include <cstdlib>
#include <iterator>

#include "common/log.h"

namespace qc::db {

void log_state::start(const raft::hard_state& hard, const raft::snapshot_meta& snap) {
  hard_ = hard;
  snap_ = snap;
  segs_.clear();
  entries_.clear();
  first_ = snap.index + 1;
}

void log_state::reset(const raft::snapshot_meta& snap) { start(hard_, snap); }

void log_state::compact(const raft::snapshot_meta& snap) {
  if (snap.index <= snap_.index) return;  // an older or the same snapshot: nothing changes
  snap_ = snap;
  drop_through(snap.index);
}

void log_state::drop_through(std::uint64_t index) {
  while (!segs_.empty() && first_ <= index) {
    segs_.pop_front();
    if (keep_) entries_.pop_front();
    ++first_;
  }
  if (segs_.empty()) first_ = std::max(first_, index + 1);
}

void log_state::append(std::uint64_t first, std::size_t count, std::vector<raft::entry>* entries,
                       std::uint64_t segment) {
  if (count == 0) return;
  if (keep_ && (!entries || entries->size() != count)) {
    log::error("log_state: append of ", count, " entries without them");
    std::abort();
  }
  if (segs_.empty() || first < first_ || first > last_index() + 1) {
    // Nothing live to continue from: the run of live entries starts again
    // here. Unless it starts right after the snapshot, the entries before
    // it were in segments already deleted, and a later snapshot must cover
    // them (finish() checks that the run ends up right after it).
    segs_.clear();
    entries_.clear();
    first_ = first;
  } else {
    const auto keep = static_cast<std::size_t>(first - first_);  // the suffix from `first` is superseded
    segs_.resize(keep);
    if (keep_) entries_.resize(keep);
  }
  segs_.insert(segs_.end(), count, segment);
  if (keep_) std::move(entries->begin(), entries->end(), std::back_inserter(entries_));
}

std::string log_state::finish() {
  drop_through(snap_.index);
  if (!segs_.empty() && first_ != snap_.index + 1)
    return "the log has a gap: entries resume at index " + std::to_string(first_) + " but the snapshot ends at " +
           std::to_string(snap_.index);
  std::uint64_t term = snap_.term;
  for (const auto& e : entries_) {
    if (e.term < term)
      return "log terms decrease at index " + std::to_string(e.index) + " (term " + std::to_string(e.term) +
             " after " + std::to_string(term) + ")";
    term = e.term;
  }
  if (hard_.commit > last_index())
    return "commit index " + std::to_string(hard_.commit) + " is beyond the log (last " + std::to_string(last_index()) + ")";
  return {};
}

std::vector<raft::entry> log_state::take_entries() {
  std::vector<raft::entry> out(std::make_move_iterator(entries_.begin()), std::make_move_iterator(entries_.end()));
  entries_.clear();
  keep_ = false;
  return out;
}

}  // namespace qc::db
