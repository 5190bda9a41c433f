// Lower-case hexadecimal encoding of bytes: MACs and nonces on peer links,
// salts and keys in password hashes, token hashes, state digests.
//
// Owned by: pure functions, any thread.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace qc::common {

/// `n` bytes at `p` as 2n lower-case hex digits.
inline std::string to_hex(const unsigned char* p, std::size_t n) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out(n * 2, '0');
  for (std::size_t i = 0; i < n; ++i) {
    out[2 * i] = digits[p[i] >> 4];
    out[2 * i + 1] = digits[p[i] & 15];
  }
  return out;
}

/// Decodes lower-case hex into `out`. False (out unspecified) for an odd
/// length or any other character.
inline bool from_hex(std::string_view s, std::vector<unsigned char>& out) {
  if (s.size() % 2) return false;
  auto val = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  };
  out.clear();
  out.reserve(s.size() / 2);
  for (std::size_t i = 0; i < s.size(); i += 2) {
    const int h = val(s[i]), l = val(s[i + 1]);
    if (h < 0 || l < 0) return false;
    out.push_back(static_cast<unsigned char>(h * 16 + l));
  }
  return true;
}

}  // namespace qc::common
