// Finding where a compactly written JSON value ends, without building it:
// the peer codec carries a command's JSON text inside a frame as a value
// of the frame's own JSON, and reads it back as the bytes between the
// value's first and last character. Writer and reader both call this on
// the same bytes, so they agree on where the value ends.
//
// Owned by: plain function; any thread.
#pragma once

#include "common/json_text.h"

namespace qc::common {

namespace json_span_detail {

/// A recursive-descent check of one value starting at p_; p_ ends one past it.
class scanner {
 public:
  scanner(const char* p, const char* end) : p_(p), end_(end) {}

  const char* value_end() { return value(0) ? p_ : nullptr; }

 private:
  static constexpr int max_depth = 32;

  bool value(int depth) {
    if (p_ == end_) return false;
    switch (*p_) {
      case '{': return object(depth + 1);
      case '[': return array(depth + 1);
      case '"': return string();
      case 't': return word("true", 4);
      case 'f': return word("false", 5);
      case 'n': return word("null", 4);
      default: return number();
    }
  }

  bool next_is(char c) const { return p_ != end_ && *p_ == c; }

  bool object(int depth) {
    if (depth > max_depth) return false;
    ++p_;
    if (next_is('}')) return ++p_, true;
    while (true) {
      if (!string() || !next_is(':')) return false;
      ++p_;
      if (!value(depth)) return false;
      if (next_is('}')) return ++p_, true;
      if (!next_is(',')) return false;
      ++p_;
    }
  }

  bool array(int depth) {
    if (depth > max_depth) return false;
    ++p_;
    if (next_is(']')) return ++p_, true;
    while (true) {
      if (!value(depth)) return false;
      if (next_is(']')) return ++p_, true;
      if (!next_is(',')) return false;
      ++p_;
    }
  }

  /// A string literal; its bytes' UTF-8 is the caller's to check.
  bool string() {
    if (!next_is('"')) return false;
    ++p_;
    while (true) {
      p_ = find_json_escape(p_, end_);
      if (p_ == end_ || static_cast<unsigned char>(*p_) < 0x20) return false;
      if (*p_ == '"') return ++p_, true;
      // A backslash: one of JSON's escapes.
      if (end_ - p_ < 2) return false;
      const char e = p_[1];
      if (e == 'u') {
        if (end_ - p_ < 6) return false;
        for (int k = 2; k < 6; ++k) {
          const char h = p_[k];
          if (!((h >= '0' && h <= '9') || (h >= 'a' && h <= 'f') || (h >= 'A' && h <= 'F'))) return false;
        }
        p_ += 6;
      } else if (e == '"' || e == '\\' || e == '/' || e == 'b' || e == 'f' || e == 'n' || e == 'r' || e == 't') {
        p_ += 2;
      } else {
        return false;
      }
    }
  }

  bool word(const char* w, std::ptrdiff_t n) {
    if (end_ - p_ < n || std::memcmp(p_, w, static_cast<std::size_t>(n)) != 0) return false;
    p_ += n;
    return true;
  }

  bool digits() {
    const char* s = p_;
    while (p_ != end_ && *p_ >= '0' && *p_ <= '9') ++p_;
    return p_ != s;
  }

  /// -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?
  bool number() {
    if (next_is('-')) ++p_;
    if (next_is('0')) ++p_;
    else if (!digits()) return false;
    if (next_is('.')) {
      ++p_;
      if (!digits()) return false;
    }
    if (next_is('e') || next_is('E')) {
      ++p_;
      if (next_is('+') || next_is('-')) ++p_;
      if (!digits()) return false;
    }
    return true;
  }

  const char* p_;
  const char* end_;
};

}  // namespace json_span_detail

/// One past the end of the JSON value that starts at `p`, or nullptr if
/// [p, end) does not start with one written compactly: no whitespace
/// between tokens, no control byte, at most 32 levels of nesting (what
/// boost::json::serialize writes). Grammar only: the UTF-8 of its strings
/// is for the caller to check.
inline const char* compact_json_end(const char* p, const char* end) {
  return json_span_detail::scanner(p, end).value_end();
}

}  // namespace qc::common
