// Cutting UTF-8 text short without cutting a character in two.
//
// Owned by: plain function; any thread.
#pragma once

#include <cstddef>
#include <string_view>

namespace qc::common {

/// The longest prefix of `s`, at most `max_bytes` long, that does not end
/// inside a multi-byte character: a cut of well-formed UTF-8 stays
/// well-formed, so it can be quoted in a JSON reply or a log line.
inline std::string_view utf8_prefix(std::string_view s, std::size_t max_bytes) {
  if (s.size() <= max_bytes) return s;
  std::size_t n = max_bytes;
  // Back up over continuation bytes (10xxxxxx) to the start of the character cut.
  while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xc0) == 0x80) --n;
  return s.substr(0, n);
}

}  // namespace qc::common
