// The Raft log's segment files under real crashes: nodes SIGKILLed in the
// middle of group-committed batches while segments roll over and
// compaction deletes them, a torn tail planted after a kill (cut off at
// restart), and a damaged record in the middle (the node refuses to start
// and says which file and byte offset).
#include <doctest/doctest.h>

#include <algorithm>
#include <cstring>

#include "harness/harness.h"
#include "integration/workload.h"

using namespace qc::test;

namespace {

/// Small segments and frequent snapshots: rolls and compactions happen
/// within seconds of load.
const std::string small_log = "[raft]\nsnapshot_every = 300\nlog_segment_bytes = 65536\n";

std::vector<fs::path> segment_files(const node_proc& n) {
  std::vector<fs::path> out;
  for (const auto& de : fs::directory_iterator(n.dir / "wal")) out.push_back(de.path());
  std::sort(out.begin(), out.end());
  return out;
}

/// Just past the last non-zero byte of a segment. The last record may end a
/// few bytes later (a commit index's high bytes are zeros, then padding),
/// never 4 KiB later.
std::size_t data_end(const std::string& bytes) {
  const auto last = bytes.find_last_not_of('\0');
  return last == std::string::npos ? 0 : last + 1;
}

/// The account every writer of workload.h sends to.
void make_sink(cluster& c) {
  client s;
  REQUIRE(s.connect(c.nodes[0].port));
  REQUIRE(!s.signup("sink").empty());
}

std::string read_all(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}
void write_all(const fs::path& p, const std::string& bytes) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

}  // namespace

TEST_CASE("SIGKILL in the middle of batches, with segments rolling and compacted: no acknowledged write lost") {
  cluster c(3, small_log);
  c.start_all();
  REQUIRE(c.wait_leader(15s));
  make_sink(c);
  writer_pool pool(c, 4);
  REQUIRE(eventually([&] { return pool.total() >= 200; }, 30s));
  // Kill the leader and then a follower while writes are being fsynced,
  // several times; each comes back from its own log.
  for (int round = 0; round < 4; ++round) {
    auto l = c.wait_leader(15s);
    REQUIRE(l);
    const auto li = static_cast<std::size_t>(
        std::find_if(c.nodes.begin(), c.nodes.end(), [&](const node_proc& n) { return n.id == *l; }) - c.nodes.begin());
    auto& victim = c.nodes[round % 2 == 0 ? li : (li + 1) % c.nodes.size()];
    const int before = pool.total();
    REQUIRE(eventually([&] { return pool.total() >= before + 150; }, 30s));
    victim.signal(SIGKILL);
    REQUIRE(eventually([&] { return pool.total() >= before + 300; }, 30s));
    victim.start();
  }
  REQUIRE(eventually([&] { return pool.total() >= 2500; }, 60s));
  pool.stop();
  MESSAGE("acknowledged: " << pool.total());
  auto d = converged_digests(c);
  REQUIRE(d.size() == 3);
  CHECK(d[0] == d[1]);
  CHECK(d[1] == d[2]);
  check_exactly_once(c, pool.writers);
  for (auto& n : c.nodes) {
    // 2,500+ sends of ~300 bytes went through 64 KiB segments; compaction
    // (every 300 entries) deleted all but the last few. A snapshot copy
    // that failed just before the end is tried again 5 s later (the
    // apply actor's retry timer), so this may take a few seconds more.
    const bool compacted = eventually(
        [&] { return segment_files(n).front().filename().string() != "0000000000000001.log"; }, 20s);
    const auto segs = segment_files(n);
    MESSAGE(n.id << ": " << segs.size() << " segments, from " << segs.front().filename().string());
    CHECK(segs.size() <= 8);
    CHECK(compacted);
    if (!compacted) c.dump_logs();  // its snapshots, and why none compacted the log
  }
}

TEST_CASE("a torn tail is cut off at restart; damage in the middle stops the node, naming file and offset") {
  cluster c(3);
  c.start_all();
  REQUIRE(c.wait_leader(15s));
  make_sink(c);
  writer_pool pool(c, 2);
  REQUIRE(eventually([&] { return pool.total() >= 300; }, 30s));
  auto l = c.wait_leader(15s);
  REQUIRE(l);
  // A follower: the cluster keeps serving while it is down.
  auto& f = c.nodes[*l == "n1" ? 1 : 0];
  f.signal(SIGKILL);
  pool.stop();

  const auto seg = segment_files(f).back();
  std::string bytes = read_all(seg);
  const auto end = data_end(bytes);
  REQUIRE(end > 4096);

  SUBCASE("a torn tail: garbage after the last record, as a write cut short leaves it") {
    // Clear of the last record: damaging an acknowledged record instead
    // would leave this follower behind its leader's match index (the leader
    // ignores rejections below it until leadership changes).
    std::memset(bytes.data() + end + 4096, 0x5a, 700);
    write_all(seg, bytes);
    f.start();
    REQUIRE(eventually([&] { return http_get(f.port, "/health").first == 200; }, 20s));
    CHECK(f.log_text().find("cut off a torn record") != std::string::npos);
    auto d = converged_digests(c);
    REQUIRE(d.size() == 3);
    CHECK(d[0] == d[1]);
    CHECK(d[1] == d[2]);
  }
  SUBCASE("a flipped bit in an early record, valid records after it: refused") {
    const std::size_t at = end / 2;  // hundreds of records follow
    bytes[at] = static_cast<char>(bytes[at] ^ 0x10);
    write_all(seg, bytes);
    f.start();
    REQUIRE(eventually([&] { return !f.alive(); }, 20s));
    f.signal(SIGKILL);  // reaps it
    const auto log = f.log_text();
    MESSAGE(log.substr(log.rfind("cannot start")));
    CHECK(log.find("cannot start") != std::string::npos);
    CHECK(log.find(seg.string()) != std::string::npos);
    CHECK(log.find("byte offset") != std::string::npos);
    CHECK(log.find("damaged in the middle") != std::string::npos);
    CHECK(read_all(seg) == bytes);  // left as it was for an operator to look at
  }
}
