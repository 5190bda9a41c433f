#include "chat/message_json.h"

#include <charconv>

namespace qc::chat {

namespace {

template <class Int>
void append_int(std::string& out, Int v) {
  char buf[24];
  const auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, r.ptr);
}

}  // namespace

void append_json_string(std::string& out, std::string_view s) {
  static constexpr char hex[] = "0123456789abcdef";
  out.reserve(out.size() + s.size() + 2);
  out += '"';
  std::size_t run = 0;  // start of the pending run of bytes that need no escape
  for (std::size_t i = 0; i < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c != '"' && c != '\\') continue;
    out.append(s.data() + run, i - run);
    run = i + 1;
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

void append_message_json(std::string& out, const message& m) {
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

std::string message_json(const message& m) {
  std::string out;
  append_message_json(out, m);
  return out;
}

std::string messages_json(const std::vector<message>& msgs) {
  std::size_t size = 16;
  for (const auto& m : msgs) size += m.from.size() + m.to.size() + m.body.size() + 80;
  std::string out;
  out.reserve(size);
  out += "{\"messages\":[";
  for (std::size_t i = 0; i < msgs.size(); ++i) {
    if (i) out += ',';
    append_message_json(out, msgs[i]);
  }
  out += "]}";
  return out;
}

}  // namespace qc::chat
