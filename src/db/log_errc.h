// Error codes of the Raft log store (db::log_store), as a std::error_code
// category, following raft/errc.h. I/O failures are reported with the
// system's own code (std::generic_category: ENOSPC, EIO, ...); these codes
// are for what the store itself finds wrong with its files.
//
// Owned by: the storage actor (the store's only caller); values are plain
// data and may be copied anywhere.
#pragma once

#include <string>
#include <system_error>

#include "common/error.h"

namespace qc::db {

/// Why the log store refused to open or to write. Zero is success.
enum class log_errc : int {
  success = 0,
  corrupt,         ///< a record fails its checksum and valid records follow it
  inconsistent,    ///< the records decode but do not form a Raft log (gap, commit beyond the log, ...)
  wrong_node,      ///< the data directory belongs to another node
  unknown_format,  ///< not a Quorum Chat log, or a format version this build does not read
  failed_earlier,  ///< an earlier write or sync failed: the file's state is unknown until a restart
};

/// The category for log_errc; name() is "log".
const std::error_category& log_category() noexcept;

/// Makes an error_code from a log_errc (enables implicit conversion).
std::error_code make_error_code(log_errc e) noexcept;

/// An error at the store's edge (common/error.h): `code` says what kind (a
/// log_errc or an errno), `what` is one line naming the file, the byte
/// offset where it matters, and the cause. Empty code = success.
using log_error = qc::error;

}  // namespace qc::db

template <>
struct std::is_error_code_enum<qc::db::log_errc> : std::true_type {};
