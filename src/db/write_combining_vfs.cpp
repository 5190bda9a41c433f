#include "db/write_combining_vfs.h"

#include <sqlite3.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "db/sqlite_util.h"

namespace qc::db {

namespace {

constexpr const char* wal_vfs_name = "qc-write-combining";
constexpr const char* copy_vfs_name = "qc-write-combining-copy";

/// What the VFS object carries (its pAppData).
struct vfs_data {
  sqlite3_vfs* real;  ///< the wrapped VFS
  bool every_file;    ///< gather the writes of every file, not only WAL files
};
constexpr int frame_header_bytes = 24;  ///< SQLite's WAL format: every frame starts with it

/// What a file has been given but the kernel has not: `bytes` belong at
/// file offset `offset`.
struct pending_writes {
  std::vector<char> bytes;
  sqlite3_int64 offset = 0;
  bool wal = false;               ///< the file is a WAL (commit frames mean something)
  bool commit_page_next = false;  ///< the last write was a commit frame's header
  /// After a commit: where its commit frame ends. Until the next
  /// transaction's first write, writes before it go straight through.
  sqlite3_int64 committed_end = 0;
};

/// Bytes of a read-only main database file read ahead of SQLite, for a
/// copy. They are forgotten at every lock or unlock of the file or of its
/// shared memory (a transaction's start and end), and within one read
/// transaction they stay right: no checkpoint writes a page that this
/// connection reads from the database file (SQLite's WAL rules: such a
/// page has no frame in the WAL at or before the reader's mark, and a
/// checkpoint copies no frame past the oldest reader's mark). Pages in the
/// chunk that SQLite takes from the WAL instead are never asked of it.
struct read_ahead {
  std::vector<char> bytes = std::vector<char>(read_ahead_bytes);  ///< allocated once; the piece is its first `length`
  std::size_t length = 0;
  sqlite3_int64 offset = 0;
  sqlite3_int64 file_size = -1;  ///< at the first read of this transaction; -1: not yet known
};

/// The file object SQLite allocates (szOsFile bytes): ours, then the
/// wrapped VFS's own right after it.
struct file {
  sqlite3_file base;
  sqlite3_file* real;
  pending_writes* pending;  ///< null where writes pass straight through
  read_ahead* ahead;        ///< null where reads pass straight through
};

constexpr std::size_t real_offset = (sizeof(file) + 7) & ~std::size_t{7};

sqlite3_vfs* real_vfs(sqlite3_vfs* vfs) { return static_cast<vfs_data*>(vfs->pAppData)->real; }
file* as_file(sqlite3_file* f) { return reinterpret_cast<file*>(f); }
sqlite3_file* real_of(sqlite3_file* f) { return as_file(f)->real; }
const sqlite3_io_methods& real_io(sqlite3_file* f) { return *real_of(f)->pMethods; }

/// Forgets what was read ahead: a transaction begins or ends.
void forget_read_ahead(sqlite3_file* f) {
  if (auto* a = as_file(f)->ahead) {
    a->length = 0;
    a->file_size = -1;
  }
}

/// Writes out what is pending; SQLITE_OK or the wrapped VFS's error
/// (SQLITE_FULL for a full disk, with sqlite3_system_errno set as usual).
int flush(sqlite3_file* f) {
  auto* w = as_file(f)->pending;
  if (!w || w->bytes.empty()) return SQLITE_OK;
  const int rc = real_io(f).xWrite(real_of(f), w->bytes.data(), static_cast<int>(w->bytes.size()), w->offset);
  w->bytes.clear();
  return rc;
}

int x_close(sqlite3_file* f) {
  const int flushed = flush(f);
  const int rc = real_io(f).xClose(real_of(f));
  delete as_file(f)->pending;
  as_file(f)->pending = nullptr;
  delete as_file(f)->ahead;
  as_file(f)->ahead = nullptr;
  return flushed != SQLITE_OK ? flushed : rc;
}

/// Serves a read from the read-ahead chunk, reading the next chunk (up to
/// read_ahead_bytes, never past the end of the file) when it is not there.
/// False if the read should go to the file as it is.
bool read_through_chunk(sqlite3_file* f, read_ahead& a, void* out, int amount, sqlite3_int64 offset) {
  if (offset < a.offset || offset + amount > a.offset + static_cast<sqlite3_int64>(a.length)) {
    if (a.file_size < 0 && real_io(f).xFileSize(real_of(f), &a.file_size) != SQLITE_OK) a.file_size = -1;
    const sqlite3_int64 n = std::min<sqlite3_int64>(read_ahead_bytes, a.file_size - offset);
    a.length = 0;
    if (n < amount) return false;  // at the end of the file: SQLite's own short-read handling
    if (real_io(f).xRead(real_of(f), a.bytes.data(), static_cast<int>(n), offset) != SQLITE_OK) return false;
    a.length = static_cast<std::size_t>(n);
    a.offset = offset;
  }
  std::memcpy(out, a.bytes.data() + (offset - a.offset), static_cast<std::size_t>(amount));
  return true;
}

int x_read(sqlite3_file* f, void* out, int amount, sqlite3_int64 offset) {
  if (const int rc = flush(f)) return rc;
  if (auto* a = as_file(f)->ahead; a && read_through_chunk(f, *a, out, amount, offset)) return SQLITE_OK;
  return real_io(f).xRead(real_of(f), out, amount, offset);
}

/// Whether `header` (a WAL frame header) ends a transaction: its second
/// big-endian word, the database size after the commit, is non-zero only then.
bool is_commit_frame(const void* header) {
  const auto* b = static_cast<const unsigned char*>(header);
  return (b[4] | b[5] | b[6] | b[7]) != 0;
}

int x_write(sqlite3_file* f, const void* data, int amount, sqlite3_int64 offset) {
  auto* w = as_file(f)->pending;
  if (!w) return real_io(f).xWrite(real_of(f), data, amount, offset);
  // Whether this is the page of a commit frame: read before anything below
  // writes out, which must not lose it (a commit whose page went out with
  // the buffer half full once stayed behind, visible to readers, not there).
  const bool commit_page = w->commit_page_next;
  w->commit_page_next = false;
  if (w->committed_end > 0) {
    // SQLite may rewrite frame headers of the commit it just made
    // (walRewriteChecksums, after pages were overwritten in place): the
    // commit has returned by then, so these go out at once. The next
    // transaction starts with an append or, after a restart, a new WAL
    // header at offset 0.
    if (offset > 0 && offset < w->committed_end) return real_io(f).xWrite(real_of(f), data, amount, offset);
    w->committed_end = 0;
  }
  const auto n = static_cast<std::size_t>(amount);
  const bool continues = !w->bytes.empty() && offset == w->offset + static_cast<sqlite3_int64>(w->bytes.size());
  if (!continues || w->bytes.size() + n > write_combining_limit) {
    if (const int rc = flush(f)) return rc;
  }
  if (w->bytes.empty()) w->offset = offset;
  const auto* p = static_cast<const char*>(data);
  w->bytes.insert(w->bytes.end(), p, p + n);
  // The commit frame's page is the last write of a commit: the commit
  // returns, and its error is reported, only with everything written.
  if (commit_page) {
    w->committed_end = offset + amount;
    return flush(f);
  }
  w->commit_page_next = w->wal && amount == frame_header_bytes && is_commit_frame(data);
  if (w->bytes.size() >= write_combining_limit) return flush(f);
  return SQLITE_OK;
}

int x_truncate(sqlite3_file* f, sqlite3_int64 size) {
  if (const int rc = flush(f)) return rc;
  return real_io(f).xTruncate(real_of(f), size);
}

int x_sync(sqlite3_file* f, int flags) {
  if (const int rc = flush(f)) return rc;
  return real_io(f).xSync(real_of(f), flags);
}

int x_file_size(sqlite3_file* f, sqlite3_int64* size) {
  if (const int rc = flush(f)) return rc;
  return real_io(f).xFileSize(real_of(f), size);
}

int x_lock(sqlite3_file* f, int level) {
  forget_read_ahead(f);
  return real_io(f).xLock(real_of(f), level);
}
int x_unlock(sqlite3_file* f, int level) {
  forget_read_ahead(f);
  return real_io(f).xUnlock(real_of(f), level);
}
int x_check_reserved_lock(sqlite3_file* f, int* out) { return real_io(f).xCheckReservedLock(real_of(f), out); }

int x_file_control(sqlite3_file* f, int op, void* arg) {
  if (const int rc = flush(f)) return rc;
  return real_io(f).xFileControl(real_of(f), op, arg);
}

int x_sector_size(sqlite3_file* f) { return real_io(f).xSectorSize(real_of(f)); }
int x_device_characteristics(sqlite3_file* f) { return real_io(f).xDeviceCharacteristics(real_of(f)); }

int x_shm_map(sqlite3_file* f, int page, int page_size, int extend, void volatile** out) {
  if (real_io(f).iVersion < 2) return SQLITE_IOERR;
  return real_io(f).xShmMap(real_of(f), page, page_size, extend, out);
}

// Shared memory belongs to the database file, never to a WAL.
int x_shm_lock(sqlite3_file* f, int offset, int n, int flags) {
  // In WAL mode a connection keeps its lock on the database file between
  // transactions; a read transaction begins and ends with a lock of the
  // shared memory instead.
  forget_read_ahead(f);
  return real_io(f).xShmLock(real_of(f), offset, n, flags);
}
void x_shm_barrier(sqlite3_file* f) { real_io(f).xShmBarrier(real_of(f)); }
int x_shm_unmap(sqlite3_file* f, int delete_flag) { return real_io(f).xShmUnmap(real_of(f), delete_flag); }

int x_fetch(sqlite3_file* f, sqlite3_int64 offset, int amount, void** out) {
  *out = nullptr;
  if (const int rc = flush(f)) return rc;
  if (as_file(f)->ahead) return SQLITE_OK;  // a copy's source is never mapped: SQLite reads it instead
  if (real_io(f).iVersion < 3) return SQLITE_OK;
  return real_io(f).xFetch(real_of(f), offset, amount, out);
}

int x_unfetch(sqlite3_file* f, sqlite3_int64 offset, void* p) {
  if (real_io(f).iVersion < 3) return SQLITE_OK;
  return real_io(f).xUnfetch(real_of(f), offset, p);
}

const sqlite3_io_methods io_methods = {
    3,
    x_close,
    x_read,
    x_write,
    x_truncate,
    x_sync,
    x_file_size,
    x_lock,
    x_unlock,
    x_check_reserved_lock,
    x_file_control,
    x_sector_size,
    x_device_characteristics,
    x_shm_map,
    x_shm_lock,
    x_shm_barrier,
    x_shm_unmap,
    x_fetch,
    x_unfetch,
};

int x_open(sqlite3_vfs* vfs, const char* name, sqlite3_file* f, int flags, int* out_flags) {
  auto* me = as_file(f);
  me->real = reinterpret_cast<sqlite3_file*>(reinterpret_cast<char*>(f) + real_offset);
  me->real->pMethods = nullptr;
  me->pending = nullptr;
  me->ahead = nullptr;
  const int rc = real_vfs(vfs)->xOpen(real_vfs(vfs), name, me->real, flags, out_flags);
  // SQLite calls xClose whenever pMethods is set, even after a failed open.
  me->base.pMethods = me->real->pMethods ? &io_methods : nullptr;
  if (rc == SQLITE_OK && ((flags & SQLITE_OPEN_WAL) || static_cast<vfs_data*>(vfs->pAppData)->every_file)) {
    me->pending = new pending_writes;
    me->pending->wal = (flags & SQLITE_OPEN_WAL) != 0;
    me->pending->bytes.reserve(write_combining_limit);
  }
  // A copy's source: read in large pieces (a snapshot copy reads the whole file).
  if (rc == SQLITE_OK && static_cast<vfs_data*>(vfs->pAppData)->every_file && (flags & SQLITE_OPEN_MAIN_DB) &&
      (flags & SQLITE_OPEN_READONLY))
    me->ahead = new read_ahead;
  return rc;
}

// The rest is the wrapped VFS's, called with its own object.
int x_delete(sqlite3_vfs* v, const char* n, int sync_dir) { return real_vfs(v)->xDelete(real_vfs(v), n, sync_dir); }
int x_access(sqlite3_vfs* v, const char* n, int flags, int* out) {
  return real_vfs(v)->xAccess(real_vfs(v), n, flags, out);
}
int x_full_pathname(sqlite3_vfs* v, const char* n, int size, char* out) {
  return real_vfs(v)->xFullPathname(real_vfs(v), n, size, out);
}
void* x_dl_open(sqlite3_vfs* v, const char* n) { return real_vfs(v)->xDlOpen(real_vfs(v), n); }
void x_dl_error(sqlite3_vfs* v, int size, char* out) { real_vfs(v)->xDlError(real_vfs(v), size, out); }
void (*x_dl_sym(sqlite3_vfs* v, void* h, const char* sym))(void) { return real_vfs(v)->xDlSym(real_vfs(v), h, sym); }
void x_dl_close(sqlite3_vfs* v, void* h) { real_vfs(v)->xDlClose(real_vfs(v), h); }
int x_randomness(sqlite3_vfs* v, int n, char* out) { return real_vfs(v)->xRandomness(real_vfs(v), n, out); }
int x_sleep(sqlite3_vfs* v, int us) { return real_vfs(v)->xSleep(real_vfs(v), us); }
int x_current_time(sqlite3_vfs* v, double* out) { return real_vfs(v)->xCurrentTime(real_vfs(v), out); }
int x_get_last_error(sqlite3_vfs* v, int size, char* out) { return real_vfs(v)->xGetLastError(real_vfs(v), size, out); }
int x_current_time_int64(sqlite3_vfs* v, sqlite3_int64* out) {
  return real_vfs(v)->xCurrentTimeInt64(real_vfs(v), out);
}

/// Registers a VFS named `name` wrapping the default one; `every_file` as
/// in vfs_data. Called once per name (a function-local static's
/// initializer, which C++ runs once even with threads racing).
void register_vfs(const char* name, bool every_file) {
  configure_sqlite();  // before sqlite3_vfs_find initializes SQLite
  auto& vfs = *new sqlite3_vfs{};  // SQLite keeps both for the life of the process
  auto& data = *new vfs_data{nullptr, every_file};
  sqlite3_vfs* real = sqlite3_vfs_find(nullptr);
  data.real = real;
  vfs.iVersion = 2;  // xCurrentTimeInt64, and no system-call overrides
  vfs.szOsFile = static_cast<int>(real_offset) + real->szOsFile;
  vfs.mxPathname = real->mxPathname;
  vfs.zName = name;
  vfs.pAppData = &data;
  vfs.xOpen = x_open;
  vfs.xDelete = x_delete;
  vfs.xAccess = x_access;
  vfs.xFullPathname = x_full_pathname;
  vfs.xDlOpen = x_dl_open;
  vfs.xDlError = x_dl_error;
  vfs.xDlSym = x_dl_sym;
  vfs.xDlClose = x_dl_close;
  vfs.xRandomness = x_randomness;
  vfs.xSleep = x_sleep;
  vfs.xCurrentTime = x_current_time;
  vfs.xGetLastError = x_get_last_error;
  vfs.xCurrentTimeInt64 = x_current_time_int64;
  sqlite3_vfs_register(&vfs, 0);
}

}  // namespace

const char* write_combining_vfs() {
  static const char* name = (register_vfs(wal_vfs_name, false), wal_vfs_name);
  return name;
}

const char* write_combining_copy_vfs() {
  static const char* name = (register_vfs(copy_vfs_name, true), copy_vfs_name);
  return name;
}

}  // namespace qc::db
