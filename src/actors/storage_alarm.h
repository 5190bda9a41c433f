// The storage alarm, after etcd's NOSPACE alarm. A node raises it when its
// data (db::measure_data_dir, plus what its log took since), with room
// kept for the next snapshot copy, comes within one maximum-size write of
// `[storage] quota_bytes`, or when its disk
// refused a write of chat.db or of a snapshot for lack of space. While any
// voter's alarm is up, the leader refuses the writes that grow the data
// (create_account, send, mark_read) with `storage_full`, and every node
// refuses them while its own is up. Logins, logout and deletes go on: they
// are small, and deletes plus the log compaction that follows give room
// back. Why the leader and not only each gateway: entries reach every
// replica whichever node took the request, so a node whose own gateway
// refused writes would still be filled by the others' (see NOTEBOOK).
// Followers report their alarm to the leader (a peer admin frame on every
// measurement while it is up, and once when it clears); the leader forgets
// a report after peer_report_ttl. The alarm clears by itself: with the
// first measurement under the quota, or when the refused write works again.
//
// Owned by: the gateway actor (loop thread).
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "db/disk_usage.h"
#include "raft/membership.h"

namespace qc::actors {

/// True if `data` (an encoded chat command) grows the data: create_account,
/// send, mark_read. The alarm refuses these; everything else passes.
bool grows_data(std::string_view data);

/// This node's alarm and, on the leader, the voters' reports.
class storage_alarm {
 public:
  using clock = std::chrono::steady_clock;
  /// How long the leader trusts a follower's report.
  static constexpr std::chrono::seconds peer_report_ttl{3};
  /// Disk bytes one byte appended to the log costs until the next
  /// measurement sees it (log + its WAL, chat.db + its WAL; NOTEBOOK).
  static constexpr std::uint64_t write_amplification = 4;

  /// `max_write_bytes`: the largest entry a client write makes (it costs
  /// write_amplification times its size on disk); `step_bytes`: what grows
  /// in steps the disk monitor sees only once taken (a new log segment,
  /// chat.db's WAL up to its bound, the apply actor's open transaction),
  /// counted once.
  storage_alarm(std::uint64_t quota_bytes, std::uint64_t max_write_bytes, std::uint64_t step_bytes);

  /// A fresh measurement of the data directory.
  void on_usage(const db::disk_usage& u);
  /// This node's latest snapshot is now at `index`: once it covers the copy
  /// the measurement saw in progress, that copy is done, and the room for a
  /// whole next copy is kept again (copies can follow each other faster
  /// than measurements).
  void on_snapshot(std::uint64_t index);
  /// Entries of `bytes` were appended to this node's log.
  void on_appended(std::uint64_t bytes) { appended_ += bytes; }
  /// True once the estimate since the last measurement has grown by a
  /// 64th of the quota (at least 16 KiB): fast growth is measured then, not
  /// estimated until the next periodic measurement, because the estimate
  /// misses what grows with the data in steps (the kept snapshots and the
  /// next copy are as large as chat.db, which may have doubled meanwhile).
  bool wants_measurement() const { return appended_ * write_amplification >= measure_step_; }
  /// Writes of `source` fail for lack of space (`error` names the file),
  /// or, with an empty `error`, work again.
  void on_disk_full(const std::string& source, const std::string& error);
  /// Member `id` says its alarm is up (or down).
  void on_peer_report(const std::string& id, bool full, clock::time_point now);

  /// This node's alarm.
  bool full() const;
  /// Why a write that grows the data is refused here; empty if it is not.
  /// On the leader, the voters' reports count too.
  std::string refusal(bool leader, const raft::membership& config, clock::time_point now) const;
  /// Members whose alarm this node knows to be up, itself included.
  std::vector<std::string> full_members(const std::string& self, const raft::membership& config,
                                        clock::time_point now) const;

  /// Used bytes: the last measurement plus the estimated cost of entries since.
  std::uint64_t used_bytes() const { return measured_ + appended_ * write_amplification; }
  /// Room kept for the next snapshot copy (db::disk_usage).
  std::uint64_t reserved_bytes() const { return copy_bytes_ - copying_; }
  std::uint64_t quota_bytes() const { return quota_; }
  /// Free bytes of the file system at the last measurement.
  std::uint64_t available_bytes() const { return available_; }
  /// True while the disk itself refused a write (not just the quota):
  /// whatever this node's clients write next may not be applied here, so
  /// it could not be answered; the gateway refuses it at once.
  bool disk_refused() const { return !disk_errors_.empty(); }
  /// The first disk-full error, empty if none.
  std::string disk_error() const { return disk_errors_.empty() ? std::string() : disk_errors_.begin()->second; }

 private:
  std::uint64_t quota_;
  std::uint64_t headroom_;  ///< the cost of the largest write, plus the steps
  std::uint64_t measure_step_;  ///< see wants_measurement()
  std::uint64_t measured_ = 0;
  std::uint64_t copy_bytes_ = 0;  ///< db::disk_usage::copy_bytes
  std::uint64_t copying_ = 0;     ///< what the copy in progress wrote, until it is done
  std::uint64_t copy_index_ = 0;  ///< that copy's index (0: none)
  std::uint64_t appended_ = 0;  ///< log bytes since the measurement
  std::uint64_t available_ = 0;
  std::map<std::string, std::string> disk_errors_;  ///< source -> error
  std::map<std::string, clock::time_point> peers_full_;  ///< member -> report expiry
};

}  // namespace qc::actors
