#include "db/log_format.h"

#include <cstdlib>
#include <cstring>

#include "common/log.h"
#include "db/crc32c.h"

namespace qc::db::log_format {

namespace {

constexpr char magic[8] = {'Q', 'C', 'R', 'A', 'F', 'T', 'L', 'G'};

template <typename T>
void put_int(std::string& buf, T v) {
  char b[sizeof(T)];
  for (std::size_t i = 0; i < sizeof(T); ++i) b[i] = static_cast<char>((static_cast<std::uint64_t>(v) >> (8 * i)) & 0xff);
  buf.append(b, sizeof(T));
}
void put_str(std::string& buf, std::string_view s) {
  put_int<std::uint32_t>(buf, static_cast<std::uint32_t>(s.size()));
  buf.append(s);
}

template <typename T>
T get_int(const char* p) {
  std::uint64_t v = 0;
  for (std::size_t i = 0; i < sizeof(T); ++i) v |= static_cast<std::uint64_t>(static_cast<unsigned char>(p[i])) << (8 * i);
  return static_cast<T>(v);
}

/// Reads a payload front to back; any overrun clears ok and yields zeros.
struct reader {
  std::string_view in;
  bool ok = true;

  bool need(std::size_t n) {
    if (!ok || in.size() < n) ok = false;
    return ok;
  }
  template <typename T>
  T num() {
    if (!need(sizeof(T))) return T{};
    T v = get_int<T>(in.data());
    in.remove_prefix(sizeof(T));
    return v;
  }
  std::string str() {
    const auto n = num<std::uint32_t>();
    if (!need(n)) return {};
    std::string s(in.substr(0, n));
    in.remove_prefix(n);
    return s;
  }
  raft::hard_state hard() {
    raft::hard_state h;
    h.term = num<std::uint64_t>();
    h.vote = str();
    h.commit = num<std::uint64_t>();
    return h;
  }
  raft::snapshot_meta snapshot() {
    raft::snapshot_meta s;
    s.index = num<std::uint64_t>();
    s.term = num<std::uint64_t>();
    s.handle = str();
    const auto members = num<std::uint32_t>();
    for (std::uint32_t i = 0; ok && i < members; ++i) {
      raft::member m;
      m.id = str();
      m.address = str();
      const auto voter = num<std::uint8_t>();
      ok = ok && voter <= 1;
      m.voter = voter == 1;
      s.config.members.push_back(std::move(m));
    }
    return s;
  }
};

void put_snapshot_fields(std::string& buf, const raft::snapshot_meta& s) {
  put_int<std::uint64_t>(buf, s.index);
  put_int<std::uint64_t>(buf, s.term);
  put_str(buf, s.handle);
  put_int<std::uint32_t>(buf, static_cast<std::uint32_t>(s.config.members.size()));
  for (const auto& m : s.config.members) {
    put_str(buf, m.id);
    put_str(buf, m.address);
    put_int<std::uint8_t>(buf, m.voter ? 1 : 0);
  }
}
void put_hard_fields(std::string& buf, const raft::hard_state& h) {
  put_int<std::uint64_t>(buf, h.term);
  put_str(buf, h.vote);
  put_int<std::uint64_t>(buf, h.commit);
}

/// Covers the header after the crc field, the payload and its padding.
std::uint32_t record_crc(const char* rec, std::size_t len, std::uint32_t seed) {
  return crc32c(seed, rec + 4, header_bytes - 4 + padded(len));
}

}  // namespace

std::size_t begin_record(std::string& buf) {
  const std::size_t at = buf.size();
  buf.append(header_bytes, '\0');
  return at;
}

void finish_record(std::string& buf, std::size_t at, record_type type, std::uint64_t seq, std::uint32_t seed) {
  const std::size_t len = buf.size() - at - header_bytes;
  if (len > UINT32_MAX) {
    log::error("log_format: a record of ", len, " bytes does not fit the 32-bit length field");
    std::abort();
  }
  buf.append(padded(len) - len, '\0');
  std::string hdr;
  put_int<std::uint32_t>(hdr, 0);
  put_int<std::uint32_t>(hdr, static_cast<std::uint32_t>(len));
  put_int<std::uint64_t>(hdr, seq);
  put_int<std::uint8_t>(hdr, static_cast<std::uint8_t>(type));
  put_int<std::uint8_t>(hdr, version);
  hdr.append(6, '\0');
  std::memcpy(buf.data() + at, hdr.data(), header_bytes);
  const std::uint32_t crc = record_crc(buf.data() + at, len, seed);
  hdr.clear();
  put_int<std::uint32_t>(hdr, crc);
  std::memcpy(buf.data() + at, hdr.data(), 4);
}

probe_result probe(std::string_view at, std::uint32_t seed, record_view& out) {
  if (at.size() < header_bytes) {
    for (char c : at)
      if (c != 0) return probe_result::bad;
    return probe_result::zeros;
  }
  const char* p = at.data();
  static const char zero_header[header_bytes] = {};
  if (std::memcmp(p, zero_header, header_bytes) == 0) return probe_result::zeros;
  const auto crc = get_int<std::uint32_t>(p);
  const auto len = get_int<std::uint32_t>(p + 4);
  const auto type = static_cast<std::uint8_t>(p[16]);
  const auto ver = static_cast<std::uint8_t>(p[17]);
  if (ver != version || (type != 1 && type != 2) || std::memcmp(p + 18, zero_header, 6) != 0) return probe_result::bad;
  if (record_bytes(len) > at.size()) return probe_result::bad;
  if (record_crc(p, len, seed) != crc) return probe_result::bad;
  out.type = static_cast<record_type>(type);
  out.seq = get_int<std::uint64_t>(p + 8);
  out.payload = at.substr(header_bytes, len);
  out.bytes = record_bytes(len);
  return probe_result::valid;
}

void encode_segment_header(std::string& buf, const segment_header& h) {
  buf.append(magic, sizeof magic);
  put_int<std::uint64_t>(buf, h.number);
  put_int<std::uint32_t>(buf, h.salt);
  put_str(buf, h.node_id);
  put_hard_fields(buf, h.hard);
  put_snapshot_fields(buf, h.snapshot);
}

bool decode_segment_header(std::string_view payload, segment_header& out) {
  if (payload.size() < sizeof magic || std::memcmp(payload.data(), magic, sizeof magic) != 0) return false;
  reader r{payload.substr(sizeof magic)};
  out.number = r.num<std::uint64_t>();
  out.salt = r.num<std::uint32_t>();
  out.node_id = r.str();
  out.hard = r.hard();
  out.snapshot = r.snapshot();
  return r.ok && r.in.empty();
}

void put_hard_state(std::string& buf, const raft::hard_state& h) {
  put_int<std::uint8_t>(buf, static_cast<std::uint8_t>(item_kind::hard_state));
  put_hard_fields(buf, h);
}

void put_snapshot(std::string& buf, item_kind kind, const raft::snapshot_meta& s) {
  put_int<std::uint8_t>(buf, static_cast<std::uint8_t>(kind));
  put_snapshot_fields(buf, s);
}

void put_entries(std::string& buf, const raft::entry* first, std::size_t count) {
  put_int<std::uint8_t>(buf, static_cast<std::uint8_t>(item_kind::entries));
  put_int<std::uint64_t>(buf, first->index);
  put_int<std::uint32_t>(buf, static_cast<std::uint32_t>(count));
  for (std::size_t i = 0; i < count; ++i) {
    const auto& e = first[i];
    if (e.index != first->index + i) {
      log::error("log_format: entries ", first->index, "..: index ", e.index, " is not consecutive");
      std::abort();
    }
    put_int<std::uint64_t>(buf, e.term);
    put_int<std::uint8_t>(buf, static_cast<std::uint8_t>(e.type));
    put_str(buf, e.data);
  }
}

bool decode_batch(std::string_view payload, std::vector<item>& out) {
  reader r{payload};
  while (r.ok && !r.in.empty()) {
    item it;
    it.kind = static_cast<item_kind>(r.num<std::uint8_t>());
    switch (it.kind) {
      case item_kind::hard_state: it.hard = r.hard(); break;
      case item_kind::snapshot_reset:
      case item_kind::snapshot_compact: it.snapshot = r.snapshot(); break;
      case item_kind::entries: {
        const auto first = r.num<std::uint64_t>();
        const auto count = r.num<std::uint32_t>();
        for (std::uint32_t i = 0; r.ok && i < count; ++i) {
          raft::entry e;
          e.index = first + i;
          e.term = r.num<std::uint64_t>();
          const auto type = r.num<std::uint8_t>();
          r.ok = r.ok && type <= static_cast<std::uint8_t>(raft::entry_type::conf_change);
          e.type = static_cast<raft::entry_type>(type);
          e.data = r.str();
          it.entries.push_back(std::move(e));
        }
        r.ok = r.ok && count > 0;
        break;
      }
      default: return false;
    }
    if (r.ok) out.push_back(std::move(it));
  }
  return r.ok;
}

}  // namespace qc::db::log_format
