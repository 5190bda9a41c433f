#include "db/log_store.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <random>
#include <string_view>

#include "common/log.h"
#include "db/log_file.h"
#include "db/log_format.h"
#include "db/log_migrate.h"
#include "db/log_state.h"

namespace qc::db {

namespace fs = std::filesystem;
namespace fmt = log_format;

namespace {

constexpr const char* wal_dir_name = "wal";
constexpr const char* scratch_dir_name = "wal.new";

/// Zeros written ahead of the open segment's records in one go (see zeros_after).
constexpr std::uint64_t zero_ahead_bytes = 256u << 10;
/// Their source; never written (not const, so it stays in .bss, not the binary).
std::array<char, zero_ahead_bytes> zero_block{};

std::string segment_name(std::uint64_t n) {
  char b[32];
  std::snprintf(b, sizeof b, "%016" PRIx64 ".log", n);
  return b;
}

bool parse_segment_name(const std::string& name, std::uint64_t& n) {
  if (name.size() != 20 || name.compare(16, 4, ".log") != 0) return false;
  n = 0;
  for (int i = 0; i < 16; ++i) {
    const char c = name[i];
    const int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
    if (d < 0) return false;
    n = n * 16 + static_cast<std::uint64_t>(d);
  }
  return true;
}

std::uint32_t new_salt() {
  std::random_device rd;
  std::uint32_t s = 0;
  while (s == 0) s = rd();
  return s;
}

bool all_zero(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return c == 0; });
}

log_error format_error(log_errc code, const fs::path& file, const std::string& what) {
  return {code, file.string() + ": " + what};
}

/// The offset of a valid batch record numbered `min_seq` or later at an
/// 8-byte-aligned offset after `from`, if any: after a bad record, such a
/// record proves the bad one was written, synced and acknowledged before it.
std::optional<std::size_t> valid_record_after(std::string_view bytes, std::size_t from, std::uint32_t salt,
                                              std::uint64_t min_seq) {
  for (std::size_t at = from + 8; at + fmt::header_bytes <= bytes.size(); at += 8) {
    fmt::record_view rv;
    if (fmt::probe(bytes.substr(at), salt, rv) == fmt::probe_result::valid && rv.type == fmt::record_type::batch &&
        rv.seq >= min_seq)
      return at;
  }
  return std::nullopt;
}

}  // namespace

struct log_store::impl {
  fs::path dir;
  std::string node_id;
  std::uint32_t salt = 0;
  log_options opts;
  std::vector<std::uint64_t> segments;  ///< numbers, ascending; back() is the open one
  int fd = -1;                          ///< the open segment
  std::uint64_t write_off = 0;          ///< end of its valid records
  std::uint64_t header_end = 0;         ///< end of its segment header record
  std::uint64_t capacity = 0;           ///< its allocated size
  std::uint64_t zeroed_to = 0;          ///< [write_off, zeroed_to) holds zeros already written
  std::uint64_t next_seq = 1;
  log_state state{false};
  std::optional<raft::initial_state> loaded;
  log_error failed;
  std::string batch_buf, head_buf;

  ~impl() {
    if (fd >= 0) ::close(fd);
  }
  fs::path segment_path(std::uint64_t n) const { return dir / segment_name(n); }

  /// Creates segment `number`, preallocated, its size and directory entry
  /// durable before anything is written into it.
  log_error create_segment(std::uint64_t number, int& out) {
    const fs::path p = segment_path(number);
    out = ::open(p.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (out < 0) return log_file::io_error(errno, p, "cannot create");
    log_error e = log_file::preallocate(out, p, 0, opts.segment_bytes);
    if (!e && ::fsync(out) != 0) e = log_file::io_error(errno, p, "fsync failed");
    if (!e) e = log_file::sync_dir(dir);
    if (e) {
      ::close(out);
      out = -1;
    }
    return e;
  }

  /// A segment header record restating the current state, into head_buf.
  void encode_header(std::uint64_t number, std::uint64_t seq) {
    head_buf.clear();
    const auto at = fmt::begin_record(head_buf);
    fmt::encode_segment_header(head_buf, {number, salt, node_id, state.hard(), state.snapshot()});
    fmt::finish_record(head_buf, at, fmt::record_type::segment_header, seq, 0);
  }

  /// How many zero bytes to write right after a record ending at `end`,
  /// in the same write, in a segment whose written zeros reach `zeroed`
  /// and whose preallocation ends at `cap`. posix_fallocate leaves
  /// unwritten extents: the first fdatasync after a write into one must
  /// also convert the extent and write the inode, an extra synchronous
  /// write each time a batch reaches a new block. Writing real zeros
  /// ahead, zero_ahead_bytes at a time, pays that once per chunk instead.
  static std::uint64_t zeros_after(std::uint64_t end, std::uint64_t zeroed, std::uint64_t cap) {
    if (end <= zeroed || end >= cap) return 0;
    return std::min(zero_ahead_bytes, cap - end);
  }

  /// Writes the batch payload in batch_buf as the next record — in the open
  /// segment, or at the head of a new one if it does not fit — with one
  /// write and one fdatasync. Returns the segment it went to in `segment`.
  log_error append_batch(std::uint64_t& segment) {
    const std::uint64_t bytes = fmt::record_bytes(batch_buf.size() - fmt::header_bytes);
    if (write_off + bytes <= capacity || write_off == header_end) {
      fmt::finish_record(batch_buf, 0, fmt::record_type::batch, next_seq, salt);
      const std::uint64_t zeros = zeros_after(write_off + bytes, zeroed_to, capacity);
      const iovec iov[2] = {{batch_buf.data(), batch_buf.size()}, {zero_block.data(), zeros}};
      const fs::path p = segment_path(segments.back());
      if (auto e = log_file::write_at(fd, p, iov, zeros ? 2 : 1, write_off)) return e;
      if (auto e = log_file::sync_data(fd, p)) return e;
      write_off += bytes;
      zeroed_to = std::max(zeroed_to, write_off + zeros);
      capacity = std::max(capacity, write_off);
      ++next_seq;
      segment = segments.back();
      return {};
    }
    // Roll over: the new segment's header and this batch in one write.
    const std::uint64_t number = segments.back() + 1;
    int nfd = -1;
    if (auto e = create_segment(number, nfd)) return e;
    encode_header(number, next_seq);
    fmt::finish_record(batch_buf, 0, fmt::record_type::batch, next_seq + 1, salt);
    const std::uint64_t end = head_buf.size() + bytes;
    const std::uint64_t zeros = zeros_after(end, 0, opts.segment_bytes);
    const iovec iov[3] = {{head_buf.data(), head_buf.size()},
                          {batch_buf.data(), batch_buf.size()},
                          {zero_block.data(), zeros}};
    const fs::path p = segment_path(number);
    log_error e = log_file::write_at(nfd, p, iov, zeros ? 3 : 2, 0);
    if (!e) e = log_file::sync_data(nfd, p);
    if (e) {
      ::close(nfd);
      return e;
    }
    // The closed segment gives back its unused preallocation (zeros either
    // way, so this needs no sync).
    if (::ftruncate(fd, static_cast<off_t>(write_off)) != 0)
      log::warn("log: cannot trim ", segment_path(segments.back()).string(), ": ", std::strerror(errno));
    ::close(fd);
    fd = nfd;
    header_end = head_buf.size();
    write_off = end;
    zeroed_to = end + zeros;
    capacity = std::max(opts.segment_bytes, write_off);
    next_seq += 2;
    segments.push_back(number);
    segment = number;
    return {};
  }

  /// Deletes the segments below the one holding the first live entry.
  void drop_dead_segments() {
    const std::uint64_t keep_from = state.first_live_segment(segments.back());
    std::size_t dropped = 0;
    while (segments.size() > 1 && segments.front() < keep_from) {
      const fs::path p = segment_path(segments.front());
      if (::unlink(p.c_str()) != 0) {
        log::warn("log: cannot delete ", p.string(), " (compacted): ", std::strerror(errno), "; will retry");
        break;
      }
      segments.erase(segments.begin());
      ++dropped;
    }
    // Deletions must not come back out of order after a crash: the replay
    // refuses a log whose segment numbers have a hole.
    if (dropped > 0)
      if (auto e = log_file::sync_dir(dir)) log::warn("log: ", e.what);
  }

  log_error recover();
};

log_store::log_store(std::unique_ptr<impl> i) : impl_(std::move(i)) {}
log_store::~log_store() = default;

bool log_store::exists(const fs::path& data_dir) {
  std::error_code ec;
  return fs::exists(data_dir / wal_dir_name, ec) || fs::exists(data_dir / sqlite_log_name, ec);
}

std::unique_ptr<log_store> log_store::create(const fs::path& wal_dir, const std::string& node_id,
                                             const raft::hard_state& hard, const raft::snapshot_meta& snapshot,
                                             const log_options& opts, log_error& err) {
  std::error_code ec;
  fs::create_directories(wal_dir, ec);
  if (ec) {
    err = log_file::io_error(ec.value(), wal_dir, "cannot create the directory");
    return nullptr;
  }
  auto i = std::make_unique<impl>();
  i->dir = wal_dir;
  i->node_id = node_id;
  i->salt = new_salt();
  i->opts = opts;
  i->state.start(hard, snapshot);
  if ((err = i->create_segment(1, i->fd))) return nullptr;
  i->encode_header(1, 1);
  const iovec iov{i->head_buf.data(), i->head_buf.size()};
  if ((err = log_file::write_at(i->fd, i->segment_path(1), &iov, 1, 0))) return nullptr;
  if ((err = log_file::sync_data(i->fd, i->segment_path(1)))) return nullptr;
  i->segments = {1};
  i->header_end = i->write_off = i->zeroed_to = i->head_buf.size();
  i->capacity = opts.segment_bytes;
  i->next_seq = 2;
  i->loaded = raft::initial_state{hard, snapshot, {}, 0};
  return std::unique_ptr<log_store>(new log_store(std::move(i)));
}

std::unique_ptr<log_store> log_store::open(const fs::path& data_dir, const std::string& node_id,
                                           const raft::membership& bootstrap, const log_options& opts,
                                           log_error& err) {
  const fs::path wal = data_dir / wal_dir_name;
  const fs::path scratch = data_dir / scratch_dir_name;
  std::error_code ec;
  if (fs::exists(scratch, ec)) {
    // Only ever renamed to wal/ once complete: whatever is in it is unused.
    log::info("removing ", scratch.string(), " (a log creation or conversion a crash interrupted)");
    fs::remove_all(scratch, ec);
    if (ec) {
      err = log_file::io_error(ec.value(), scratch, "cannot remove");
      return nullptr;
    }
  }
  if (!fs::exists(wal, ec)) {
    if (fs::exists(data_dir / sqlite_log_name, ec)) {
      if ((err = migrate_sqlite_log(data_dir, scratch, node_id, opts))) return nullptr;
    } else {
      raft::snapshot_meta origin;
      origin.config = bootstrap;
      if (!create(scratch, node_id, {}, origin, opts, err)) return nullptr;
    }
    fs::rename(scratch, wal, ec);
    if (ec) {
      err = log_file::io_error(ec.value(), scratch, "cannot rename to " + wal.string());
      return nullptr;
    }
    if ((err = log_file::sync_dir(data_dir))) return nullptr;
  }
  if (fs::exists(data_dir / sqlite_log_name, ec))
    if ((err = retire_sqlite_log(data_dir))) return nullptr;
  return recover(wal, node_id, opts, err);
}

std::unique_ptr<log_store> log_store::recover(const fs::path& wal_dir, const std::string& node_id,
                                              const log_options& opts, log_error& err) {
  auto i = std::make_unique<impl>();
  i->dir = wal_dir;
  i->node_id = node_id;
  i->opts = opts;
  if ((err = i->recover())) return nullptr;
  return std::unique_ptr<log_store>(new log_store(std::move(i)));
}

log_error log_store::impl::recover() {
  std::error_code ec;
  std::vector<std::uint64_t> numbers;
  for (const auto& de : fs::directory_iterator(dir, ec)) {
    std::uint64_t n = 0;
    if (parse_segment_name(de.path().filename().string(), n)) numbers.push_back(n);
    else log::warn("log: ignoring ", de.path().string(), " (not a log segment)");
  }
  if (ec) return log_file::io_error(ec.value(), dir, "cannot list");
  if (numbers.empty())
    return format_error(log_errc::inconsistent, dir, "holds no log segment (damaged data directory); refusing to start");
  std::sort(numbers.begin(), numbers.end());
  for (std::size_t k = 1; k < numbers.size(); ++k)
    if (numbers[k] != numbers[k - 1] + 1)
      return format_error(log_errc::inconsistent, segment_path(numbers[k - 1] + 1),
                          "is missing: the log's segments have a hole; refusing to start");

  log_state replay(true);
  std::string bytes;
  std::vector<fmt::item> items;
  for (std::size_t k = 0; k < numbers.size(); ++k) {
    const fs::path p = segment_path(numbers[k]);
    if (auto e = log_file::read_all(p, bytes)) return e;
    const std::string_view view(bytes);
    fmt::record_view rv;
    fmt::segment_header h;
    const auto pr = fmt::probe(view, 0, rv);
    if (pr != fmt::probe_result::valid || rv.type != fmt::record_type::segment_header) {
      if (k > 0 && k + 1 == numbers.size()) {
        if (auto at = valid_record_after(view, 0, salt, next_seq))
          return format_error(log_errc::corrupt, p,
                              "byte offset 0: the segment header fails its checksum, but a valid record follows at "
                              "byte offset " + std::to_string(*at) + ": the log is damaged; refusing to start");
        // Created and preallocated, but the crash came before its first
        // write (header and batch together) reached the disk.
        log::warn("log: deleting ", p.string(), ": a new segment whose first write a crash interrupted");
        if (::unlink(p.c_str()) != 0) return log_file::io_error(errno, p, "cannot delete");
        if (auto e = log_file::sync_dir(dir)) return e;
        numbers.pop_back();
        break;
      }
      return format_error(log_errc::corrupt, p, "byte offset 0: no valid segment header; refusing to start");
    }
    if (!fmt::decode_segment_header(rv.payload, h))
      return format_error(log_errc::unknown_format, p, "byte offset 0: not a Quorum Chat log segment");
    if (h.node_id != node_id)
      return format_error(log_errc::wrong_node, p,
                          "this data directory belongs to node '" + h.node_id + "', not '" + node_id + "'");
    if (h.number != numbers[k])
      return format_error(log_errc::inconsistent, p, "the header says segment " + std::to_string(h.number));
    if (k == 0) {
      salt = h.salt;
      next_seq = rv.seq;
      replay.start(h.hard, h.snapshot);
    } else if (h.salt != salt || rv.seq != next_seq || !(h.hard == replay.hard()) || !(h.snapshot == replay.snapshot())) {
      return format_error(log_errc::inconsistent, p, "the segment header does not continue the segment before it");
    }
    ++next_seq;
    header_end = rv.bytes;
    std::size_t off = rv.bytes;
    for (;;) {
      auto r = fmt::probe(view.substr(off), salt, rv);
      if (r == fmt::probe_result::zeros && all_zero(view.substr(off))) break;  // the unwritten rest
      if (r == fmt::probe_result::valid && rv.type == fmt::record_type::batch && rv.seq == next_seq) {
        items.clear();
        if (!fmt::decode_batch(rv.payload, items))
          return format_error(log_errc::corrupt, p,
                              "byte offset " + std::to_string(off) + ": a record with a valid checksum does not decode");
        for (auto& it : items) {
          switch (it.kind) {
            case fmt::item_kind::hard_state: replay.set_hard(it.hard); break;
            case fmt::item_kind::snapshot_reset: replay.reset(it.snapshot); break;
            case fmt::item_kind::snapshot_compact: replay.compact(it.snapshot); break;
            case fmt::item_kind::entries:
              replay.append(it.entries.front().index, it.entries.size(), &it.entries, numbers[k]);
              break;
          }
        }
        ++next_seq;
        off += rv.bytes;
        continue;
      }
      if (r == fmt::probe_result::valid)
        return format_error(log_errc::corrupt, p,
                            "byte offset " + std::to_string(off) + ": record " + std::to_string(rv.seq) +
                                " where record " + std::to_string(next_seq) + " should be; refusing to start");
      // A bad record. If any valid record comes after it, it was written,
      // synced and acknowledged before those: damage, not a torn write.
      if (auto at = valid_record_after(view, off, salt, next_seq))
        return format_error(log_errc::corrupt, p,
                            "byte offset " + std::to_string(off) + ": record " + std::to_string(next_seq) +
                                " fails its checksum, but a valid record follows at byte offset " +
                                std::to_string(*at) + ": the log is damaged in the middle; refusing to start");
      for (std::size_t later = k + 1; later < numbers.size(); ++later) {
        const fs::path lp = segment_path(numbers[later]);
        std::string head;
        if (auto e = log_file::read_all(lp, head)) return e;
        fmt::record_view lv;
        if (fmt::probe(head, 0, lv) == fmt::probe_result::valid)
          return format_error(log_errc::corrupt, p,
                              "byte offset " + std::to_string(off) + ": record " + std::to_string(next_seq) +
                                  " fails its checksum, but " + lp.string() +
                                  " holds valid records: the log is damaged in the middle; refusing to start");
      }
      // The torn tail of the last write: never acknowledged. Later segment
      // files (created, never written) go with it.
      for (std::size_t later = numbers.size(); later-- > k + 1;) {
        const fs::path lp = segment_path(numbers[later]);
        if (::unlink(lp.c_str()) != 0) return log_file::io_error(errno, lp, "cannot delete");
        numbers.pop_back();
      }
      const auto last_nonzero = view.find_last_not_of('\0');
      const std::size_t torn = last_nonzero == std::string_view::npos ? 0 : last_nonzero + 1 - off;
      const int tfd = ::open(p.c_str(), O_RDWR | O_CLOEXEC);
      if (tfd < 0) return log_file::io_error(errno, p, "cannot open");
      log_error e;
      if (::ftruncate(tfd, static_cast<off_t>(off)) != 0) e = log_file::io_error(errno, p, "cannot truncate");
      if (!e) e = log_file::preallocate(tfd, p, off, std::max<std::uint64_t>(view.size(), opts.segment_bytes));
      if (!e && ::fsync(tfd) != 0) e = log_file::io_error(errno, p, "fsync failed");
      ::close(tfd);
      if (!e) e = log_file::sync_dir(dir);
      if (e) return e;
      log::warn("log: ", p.string(), ": cut off a torn record at byte offset ", off, " (", torn,
                " bytes of a write a crash interrupted, never acknowledged)");
      break;
    }
    write_off = off;
  }
  if (auto why = replay.finish(); !why.empty()) return format_error(log_errc::inconsistent, dir, why + "; refusing to start");

  segments = numbers;
  const fs::path active = segment_path(segments.back());
  fd = ::open(active.c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0) return log_file::io_error(errno, active, "cannot open");
  struct stat st {};
  if (::fstat(fd, &st) != 0) return log_file::io_error(errno, active, "cannot stat");
  capacity = static_cast<std::uint64_t>(st.st_size);
  zeroed_to = write_off;
  loaded = raft::initial_state{replay.hard(), replay.snapshot(), replay.take_entries(), 0};
  state = std::move(replay);
  return {};
}

raft::initial_state log_store::load() {
  if (!impl_->loaded) {
    log::error("log_store: load() called twice");
    std::abort();
  }
  raft::initial_state s = std::move(*impl_->loaded);
  impl_->loaded.reset();
  return s;
}

log_error log_store::save(const log_batch& b) {
  auto& i = *impl_;
  if (i.failed) return {log_errc::failed_earlier, i.failed.what};
  if (b.empty()) return {};
  // The entries that continue the log: those above the snapshot in force.
  const std::uint64_t snap_index = b.snapshot ? b.snapshot->index : i.state.snapshot().index;
  const std::uint64_t last = b.snapshot ? b.snapshot->index : i.state.last_index();
  auto first = std::find_if(b.entries.begin(), b.entries.end(), [&](const raft::entry& e) { return e.index > snap_index; });
  const auto count = static_cast<std::size_t>(b.entries.end() - first);
  if (count > 0 && first->index > last + 1) {
    log::error("log_store: entries from index ", first->index, " would leave a gap after ", last);
    std::abort();
  }

  i.batch_buf.clear();
  fmt::begin_record(i.batch_buf);
  if (b.snapshot) fmt::put_snapshot(i.batch_buf, fmt::item_kind::snapshot_reset, *b.snapshot);
  if (count > 0) fmt::put_entries(i.batch_buf, &*first, count);
  if (b.hard) fmt::put_hard_state(i.batch_buf, *b.hard);
  if (i.batch_buf.size() == fmt::header_bytes) return {};  // only entries the snapshot already covers
  std::uint64_t segment = 0;
  if (auto e = i.append_batch(segment)) {
    i.failed = e;
    return e;
  }
  if (b.snapshot) i.state.reset(*b.snapshot);
  if (count > 0) i.state.append(first->index, count, nullptr, segment);
  if (b.hard) i.state.set_hard(*b.hard);
  return {};
}

log_error log_store::compact(const raft::snapshot_meta& snap) {
  auto& i = *impl_;
  if (i.failed) return {log_errc::failed_earlier, i.failed.what};
  if (snap.index <= i.state.snapshot().index) return {};
  i.batch_buf.clear();
  fmt::begin_record(i.batch_buf);
  fmt::put_snapshot(i.batch_buf, fmt::item_kind::snapshot_compact, snap);
  std::uint64_t segment = 0;
  if (auto e = i.append_batch(segment)) {
    i.failed = e;
    return e;
  }
  i.state.compact(snap);
  i.drop_dead_segments();
  return {};
}

std::uint64_t log_store::entry_count() const { return impl_->state.live_count(); }
std::size_t log_store::segment_count() const { return impl_->segments.size(); }

}  // namespace qc::db
