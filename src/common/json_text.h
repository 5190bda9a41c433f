// Writing JSON text straight into a string, for the hot paths where
// building a boost::json value first cost more than the work itself (the
// message objects of read replies, the Raft messages between peers).
// Output is byte for byte what boost::json::serialize writes for the same
// values, so either side may parse it with boost::json.
//
// Owned by: plain functions; any thread.
#pragma once

#include <charconv>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace qc::common {

namespace json_text_detail {

constexpr std::uint64_t ones = 0x0101010101010101ull;
constexpr std::uint64_t highs = 0x8080808080808080ull;

/// True if any of the 8 bytes of `w` needs an escape: below 0x20, '"' or '\'.
/// (Bytes of 0x80 and up, UTF-8, never do.)
inline bool needs_escape(std::uint64_t w) {
  const auto below = [](std::uint64_t x, std::uint64_t n) { return (x - ones * n) & ~x & highs; };
  const auto zero = [](std::uint64_t x) { return (x - ones) & ~x & highs; };
  return (below(w, 0x20) | zero(w ^ (ones * '"')) | zero(w ^ (ones * '\\'))) != 0;
}

}  // namespace json_text_detail

/// The first byte in [p, end) that a JSON string must escape (below 0x20,
/// '"' or '\\'), or `end`. Sixteen bytes at a time where SSE2 is there:
/// command text and message bodies rarely hold one.
inline const char* find_json_escape(const char* p, const char* end) {
#if defined(__SSE2__)
  const __m128i quote = _mm_set1_epi8('"'), backslash = _mm_set1_epi8('\\'), c1f = _mm_set1_epi8(0x1f);
  for (; end - p >= 16; p += 16) {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    // A byte below 0x20 is one that saturating subtraction of 0x1f takes to 0.
    const __m128i hit = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, backslash)),
                                     _mm_cmpeq_epi8(_mm_subs_epu8(v, c1f), _mm_setzero_si128()));
    if (const int mask = _mm_movemask_epi8(hit)) return p + __builtin_ctz(static_cast<unsigned>(mask));
  }
#else
  for (; end - p >= 8; p += 8) {
    std::uint64_t w;
    std::memcpy(&w, p, 8);
    if (json_text_detail::needs_escape(w)) break;
  }
#endif
  for (; p != end; ++p) {
    const auto c = static_cast<unsigned char>(*p);
    if (c < 0x20 || c == '"' || c == '\\') break;
  }
  return p;
}

/// Appends the decimal text of an integer.
template <class Int>
void append_json_int(std::string& out, Int v) {
  char buf[24];
  const auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, r.ptr);
}

/// Appends `s` as a JSON string literal (quotes included), escaped as
/// boost::json::serialize escapes it. `s` must be valid UTF-8.
inline void append_json_string(std::string& out, std::string_view s) {
  static constexpr char hex[] = "0123456789abcdef";
  out.reserve(out.size() + s.size() + 2);
  out += '"';
  const char* const end = s.data() + s.size();
  const char* run = s.data();  // start of the pending run of bytes that need no escape
  while (true) {
    const char* at = find_json_escape(run, end);
    out.append(run, at);
    if (at == end) break;
    const auto c = static_cast<unsigned char>(*at);
    run = at + 1;
    out += '\\';
    switch (c) {
      case '"': out += '"'; break;
      case '\\': out += '\\'; break;
      case '\b': out += 'b'; break;
      case '\f': out += 'f'; break;
      case '\n': out += 'n'; break;
      case '\r': out += 'r'; break;
      case '\t': out += 't'; break;
      default:
        out += "u00";
        out += hex[c >> 4];
        out += hex[c & 0xf];
    }
  }
  out += '"';
}

}  // namespace qc::common
