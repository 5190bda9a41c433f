// POSIX file calls for the Raft log's segment files, each turning a failure
// into a db::log_error that names the file, the operation and, for
// writes, the byte offset. Short writes and EINTR are retried here; a real
// error (ENOSPC, EIO, EFBIG, ...) is returned with its errno.
//
// Owned by: the log store, on the storage actor's thread.
#pragma once

#include <sys/uio.h>

#include <cstdint>
#include <filesystem>
#include <string>

#include "db/log_errc.h"

namespace qc::db::log_file {

/// An errno-coded error: "<file>: <what>: <strerror>".
log_error io_error(int err, const std::filesystem::path& file, const std::string& what);

/// Reads the whole file into `out`.
log_error read_all(const std::filesystem::path& file, std::string& out);

/// Writes all of `iov[0..n)` at byte `offset` (pwritev, repeated after a short write).
log_error write_at(int fd, const std::filesystem::path& file, const iovec* iov, int n, std::uint64_t offset);

/// fdatasync.
log_error sync_data(int fd, const std::filesystem::path& file);

/// Allocates [from, to) so that later writes there change no file size
/// (posix_fallocate: fallocate(2), or zeros written where unsupported).
log_error preallocate(int fd, const std::filesystem::path& file, std::uint64_t from, std::uint64_t to);

/// fsyncs the directory itself (after creating, renaming or deleting in it).
log_error sync_dir(const std::filesystem::path& dir);

}  // namespace qc::db::log_file
