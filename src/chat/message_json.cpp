#include "chat/message_json.h"

#include <algorithm>
#include <charconv>
#include <cstring>
#include <string_view>

#include "common/json_text.h"

namespace qc::chat {

namespace {

/// Copies the literal `s` (its size known when compiled) to `p`.
template <std::size_t N>
char* put(char* p, const char (&s)[N]) {
  std::memcpy(p, s, N - 1);
  return p + N - 1;
}

char* put(char* p, std::string_view s) {
  std::memcpy(p, s.data(), s.size());
  return p + s.size();
}

bool plain(std::string_view s) { return common::find_json_escape(s.data(), s.data() + s.size()) == s.data() + s.size(); }

/// The object through append_json_string, for strings with bytes to escape.
void append_escaped(std::string& out, const message_view& m) {
  out += "{\"id\":";
  common::append_json_int(out, m.id);
  out += ",\"from\":";
  common::append_json_string(out, m.from);
  out += ",\"to\":";
  common::append_json_string(out, m.to);
  out += ",\"body\":";
  common::append_json_string(out, m.body);
  out += ",\"ts\":";
  common::append_json_int(out, m.ts);
  out += m.read ? ",\"read\":true}" : ",\"read\":false}";
}

}  // namespace

void append_message_json(std::string& out, const message_view& m) {
  // Names never need an escape and bodies rarely do; then the object is
  // written in one piece: one resize, fixed-size copies, no escaping.
  if (!plain(m.from) || !plain(m.to) || !plain(m.body)) {
    append_escaped(out, m);
    return;
  }
  constexpr std::size_t fixed = 54, digits = 20;  // the keys and punctuation; an int64 or uint64
  const std::size_t at = out.size();
  out.resize(at + fixed + 2 * digits + m.from.size() + m.to.size() + m.body.size());
  char* const begin = out.data() + at;
  char* p = put(begin, "{\"id\":");
  p = std::to_chars(p, p + digits, m.id).ptr;
  p = put(put(p, ",\"from\":\""), m.from);
  p = put(put(p, "\",\"to\":\""), m.to);
  p = put(put(p, "\",\"body\":\""), m.body);
  p = put(p, "\",\"ts\":");
  p = std::to_chars(p, p + digits, m.ts).ptr;
  p = m.read ? put(p, ",\"read\":true}") : put(p, ",\"read\":false}");
  out.resize(static_cast<std::size_t>(p - out.data()));
}

std::string message_json(const message_view& m) {
  std::string out;
  append_message_json(out, m);
  return out;
}

void messages_writer::add(const message_view& m) {
  const auto at = objects_.size();
  append_message_json(objects_, m);
  const auto n = objects_.size() - at;
  if (at == 0 && rows_ > 1) objects_.reserve(std::min<std::size_t>(n * rows_ + n / 2, std::size_t{1} << 20));
  at_.emplace_back(at, n);
}

std::string messages_writer::reply(std::string head, bool reverse) {
  head.reserve(head.size() + objects_.size() + at_.size() + 16);
  head += ",\"messages\":[";
  for (std::size_t k = 0; k < at_.size(); ++k) {
    const auto& [at, n] = at_[reverse ? at_.size() - 1 - k : k];
    if (k) head += ',';
    head.append(objects_, at, n);
  }
  head += "]}";
  return head;
}

}  // namespace qc::chat
