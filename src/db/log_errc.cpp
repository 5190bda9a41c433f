#include "db/log_errc.h"

namespace qc::db {

namespace {
struct category : std::error_category {
  const char* name() const noexcept override { return "log"; }
  std::string message(int c) const override {
    switch (static_cast<log_errc>(c)) {
      case log_errc::success: return "success";
      case log_errc::corrupt: return "corrupt record in the middle of the log";
      case log_errc::inconsistent: return "the records do not form a Raft log";
      case log_errc::wrong_node: return "the log belongs to another node";
      case log_errc::unknown_format: return "not a Quorum Chat log, or an unknown format version";
      case log_errc::failed_earlier: return "an earlier write or sync of the log failed";
    }
    return "unknown log error";
  }
};
}  // namespace

const std::error_category& log_category() noexcept {
  static const category c;
  return c;
}

std::error_code make_error_code(log_errc e) noexcept { return {static_cast<int>(e), log_category()}; }

}  // namespace qc::db
