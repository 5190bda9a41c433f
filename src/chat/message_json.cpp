#include "chat/message_json.h"

#include <charconv>
#include <cstring>

namespace qc::chat {

namespace {

template <class Int>
void append_int(std::string& out, Int v) {
  char buf[24];
  const auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, r.ptr);
}

constexpr std::uint64_t ones = 0x0101010101010101ull;
constexpr std::uint64_t highs = 0x8080808080808080ull;

/// True if any of the 8 bytes of `w` needs an escape: below 0x20, '"' or '\'.
/// (Bytes of 0x80 and up, UTF-8, never do.)
bool needs_escape(std::uint64_t w) {
  const auto below = [](std::uint64_t x, std::uint64_t n) { return (x - ones * n) & ~x & highs; };
  const auto zero = [](std::uint64_t x) { return (x - ones) & ~x & highs; };
  return (below(w, 0x20) | zero(w ^ (ones * '"')) | zero(w ^ (ones * '\\'))) != 0;
}

}  // namespace

void append_json_string(std::string& out, std::string_view s) {
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
      if (!needs_escape(w)) {
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

void append_message_json(std::string& out, const message_view& m) {
  out += "{\"id\":";
  append_int(out, m.id);
  out += ",\"from\":";
  append_json_string(out, m.from);
  out += ",\"to\":";
  append_json_string(out, m.to);
  out += ",\"body\":";
  append_json_string(out, m.body);
  out += ",\"ts\":";
  append_int(out, m.ts);
  out += m.read ? ",\"read\":true}" : ",\"read\":false}";
}

std::string message_json(const message_view& m) {
  std::string out;
  append_message_json(out, m);
  return out;
}

std::string messages_json(const std::vector<message>& msgs) {
  messages_writer w;
  for (const auto& m : msgs) w.add(m);
  return w.text(false);
}

void messages_writer::add(const message_view& m) {
  const auto at = objects_.size();
  append_message_json(objects_, m);
  at_.emplace_back(at, objects_.size() - at);
}

std::string messages_writer::text(bool reverse) {
  std::string out;
  out.reserve(objects_.size() + at_.size() + 16);
  out += "{\"messages\":[";
  for (std::size_t k = 0; k < at_.size(); ++k) {
    const auto& [at, n] = at_[reverse ? at_.size() - 1 - k : k];
    if (k) out += ',';
    out.append(objects_, at, n);
  }
  out += "]}";
  return out;
}

}  // namespace qc::chat
