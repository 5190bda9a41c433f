// The Raft log's segment files: round trips, suffix replacement and
// compaction across segment boundaries, torn tails cut off, damage in the
// middle refused with file and offset, write errors reported, SIGKILL in
// the middle of batches (a real child process), and the conversion of an
// earlier version's raft.db.
#include <doctest/doctest.h>

#include <fcntl.h>
#include <linux/fiemap.h>
#include <linux/fs.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <random>

#include <SQLiteCpp/SQLiteCpp.h>

#include "db/crc32c.h"
#include "db/log_state.h"
#include "db/log_test_util.h"
#include "db/temp_store.h"

using namespace qc;
using namespace qc::test;
namespace fs = std::filesystem;

namespace {
constexpr std::uint64_t small_segment = 64 * 1024;

void check_entries(const raft::initial_state& st, std::uint64_t from, std::uint64_t to, std::uint64_t t = 1,
                   std::size_t pad = 0) {
  REQUIRE(st.entries.size() == to - from + 1);
  for (auto i = from; i <= to; ++i) REQUIRE(st.entries[i - from] == log_entry(i, t, pad));
}

/// Bytes of [from, to) of `file` that the file system holds as unwritten
/// (allocated by fallocate, never written), from FIEMAP; nullopt where the
/// file system cannot tell.
std::optional<std::uint64_t> unwritten_bytes(const fs::path& file, std::uint64_t from, std::uint64_t to) {
  const int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
  REQUIRE(fd >= 0);
  constexpr std::size_t max_extents = 256;
  std::vector<char> buf(sizeof(fiemap) + max_extents * sizeof(fiemap_extent));
  auto* fm = reinterpret_cast<fiemap*>(buf.data());
  fm->fm_start = from;
  fm->fm_length = to - from;
  fm->fm_flags = FIEMAP_FLAG_SYNC;
  fm->fm_extent_count = max_extents;
  const int rc = ::ioctl(fd, FS_IOC_FIEMAP, fm);
  ::close(fd);
  if (rc != 0) return std::nullopt;
  std::uint64_t n = 0;
  for (std::uint32_t k = 0; k < fm->fm_mapped_extents; ++k) {
    const fiemap_extent& x = fm->fm_extents[k];
    if (!(x.fe_flags & FIEMAP_EXTENT_UNWRITTEN)) continue;
    const auto lo = std::max<std::uint64_t>(x.fe_logical, from), hi = std::min<std::uint64_t>(x.fe_logical + x.fe_length, to);
    if (hi > lo) n += hi - lo;
  }
  return n;
}
}  // namespace

TEST_CASE("crc32c gives the Castagnoli check value, in one call or in pieces") {
  const std::string s = "123456789";
  CHECK(db::crc32c(0, s.data(), s.size()) == 0xe3069283u);
  CHECK(db::crc32c(db::crc32c(0, s.data(), 4), s.data() + 4, 5) == 0xe3069283u);
  const std::string big(1000, 'x');
  CHECK(db::crc32c(db::crc32c(0, big.data(), 333), big.data() + 333, 667) == db::crc32c(0, big.data(), big.size()));
}

TEST_CASE("a new log starts with the founding members at index 0; batches survive a reopen") {
  temp_dir d("log");
  {
    auto s = open_log(d.p);
    auto st = s->load();
    CHECK(st.snapshot.index == 0);
    CHECK(st.snapshot.config == one_member());
    CHECK(st.entries.empty());
    save(*s, log_entries(1, 3), raft::hard_state{2, "n1", 1});
    save(*s, log_entries(4, 5), raft::hard_state{2, "n1", 4});
    CHECK(s->entry_count() == 5);
  }
  auto s = open_log(d.p);
  auto st = s->load();
  CHECK(st.hard == raft::hard_state{2, "n1", 4});
  check_entries(st, 1, 5);
  CHECK(!fs::exists(d.p / "raft.db"));
  CHECK(!fs::exists(d.p / "wal.new"));
}

TEST_CASE("appends write real zeros ahead of them: no fdatasync has to convert an unwritten extent") {
  temp_dir d("log");
  constexpr std::size_t pad = 1000;
  constexpr std::uint64_t ahead = 256 * 1024;
  {
    auto s = open_log(d.p);
    save(*s, log_entries(1, 1, 1, pad));
  }
  const fs::path first = segments(d.p).front();
  auto probe = unwritten_bytes(first, 0, 4096);
  if (!probe) {
    MESSAGE("this file system has no FIEMAP; nothing to check");
    return;
  }
  // posix_fallocate left the rest of the 16 MiB segment unwritten; the
  // first batch wrote zeros for the next 256 KiB with it.
  CHECK(fs::file_size(first) == 16u << 20);
  CHECK(*unwritten_bytes(first, 0, ahead) == 0);
  CHECK(*unwritten_bytes(first, 2 * ahead, 4 * ahead) == 2 * ahead);
  {
    // After a restart the store does not know how far zeros reach; its
    // next append writes them again. 300 batches of ~1 KiB pass the first
    // chunk, and the zeros move on with them.
    auto s = open_log(d.p);
    for (std::uint64_t i = 2; i <= 300; ++i) save(*s, log_entries(i, i, 1, pad));
  }
  CHECK(*unwritten_bytes(first, 0, 300 * (pad + 64) + ahead / 2) == 0);
  auto st = open_log(d.p)->load();
  check_entries(st, 1, 300, 1, pad);
  // A new segment gets its zeros in the write that opens it.
  temp_dir small("log-small");
  {
    auto s = open_log(small.p, small_segment);
    for (std::uint64_t i = 1; i <= 200; i += 10) save(*s, log_entries(i, i + 9, 1, pad));
    REQUIRE(s->segment_count() >= 3);
  }
  const fs::path last = segments(small.p).back();
  CHECK(*unwritten_bytes(last, 0, small_segment) == 0);
}

TEST_CASE("entries at a stored index replace the suffix from there (Raft §5.3), after a restart too") {
  temp_dir d("log");
  {
    auto s = open_log(d.p);
    save(*s, log_entries(1, 10), raft::hard_state{1, "", 4});
    save(*s, log_entries(6, 8, 2), raft::hard_state{2, "", 4});
    CHECK(s->entry_count() == 8);
  }
  {
    auto s = open_log(d.p);
    auto st = s->load();
    REQUIRE(st.entries.size() == 8);
    CHECK(st.entries[4] == log_entry(5, 1));
    CHECK(st.entries[5] == log_entry(6, 2));
    CHECK(st.entries[7] == log_entry(8, 2));
    save(*s, log_entries(9, 9, 2));
  }
  auto st = open_log(d.p)->load();
  REQUIRE(st.entries.size() == 9);
  CHECK(st.entries.back() == log_entry(9, 2));
}

TEST_CASE("truncation across a segment boundary") {
  temp_dir d("log");
  constexpr std::size_t pad = 1000;
  std::uint64_t first_of_last = 0;
  {
    auto s = open_log(d.p, small_segment);
    for (std::uint64_t i = 1; i <= 200; i += 10) save(*s, log_entries(i, i + 9, 1, pad), raft::hard_state{1, "", 0});
    REQUIRE(s->segment_count() >= 3);
    // Replace everything from an index in the first segment: the new
    // entries land in the last segment, the old ones stay on disk, dead.
    save(*s, log_entries(30, 35, 2, pad), raft::hard_state{2, "", 0});
    CHECK(s->entry_count() == 35);
    first_of_last = s->segment_count();
  }
  {
    auto s = open_log(d.p, small_segment);
    auto st = s->load();
    REQUIRE(st.entries.size() == 35);
    CHECK(st.entries[28] == log_entry(29, 1, pad));
    CHECK(st.entries[29] == log_entry(30, 2, pad));
    CHECK(st.entries[34] == log_entry(35, 2, pad));
    CHECK(s->segment_count() == first_of_last);
    // ... and appends continue after the replacement, into new segments.
    for (std::uint64_t i = 36; i <= 135; i += 10) save(*s, log_entries(i, i + 9, 2, pad));
  }
  {
    auto s = open_log(d.p, small_segment);
    auto st = s->load();
    REQUIRE(st.entries.size() == 135);
    CHECK(st.entries[29] == log_entry(30, 2, pad));
    CHECK(st.entries[134] == log_entry(135, 2, pad));
    // A snapshot right below the replacement: every older segment goes,
    // and the first kept one starts with entries the replacement made dead
    // (a run that resumes after deleted segments, then is superseded).
    const auto before = s->segment_count();
    REQUIRE(!s->compact(raft::snapshot_meta{29, 1, one_member(), "snap-29.db"}));
    CHECK(s->segment_count() < before);
  }
  auto st = open_log(d.p, small_segment)->load();
  CHECK(st.snapshot.index == 29);
  REQUIRE(st.entries.size() == 106);
  CHECK(st.entries.front() == log_entry(30, 2, pad));
  CHECK(st.entries.back() == log_entry(135, 2, pad));
}

TEST_CASE("compaction deletes whole segments below the snapshot, across segment boundaries") {
  temp_dir d("log");
  constexpr std::size_t pad = 1000;
  const raft::snapshot_meta snap{150, 1, one_member(), "snap-150.db"};
  {
    auto s = open_log(d.p, small_segment);
    for (std::uint64_t i = 1; i <= 300; i += 10) save(*s, log_entries(i, i + 9, 1, pad), raft::hard_state{1, "", i + 9});
    const auto before = s->segment_count();
    REQUIRE(before >= 4);
    auto e = s->compact(snap);
    REQUIRE_MESSAGE(!e, e.what);
    CHECK(s->entry_count() == 150);
    CHECK(s->segment_count() < before);
    CHECK(s->segment_count() == segments(d.p).size());
    // An older snapshot changes nothing.
    REQUIRE(!s->compact(raft::snapshot_meta{100, 1, one_member(), "old"}));
    CHECK(s->entry_count() == 150);
  }
  {
    auto s = open_log(d.p, small_segment);
    auto st = s->load();
    CHECK(st.snapshot == snap);
    CHECK(st.hard.commit == 300);
    check_entries(st, 151, 300, 1, pad);
    // Compact past every entry: only the open segment is left.
    REQUIRE(!s->compact(raft::snapshot_meta{300, 1, one_member(), "snap-300.db"}));
    CHECK(s->entry_count() == 0);
    CHECK(s->segment_count() == 1);
    save(*s, log_entries(301, 305, 1, pad), raft::hard_state{1, "", 305});
  }
  auto st = open_log(d.p, small_segment)->load();
  CHECK(st.snapshot.index == 300);
  check_entries(st, 301, 305, 1, pad);
}

TEST_CASE("a received snapshot resets the log; entries after it follow in the same record") {
  temp_dir d("log");
  {
    auto s = open_log(d.p);
    save(*s, log_entries(1, 5), raft::hard_state{1, "", 3});
    db::log_batch b;
    b.snapshot = raft::snapshot_meta{40, 3, one_member(), "snap-40.db"};
    b.entries = log_entries(41, 42, 3);
    b.hard = raft::hard_state{3, "n2", 40};
    REQUIRE(!s->save(b));
    CHECK(s->entry_count() == 2);
  }
  auto st = open_log(d.p)->load();
  CHECK(st.snapshot.index == 40);
  CHECK(st.hard == raft::hard_state{3, "n2", 40});
  check_entries(st, 41, 42, 3);
}

TEST_CASE("a torn last record is cut off at start, and appends continue after it") {
  enum class tear { garbage_after, half_zeroed, partial_header };
  for (auto how : {tear::garbage_after, tear::half_zeroed, tear::partial_header}) {
    CAPTURE(static_cast<int>(how));
    temp_dir d("log");
    {
      auto s = open_log(d.p);
      save(*s, log_entries(1, 10, 1, 300), raft::hard_state{1, "", 10});
      save(*s, log_entries(11, 20, 1, 300), raft::hard_state{1, "", 20});
    }
    const auto seg = segments(d.p).back();
    auto recs = records(seg);
    REQUIRE(recs.size() == 3);  // header + 2 batches
    std::string bytes = read_file(seg);
    const auto last = recs.back();
    if (how == tear::garbage_after) {
      // A third batch whose first sectors never reached the disk.
      std::memset(bytes.data() + last.offset + last.bytes + 4096, 0x5a, 300);
    } else if (how == tear::half_zeroed) {
      std::memset(bytes.data() + last.offset + last.bytes / 2, 0, last.bytes - last.bytes / 2);
    } else {
      std::memset(bytes.data() + last.offset, 0, last.bytes);
      std::memset(bytes.data() + last.offset, 0x11, 10);
    }
    write_file(seg, bytes);
    const auto keep = how == tear::garbage_after ? 20u : 10u;
    {
      auto s = open_log(d.p);
      auto st = s->load();
      check_entries(st, 1, keep, 1, 300);
      CHECK(st.hard.commit == keep);
      save(*s, log_entries(keep + 1, keep + 3, 2, 300), raft::hard_state{2, "", keep + 3});
    }
    auto st = open_log(d.p)->load();
    REQUIRE(st.entries.size() == keep + 3);
    CHECK(st.entries.back() == log_entry(keep + 3, 2, 300));
    CHECK(st.hard.commit == keep + 3);
  }
}

TEST_CASE("a checksum failure with valid records after it refuses to start, naming the file and offset") {
  temp_dir d("log");
  {
    auto s = open_log(d.p, small_segment);
    for (std::uint64_t i = 1; i <= 200; i += 10) save(*s, log_entries(i, i + 9, 1, 1000), raft::hard_state{1, "", 0});
    REQUIRE(s->segment_count() >= 3);
  }
  // Flips `bits` at byte `at` of `seg`: the open must be refused, naming
  // the file and the offset of the damaged record.
  auto damage = [&](const fs::path& seg, const record_pos& victim, std::size_t at, char bits) {
    std::string bytes = read_file(seg);
    bytes[at] = static_cast<char>(bytes[at] ^ bits);
    write_file(seg, bytes);
    auto err = open_fails(d.p, small_segment);
    CHECK(err.code == db::log_errc::corrupt);
    CHECK(err.what.find(seg.string()) != std::string::npos);
    CHECK(err.what.find("byte offset " + std::to_string(victim.offset)) != std::string::npos);
    MESSAGE(err.what);
  };
  SUBCASE("in the middle of a segment") {
    const auto seg = segments(d.p)[1];
    auto recs = records(seg);
    REQUIRE(recs.size() >= 4);
    const auto victim = recs[recs.size() - 2];  // valid records follow it in the same file
    damage(seg, victim, victim.offset + victim.bytes / 2, 0x01);
  }
  SUBCASE("in the header of the last segment, its records intact") {
    const auto seg = segments(d.p).back();
    auto recs = records(seg);
    REQUIRE(recs.size() >= 2);
    damage(seg, recs.front(), 40, 0x08);  // not mistaken for a segment a crash left unwritten
  }
  SUBCASE("at the end of an earlier segment") {
    const auto seg = segments(d.p).front();
    const auto victim = records(seg).back();  // the later segments hold valid records
    damage(seg, victim, victim.offset + 30, 0x40);
  }
  // Nothing was "repaired" by the refused opens.
  CHECK(segments(d.p).size() >= 3);
}

TEST_CASE("damaged or foreign logs are refused, never reset") {
  temp_dir d("log");
  {
    auto s = open_log(d.p, small_segment);
    for (std::uint64_t i = 1; i <= 200; i += 10) save(*s, log_entries(i, i + 9, 1, 1000), raft::hard_state{1, "", 0});
  }
  auto err = open_fails(d.p, small_segment, "n2");
  CHECK(err.code == db::log_errc::wrong_node);
  CHECK(err.what.find("belongs to node 'n1', not 'n2'") != std::string::npos);

  const auto segs = segments(d.p);
  REQUIRE(segs.size() >= 3);
  const auto moved = d.p / "moved.log";
  fs::rename(segs[1], moved);  // a hole in the segment numbers
  err = open_fails(d.p, small_segment);
  CHECK(err.code == db::log_errc::inconsistent);
  CHECK(err.what.find(segs[1].string()) != std::string::npos);
  fs::rename(moved, segs[1]);

  fs::rename(segs[0], moved);  // the oldest segment gone: entries 1.. are missing
  err = open_fails(d.p, small_segment);
  CHECK(err.code == db::log_errc::inconsistent);
  CHECK(err.what.find("gap") != std::string::npos);
  MESSAGE(err.what);
  fs::rename(moved, segs[0]);

  for (const auto& s : segs) fs::rename(s, d.p / s.filename());  // an emptied wal/
  err = open_fails(d.p, small_segment);
  CHECK(err.what.find("no log segment") != std::string::npos);
  for (const auto& s : segs) fs::rename(d.p / s.filename(), s);
  open_log(d.p, small_segment);  // and all is well again
}

TEST_CASE("log_state: a run that resumes past the snapshot is a gap; superseded and compacted ones are not") {
  const raft::snapshot_meta s0{0, 0, one_member(), ""};
  {
    db::log_state st(true);
    st.start({}, s0);
    auto a = log_entries(1, 5);
    st.append(1, 5, &a, 1);
    auto b = log_entries(8, 9);
    st.append(8, 2, &b, 1);
    CHECK(st.finish().find("gap") != std::string::npos);
  }
  {  // the run resumes after deleted segments, and a later snapshot covers them
    db::log_state st(true);
    st.start({}, s0);
    auto b = log_entries(8, 9);
    st.append(8, 2, &b, 2);
    st.compact(raft::snapshot_meta{7, 1, one_member(), "s"});
    CHECK(st.finish().empty());
    CHECK(st.live_count() == 2);
    CHECK(st.first_live_segment(9) == 2);
  }
  {  // commit beyond the log, decreasing terms
    db::log_state st(true);
    st.start(raft::hard_state{1, "", 9}, s0);
    auto a = log_entries(1, 5);
    st.append(1, 5, &a, 1);
    CHECK(st.finish().find("beyond the log") != std::string::npos);
    db::log_state t(true);
    t.start({}, s0);
    auto x = log_entries(1, 2, 3);
    t.append(1, 2, &x, 1);
    auto y = log_entries(3, 3, 2);
    t.append(3, 1, &y, 1);
    CHECK(t.finish().find("terms decrease") != std::string::npos);
  }
}

TEST_CASE("a failed write comes back as an error naming the file; the batch is not visible after a restart") {
  temp_dir d("log");
  fs::path seg;
  {
    auto s = open_log(d.p);
    save(*s, log_entries(1, 10, 1, 100), raft::hard_state{1, "", 10});
    seg = segments(d.p).back();
    const auto end = records(seg).back();
    // The kernel refuses writes past RLIMIT_FSIZE with EFBIG, as it would
    // refuse a full disk with ENOSPC: a short write, then the error.
    struct rlimit old {};
    REQUIRE(::getrlimit(RLIMIT_FSIZE, &old) == 0);
    auto* prev = ::signal(SIGXFSZ, SIG_IGN);
    struct rlimit lim = old;
    lim.rlim_cur = end.offset + end.bytes + 500;  // room for part of the next record only
    REQUIRE(::setrlimit(RLIMIT_FSIZE, &lim) == 0);
    db::log_batch b;
    b.entries = log_entries(11, 20, 1, 100);
    b.hard = raft::hard_state{1, "", 20};
    const auto e = s->save(b);
    REQUIRE(::setrlimit(RLIMIT_FSIZE, &old) == 0);
    ::signal(SIGXFSZ, prev);
    REQUIRE(e);
    CHECK(e.code == std::error_code(EFBIG, std::generic_category()));
    CHECK(e.what.find(seg.string()) != std::string::npos);
    MESSAGE(e.what);
    // The store takes nothing more until it is reopened.
    db::log_batch c;
    c.hard = raft::hard_state{1, "", 10};
    CHECK(s->save(c).code == db::log_errc::failed_earlier);
  }
  auto s = open_log(d.p);
  auto st = s->load();
  check_entries(st, 1, 10, 1, 100);
  CHECK(st.hard.commit == 10);
  save(*s, log_entries(11, 12, 1, 100));
}

TEST_CASE("SIGKILL in the middle of batches: a restarted log holds whole batches, a prefix of those written") {
  temp_dir d("log");
  constexpr std::uint64_t batch = 40;
  std::mt19937 rng(42);
  std::uint64_t recovered = 0;
  { open_log(d.p, 256 * 1024); }
  for (int round = 0; round < 6; ++round) {
    const pid_t pid = ::fork();
    if (pid == 0) {
      // Child: append batches of `batch` entries from where the log ends,
      // each with the hard state naming its last index, until killed.
      db::log_error err;
      db::log_options o;
      o.segment_bytes = 256 * 1024;
      auto s = db::log_store::open(d.p, "n1", one_member(), o, err);
      if (!s) ::_exit(2);
      auto st = s->load();
      std::uint64_t next = st.entries.empty() ? 1 : st.entries.back().index + 1;
      for (;; next += batch) {
        db::log_batch b;
        b.entries = log_entries(next, next + batch - 1, 1, 2000);
        b.hard = raft::hard_state{1, "", next + batch - 1};
        if (s->save(b)) ::_exit(3);
      }
    }
    ::usleep(static_cast<useconds_t>(150'000 + rng() % 300'000));
    ::kill(pid, SIGKILL);
    int status = 0;
    ::waitpid(pid, &status, 0);
    REQUIRE(WIFSIGNALED(status));
    auto s = open_log(d.p, 256 * 1024);
    auto st = s->load();
    const std::uint64_t n = st.entries.size();
    CHECK(n % batch == 0);            // whole batches only
    CHECK(n >= recovered);            // nothing durable was lost
    CHECK(st.hard.commit == n);       // hard state and entries of one record together
    check_entries(st, 1, n, 1, 2000);
    recovered = n;
    MESSAGE("round " << round << ": " << n << " entries in " << s->segment_count() << " segments");
  }
  CHECK(recovered > 0);
}

namespace {
/// An earlier version's raft.db, with the schema and encoding of its store.
void write_sqlite_log(const fs::path& file, const std::string& node, const raft::hard_state& hard,
                      const raft::snapshot_meta& snap, const std::vector<raft::entry>& entries) {
  SQLite::Database db(file.string(), SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
  db.exec("PRAGMA journal_mode=WAL");
  db.exec("CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID");
  db.exec("CREATE TABLE hard_state(id INTEGER PRIMARY KEY CHECK(id = 1), term INTEGER NOT NULL, vote TEXT NOT NULL, commit_index INTEGER NOT NULL)");
  db.exec("CREATE TABLE snapshot(id INTEGER PRIMARY KEY CHECK(id = 1), idx INTEGER NOT NULL, term INTEGER NOT NULL, config TEXT NOT NULL, handle TEXT NOT NULL)");
  db.exec("CREATE TABLE entries(idx INTEGER PRIMARY KEY, term INTEGER NOT NULL, type INTEGER NOT NULL, data BLOB NOT NULL)");
  db.exec("INSERT INTO meta VALUES ('schema_version', '1'), ('node_id', '" + node + "')");
  SQLite::Statement h(db, "INSERT INTO hard_state VALUES (1, ?, ?, ?)");
  h.bind(1, static_cast<std::int64_t>(hard.term));
  h.bind(2, hard.vote);
  h.bind(3, static_cast<std::int64_t>(hard.commit));
  h.exec();
  std::string members;
  for (const auto& m : snap.config.members) members += m.id + ' ' + m.address + ' ' + (m.voter ? '1' : '0') + '\n';
  SQLite::Statement s(db, "INSERT INTO snapshot VALUES (1, ?, ?, ?, ?)");
  s.bind(1, static_cast<std::int64_t>(snap.index));
  s.bind(2, static_cast<std::int64_t>(snap.term));
  s.bind(3, members);
  s.bind(4, snap.handle);
  s.exec();
  for (const auto& e : entries) {
    SQLite::Statement q(db, "INSERT INTO entries VALUES (?, ?, ?, ?)");
    q.bind(1, static_cast<std::int64_t>(e.index));
    q.bind(2, static_cast<std::int64_t>(e.term));
    q.bind(3, static_cast<int>(e.type));
    q.bind(4, static_cast<const void*>(e.data.data()), static_cast<int>(e.data.size()));
    q.exec();
  }
}
}  // namespace

TEST_CASE("raft.db of an earlier version is converted on open, crash-safely") {
  const raft::hard_state hard{7, "n2", 480};
  const raft::snapshot_meta snap{400, 6, raft::membership{{{"n1", "a:1", true}, {"n2", "a:2", true}, {"n3", "a:3", false}}},
                                 "snap-400.db"};
  auto entries = log_entries(401, 500, 7, 50000);  // ~5 MB: converted in several records
  entries[10].type = raft::entry_type::conf_change;
  auto check = [&](db::log_store& s) {
    auto st = s.load();
    CHECK(st.hard == hard);
    CHECK(st.snapshot == snap);
    CHECK(st.entries == entries);
  };

  SUBCASE("a plain conversion; raft.db and its -wal are gone afterwards") {
    temp_dir d("log");
    write_sqlite_log(d.p / "raft.db", "n1", hard, snap, entries);
    {
      auto s = open_log(d.p, small_segment);
      check(*s);
      CHECK(s->segment_count() > 1);
    }
    CHECK(!fs::exists(d.p / "raft.db"));
    CHECK(!fs::exists(d.p / "raft.db-wal"));
    CHECK(!fs::exists(d.p / "wal.new"));
    check(*open_log(d.p, small_segment));  // and it opens as the new format from then on
  }
  SUBCASE("a crash before the rename: the half-written scratch log is discarded and the conversion redone") {
    temp_dir d("log");
    write_sqlite_log(d.p / "raft.db", "n1", hard, snap, entries);
    fs::create_directories(d.p / "wal.new");
    write_file(d.p / "wal.new" / "0000000000000001.log", std::string(5000, 'J'));
    check(*open_log(d.p, small_segment));
    CHECK(!fs::exists(d.p / "raft.db"));
  }
  SUBCASE("a crash after the rename: wal/ is in charge and raft.db is deleted") {
    temp_dir d("log");
    write_sqlite_log(d.p / "raft.db", "n1", hard, snap, entries);
    { open_log(d.p, small_segment); }
    // raft.db is back (the deletion never reached the disk) but stale.
    write_sqlite_log(d.p / "raft.db", "n1", raft::hard_state{1, "", 0}, raft::snapshot_meta{}, {});
    check(*open_log(d.p, small_segment));
    CHECK(!fs::exists(d.p / "raft.db"));
  }
  SUBCASE("raft.db of another node, or a damaged one, is refused and left as it was") {
    temp_dir d("log");
    write_sqlite_log(d.p / "raft.db", "n2", hard, snap, entries);
    auto err = open_fails(d.p);
    CHECK(err.code == db::log_errc::wrong_node);
    CHECK(fs::exists(d.p / "raft.db"));
    CHECK(!fs::exists(d.p / "wal"));
    fs::remove(d.p / "raft.db");
    fs::remove(d.p / "raft.db-wal");
    fs::remove(d.p / "raft.db-shm");
    auto gappy = entries;
    gappy.erase(gappy.begin() + 50);
    write_sqlite_log(d.p / "raft.db", "n1", hard, snap, gappy);
    err = open_fails(d.p);
    CHECK(err.what.find("gap at index 451") != std::string::npos);
    CHECK(!fs::exists(d.p / "wal"));
  }
}
