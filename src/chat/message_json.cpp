#include "chat/message_json.h"

#include <algorithm>

#include "common/json_text.h"

namespace qc::chat {

void append_message_json(std::string& out, const message_view& m) {
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
