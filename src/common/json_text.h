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
  std::size_t run = 0;  // start of the pending run of bytes that need no escape
  std::size_t i = 0;
  while (i < s.size()) {
    // Skip clean 8-byte words at once: message bodies rarely hold an escape.
    if (s.size() - i >= 8) {
      std::uint64_t w;
      std::memcpy(&w, s.data() + i, 8);
      if (!json_text_detail::needs_escape(w)) {
        i += 8;
        continue;
      }
    }
    const auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c != '"' && c != '\\') {
      ++i;
      continue;
    }
    out.append(s.data() + run, i - run);
    run = ++i;
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
  out.append(s.data() + run, s.size() - run);
  out += '"';
}

}  // namespace qc::common
