#include "chat/message_json.h"

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
