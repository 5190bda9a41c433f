// The on-disk format of the Raft log (data_dir/wal/<16 hex digits>.log,
// one file per segment). Pure encoding and decoding: no I/O here.
//
// A segment file is a run of records, each at an 8-byte-aligned offset,
// then zeros up to the preallocated size. A record (little-endian):
//
//   offset  size  field
//   0       4     crc      CRC-32C of the rest of the record (padding too), seeded with the log's
//                          salt (the segment header, which carries the salt,
//                          is seeded with 0)
//   4       4     len      payload bytes
//   8       8     seq      record number: +1 per record over the whole log
//   16      1     type     1 = segment header, 2 = batch
//   17      1     version  1
//   18      6     zero
//   24      len   payload
//   ...     0-7   zero padding to the next multiple of 8
//
// Every segment starts with a segment header record: the segment's number,
// the log's salt, the node id, and the hard state and snapshot in force
// when the segment was opened, so that the segments before it can be
// deleted without losing them. A batch record holds the items of one
// persist batch (Raft paper Figure 2's persistent state: hard state,
// snapshot, entries) in the order they apply; a batch is written with one
// write and one fdatasync, so it is on disk whole or, after a crash during
// the write, fails its checksum and is discarded as a torn tail.
//
// Items: u8 kind, then
//   1 hard_state:        u64 term, str vote, u64 commit
//   2 snapshot_reset:    snapshot (a received snapshot: the log restarts after it)
//   3 snapshot_compact:  snapshot (a local snapshot: entries up to it are dropped)
//   4 entries:           u64 first index, u32 count, count x (u64 term, u8 type, str data)
// where str = u32 length + bytes and snapshot = u64 index, u64 term,
// str handle, u32 members, members x (str id, str address, u8 voter).
//
// Owned by: whoever calls it (the storage actor's log_store; tests).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "raft/types.h"

namespace qc::db::log_format {

/// Bytes of a record header.
inline constexpr std::size_t header_bytes = 24;
/// The record format this build writes and reads.
inline constexpr std::uint8_t version = 1;

/// What a record holds.
enum class record_type : std::uint8_t { segment_header = 1, batch = 2 };

/// Kinds of items in a batch record.
enum class item_kind : std::uint8_t { hard_state = 1, snapshot_reset = 2, snapshot_compact = 3, entries = 4 };

/// `len` rounded up to a multiple of 8.
constexpr std::size_t padded(std::size_t len) { return (len + 7) & ~std::size_t{7}; }

/// Bytes a record with a `payload`-byte payload takes in the file.
constexpr std::size_t record_bytes(std::size_t payload) { return header_bytes + padded(payload); }

/// Reserves a record header at the end of `buf`; the payload is appended
/// after it. Returns where the record starts (for finish_record).
std::size_t begin_record(std::string& buf);

/// Pads the payload appended since begin_record and fills in the header.
void finish_record(std::string& buf, std::size_t at, record_type type, std::uint64_t seq, std::uint32_t seed);

/// A record found in a file.
struct record_view {
  record_type type = record_type::batch;
  std::uint64_t seq = 0;
  std::string_view payload;
  std::size_t bytes = 0;  ///< header + padded payload
};

/// What lies at an offset.
enum class probe_result {
  valid,  ///< a well-formed record whose checksum matches
  zeros,  ///< a header of zeros: the unwritten (preallocated) part of the file
  bad,    ///< anything else: a torn or corrupt record
};

/// Checks the bytes at the start of `at` for a record whose checksum is
/// seeded with `seed`; fills `out` when valid.
probe_result probe(std::string_view at, std::uint32_t seed, record_view& out);

/// The contents of a segment header record.
struct segment_header {
  std::uint64_t number = 0;
  std::uint32_t salt = 0;
  std::string node_id;
  raft::hard_state hard;
  raft::snapshot_meta snapshot;
};

/// Appends a segment header's payload to `buf`.
void encode_segment_header(std::string& buf, const segment_header& h);
/// Decodes a segment header's payload; false if malformed.
bool decode_segment_header(std::string_view payload, segment_header& out);

/// One decoded batch item. Which fields are set depends on `kind`.
struct item {
  item_kind kind = item_kind::hard_state;
  raft::hard_state hard;
  raft::snapshot_meta snapshot;
  std::vector<raft::entry> entries;  ///< consecutive indexes
};

/// Appends items to a batch payload.
void put_hard_state(std::string& buf, const raft::hard_state& h);
void put_snapshot(std::string& buf, item_kind kind, const raft::snapshot_meta& s);
/// Appends `count` entries starting at `first` (indexes must be consecutive).
void put_entries(std::string& buf, const raft::entry* first, std::size_t count);

/// Decodes a batch payload; false if malformed.
bool decode_batch(std::string_view payload, std::vector<item>& out);

}  // namespace qc::db::log_format
