// Helpers of the Raft log tests: open a log in a data directory, entries
// with recognisable contents, and a walk over a segment file's records
// (through the real format code) so a test can tear or damage a chosen one.
//
// Owned by: the test thread.
#pragma once

#include <doctest/doctest.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "db/log_format.h"
#include "db/log_store.h"

namespace qc::test {

inline raft::membership one_member() { return raft::membership{{raft::member{"n1", "127.0.0.1:1", true}}}; }

/// Opens (creating or converting) the log of `data_dir` as node n1; fails the test with the reason.
inline std::unique_ptr<db::log_store> open_log(const std::filesystem::path& data_dir, std::uint64_t segment_bytes = 16u << 20,
                                               const std::string& node = "n1") {
  db::log_error err;
  db::log_options o;
  o.segment_bytes = segment_bytes;
  auto s = db::log_store::open(data_dir, node, one_member(), o, err);
  REQUIRE_MESSAGE(s, err.what);
  return s;
}

/// The error open() gives (the test fails if it opens).
inline db::log_error open_fails(const std::filesystem::path& data_dir, std::uint64_t segment_bytes = 16u << 20,
                                const std::string& node = "n1") {
  db::log_error err;
  db::log_options o;
  o.segment_bytes = segment_bytes;
  auto s = db::log_store::open(data_dir, node, one_member(), o, err);
  CHECK_MESSAGE(!s, "the log opened although it should have been refused");
  return err;
}

/// Entry `i` of term `t`, its data naming both (plus `pad` bytes).
inline raft::entry log_entry(std::uint64_t i, std::uint64_t t = 1, std::size_t pad = 0) {
  return raft::entry{t, i, raft::entry_type::normal, "e" + std::to_string(i) + "t" + std::to_string(t) + std::string(pad, 'p')};
}
inline std::vector<raft::entry> log_entries(std::uint64_t from, std::uint64_t to, std::uint64_t t = 1, std::size_t pad = 0) {
  std::vector<raft::entry> es;
  for (auto i = from; i <= to; ++i) es.push_back(log_entry(i, t, pad));
  return es;
}

/// Saves a batch; fails the test on error.
inline void save(db::log_store& s, std::vector<raft::entry> es, std::optional<raft::hard_state> hard = std::nullopt) {
  db::log_batch b;
  b.entries = std::move(es);
  b.hard = std::move(hard);
  auto e = s.save(b);
  REQUIRE_MESSAGE(!e, e.what);
}

/// The segment files of data_dir/wal, oldest first.
inline std::vector<std::filesystem::path> segments(const std::filesystem::path& data_dir) {
  std::vector<std::filesystem::path> out;
  for (const auto& de : std::filesystem::directory_iterator(data_dir / "wal")) out.push_back(de.path());
  std::sort(out.begin(), out.end());
  return out;
}

inline std::string read_file(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}
inline void write_file(const std::filesystem::path& p, const std::string& bytes) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

/// Where each record of a segment file starts and how long it is.
struct record_pos {
  std::size_t offset = 0, bytes = 0;
  std::uint64_t seq = 0;
};
inline std::vector<record_pos> records(const std::filesystem::path& segment) {
  namespace fmt = db::log_format;
  const std::string bytes = read_file(segment);
  std::vector<record_pos> out;
  fmt::record_view rv;
  REQUIRE(fmt::probe(bytes, 0, rv) == fmt::probe_result::valid);
  fmt::segment_header h;
  REQUIRE(fmt::decode_segment_header(rv.payload, h));
  out.push_back({0, rv.bytes, rv.seq});
  std::size_t off = rv.bytes;
  while (fmt::probe(std::string_view(bytes).substr(off), h.salt, rv) == fmt::probe_result::valid) {
    out.push_back({off, rv.bytes, rv.seq});
    off += rv.bytes;
  }
  return out;
}

}  // namespace qc::test
