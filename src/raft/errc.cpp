#include "raft/errc.h"

#include <string>

namespace qc::raft {

namespace {
struct category : std::error_category {
  const char* name() const noexcept override { return "raft"; }
  std::string message(int c) const override {
    switch (static_cast<errc>(c)) {
      case errc::success: return "success";
      case errc::not_leader: return "not the leader";
      case errc::proposal_dropped: return "proposal dropped (leadership transfer or removal in progress)";
      case errc::conf_change_in_progress: return "a configuration change is already in progress";
      case errc::conf_change_not_ready: return "leader has not committed an entry in its term yet";
      case errc::invalid_conf_change: return "invalid configuration change";
      case errc::unknown_node: return "unknown node";
      case errc::not_voter: return "not a voter";
      case errc::stale_message: return "stale message";
      case errc::unknown_message: return "unknown message";
      case errc::compacted: return "index compacted";
      case errc::unavailable: return "unavailable";
      case errc::already_leader: return "already the leader";
      case errc::duplicate_read: return "a read with this context is already pending";
    }
    return "unknown raft error";
  }
};
}  // namespace

const std::error_category& error_category() noexcept {
  static const category c;
  return c;
}

std::error_code make_error_code(errc e) noexcept { return {static_cast<int>(e), error_category()}; }

}  // namespace qc::raft
