#include "db/errc.h"

#include <cerrno>
#include <string>

namespace qc::db {

namespace {
struct category : std::error_category {
  const char* name() const noexcept override { return "storage"; }
  std::string message(int c) const override {
    switch (static_cast<errc>(c)) {
      case errc::success: return "success";
      case errc::disk_full: return "disk full";
      case errc::io_error: return "I/O error";
      case errc::corrupt: return "damaged or foreign file";
    }
    return "unknown storage error";
  }
};
}  // namespace

const std::error_category& error_category() noexcept {
  static const category c;
  return c;
}

std::error_code make_error_code(errc e) noexcept { return {static_cast<int>(e), error_category()}; }

std::error_code from_errno(int e) noexcept {
  if (e == 0) return {};
  return e == ENOSPC || e == EDQUOT ? errc::disk_full : errc::io_error;
}

}  // namespace qc::db
