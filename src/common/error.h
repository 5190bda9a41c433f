// The one error convention at module edges (db, net, the log store): a
// function that can fail returns an `error`, whose `code` callers branch on
// (a db::errc, a db::log_errc, an errno in std::generic_category, or a
// Boost.Asio code) and whose `what` is one line for a person, naming the
// file or address and the cause. An empty code is success. Inside the Raft
// core there is no I/O and nothing to report this way (raft/errc.h).
//
// Owned by: whoever called the function that failed; plain data.
#pragma once

#include <string>
#include <system_error>
#include <utility>

namespace qc {

/// The result of an operation at a module edge; true when it failed.
struct [[nodiscard]] error {
  std::error_code code;
  std::string what;

  error() = default;
  error(std::error_code c, std::string w) : code(c), what(std::move(w)) {}

  explicit operator bool() const noexcept { return static_cast<bool>(code); }
};

}  // namespace qc
