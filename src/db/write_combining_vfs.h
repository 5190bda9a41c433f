// An SQLite VFS that writes a WAL file in large pieces.
//
// SQLite appends each WAL frame with two write calls, the 24-byte frame
// header and then the page, so committing a transaction that dirtied N
// pages costs 2N pwrite(2)s. chat.db commits a second of applied entries
// at once (apply_actor), a few hundred pages: measured at 0.8 pwrite per
// acknowledged write on each member, the largest single item in the
// write path's system calls.
//
// This VFS wraps the default one. For WAL files only, it gathers writes
// that continue the previous one in memory and hands them to the kernel
// in one pwrite of up to `write_combining_limit` bytes. Everything else
// passes through unchanged, and the buffer is written out before any call
// that could observe the file:
//   - after the last frame of a commit (its header carries the database
//     size: SQLite's WAL format, "commit frame"), so a commit returns only
//     once its frames are in the file, and an error (a full disk) fails
//     the commit itself, exactly as an unbuffered write would. This holds
//     wherever the commit frame falls in the buffer, also when its page
//     does not fit behind its header;
//   - after that commit frame and until the next transaction's first
//     write, SQLite may rewrite frame headers of the commit it just made
//     (new checksums after pages were written again in place): those go
//     out at once, unbuffered, so that nothing of a returned commit is
//     left in memory for a crash to lose;
//   - before a read, a size query, a truncation, a sync, a file control,
//     and on close.
// A commit makes its frames visible to other readers (through the
// wal-index in shared memory) only after its commit frame is written, so
// no reader, in this process or another, sees the WAL without the frames
// SQLite believes written. Frames spilled from the page cache in the
// middle of a transaction stay pending until the commit or until SQLite
// reads them back. Nothing here syncs less: SQLite calls xSync exactly as
// before, and a crash loses what it would lose anyway (frames of a commit
// that had not returned).
//
// Owned by: nobody (registered once; each open file belongs to the thread
// of the connection that opened it, as in SQLite's own VFS).
#pragma once

#include <cstddef>

namespace qc::db {

/// The most bytes gathered before they are written. SQLite's unix VFS
/// takes at most 128 KiB - 1 in one write call (it masks the length to 17
/// bits, and reports anything longer as a full disk).
inline constexpr std::size_t write_combining_limit = 120 * 1024;

/// How much of a copy's source file one read takes (the copy VFS reads its
/// read-only main database in pieces this large and serves SQLite's page
/// reads from them); within the unix VFS's limit, as above.
inline constexpr std::size_t read_ahead_bytes = write_combining_limit;

/// The name of the write-combining VFS, registered with SQLite on the
/// first call (thread-safe); pass it to sqlite3_open_v2 or SQLite::Database.
const char* write_combining_vfs();

/// The same for every file a connection writes, not only its WAL: for a
/// connection whose output nobody reads before it is closed, such as one
/// that makes a snapshot copy with VACUUM INTO (SQLite writes the copy a
/// page per call). A main database it opens read-only (the copy's source)
/// is also read in pieces of read_ahead_bytes instead of a pread(2) per
/// page, and never through a memory mapping.
const char* write_combining_copy_vfs();

}  // namespace qc::db
