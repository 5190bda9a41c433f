// Checking that bytes are well-formed UTF-8, as Boost.JSON's parser checks
// the strings it reads.
//
// Owned by: plain function; any thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace qc::common {

/// Well-formed UTF-8 exactly as Unicode's table 3-7 (and Boost.JSON's
/// parser) define it: no overlong forms, no surrogates, nothing past
/// U+10FFFF. The readers that skip Boost.JSON's parser (peer frames, log
/// entries) check their strings with it, so that they accept exactly the
/// strings the parser accepts.
inline bool valid_utf8(std::string_view s) {
  const auto byte = [&](std::size_t i) { return static_cast<unsigned char>(s[i]); };
  for (std::size_t i = 0; i < s.size();) {
    // ASCII 16 or 8 bytes at a time: command text is almost all ASCII.
#if defined(__SSE2__)
    if (s.size() - i >= 16 && !_mm_movemask_epi8(_mm_loadu_si128(reinterpret_cast<const __m128i*>(s.data() + i)))) {
      i += 16;
      continue;
    }
#endif
    if (s.size() - i >= 8) {
      std::uint64_t w;
      std::memcpy(&w, s.data() + i, 8);
      if (!(w & 0x8080808080808080ull)) {
        i += 8;
        continue;
      }
    }
    const unsigned c = byte(i);
    if (c < 0x80) {
      ++i;
      continue;
    }
    std::size_t n;            // continuation bytes
    unsigned lo = 0x80, hi = 0xbf;  // range of the first continuation byte
    if (c >= 0xc2 && c <= 0xdf) n = 1;
    else if (c >= 0xe0 && c <= 0xef) {
      n = 2;
      if (c == 0xe0) lo = 0xa0;
      if (c == 0xed) hi = 0x9f;
    } else if (c >= 0xf0 && c <= 0xf4) {
      n = 3;
      if (c == 0xf0) lo = 0x90;
      if (c == 0xf4) hi = 0x8f;
    } else {
      return false;
    }
    if (s.size() - i <= n) return false;
    if (byte(i + 1) < lo || byte(i + 1) > hi) return false;
    for (std::size_t k = 2; k <= n; ++k)
      if ((byte(i + k) >> 6) != 2) return false;
    i += n + 1;
  }
  return true;
}

}  // namespace qc::common
