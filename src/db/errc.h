// Error codes of the storage layer (chat.db, snapshot files), as a
// std::error_code category, so that callers tell a full disk (refuse
// writes, retry later) from any other I/O error (stop the node).
//
// Owned by: whoever holds the store that failed (the apply actor, the
// snapshot I/O worker); values are plain data and may be copied anywhere.
#pragma once

#include <system_error>

namespace qc::db {

/// Why a write to the node's data failed. Zero is success.
enum class errc : int {
  success = 0,
  disk_full,  ///< ENOSPC / EDQUOT / SQLITE_FULL: retry once space is back
  io_error,   ///< any other I/O or database error: the file is not trusted
  corrupt,    ///< a snapshot file fails its checks (integrity, schema, applied index)
};

/// The category for errc; name() is "storage".
const std::error_category& error_category() noexcept;

/// Makes an error_code from an errc (enables implicit conversion).
std::error_code make_error_code(errc e) noexcept;

/// disk_full for ENOSPC and EDQUOT, io_error for any other errno.
std::error_code from_errno(int e) noexcept;

}  // namespace qc::db

template <>
struct std::is_error_code_enum<qc::db::errc> : std::true_type {};
