#include "actors/storage_alarm.h"

#include <algorithm>
#include <cstdio>
#include <variant>

#include "chat/command.h"

namespace qc::actors {

namespace {
std::string mib(std::uint64_t bytes) {
  char b[32];
  std::snprintf(b, sizeof b, "%.1f MiB", static_cast<double>(bytes) / (1 << 20));
  return b;
}
}  // namespace

bool grows_data(std::string_view data) {
  auto cmd = chat::decode_command(data);
  return cmd && (std::holds_alternative<chat::cmd_create_account>(*cmd) || std::holds_alternative<chat::cmd_send>(*cmd) ||
                 std::holds_alternative<chat::cmd_mark_read>(*cmd));
}

storage_alarm::storage_alarm(std::uint64_t quota_bytes, std::uint64_t max_write_bytes, std::uint64_t step_bytes)
    : quota_(quota_bytes),
      headroom_(max_write_bytes * write_amplification + step_bytes),
      measure_step_(std::max<std::uint64_t>(quota_bytes / 64, 16ull << 10)) {}

void storage_alarm::on_usage(const db::disk_usage& u) {
  measured_ = u.used_bytes;
  copy_bytes_ = u.copy_bytes;
  copying_ = u.copying_bytes;
  copy_index_ = u.copy_index;
  available_ = u.available_bytes;
  appended_ = 0;
}

void storage_alarm::on_snapshot(std::uint64_t index) {
  if (copy_index_ == 0 || index < copy_index_) return;
  copying_ = 0;
  copy_index_ = 0;
}

void storage_alarm::on_disk_full(const std::string& source, const std::string& error) {
  if (error.empty())
    disk_errors_.erase(source);
  else
    disk_errors_[source] = error;
}

void storage_alarm::on_peer_report(const std::string& id, bool full, clock::time_point now) {
  if (full)
    peers_full_[id] = now + peer_report_ttl;
  else
    peers_full_.erase(id);
}

bool storage_alarm::full() const {
  return !disk_errors_.empty() || used_bytes() + reserved_bytes() + headroom_ > quota_;
}

std::string storage_alarm::refusal(bool leader, const raft::membership& config, clock::time_point now) const {
  if (!disk_errors_.empty()) return "this node's disk is full: " + disk_error();
  if (full())
    return "this node's data (" + mib(used_bytes()) + ", and " + mib(reserved_bytes()) + " kept for the next snapshot) is at its storage quota (" + mib(quota_) + ")";
  if (!leader) return {};
  for (const auto& [id, until] : peers_full_)
    if (until > now && raft::is_voter(config, id)) return "member " + id + " is out of storage (quota or disk)";
  return {};
}

std::vector<std::string> storage_alarm::full_members(const std::string& self, const raft::membership& config,
                                                     clock::time_point now) const {
  std::vector<std::string> out;
  if (full()) out.push_back(self);
  for (const auto& [id, until] : peers_full_)
    if (until > now && id != self && raft::find_member(config, id)) out.push_back(id);
  return out;
}

}  // namespace qc::actors
