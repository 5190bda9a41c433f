#include "chat/command.h"
#include "common/overloaded.h"

#include <boost/json.hpp>

namespace qc::chat {

namespace json = boost::json;

namespace {
json::array ids_json(const std::vector<std::uint64_t>& ids) {
  json::array a;
  for (auto i : ids) a.push_back(i);
  return a;
}

bool get_str(const json::object& o, const char* k, std::string& out) {
  auto* v = o.if_contains(k);
  if (!v || !v->is_string()) return false;
  out = std::string(v->as_string());
  return true;
}
bool get_i64(const json::object& o, const char* k, std::int64_t& out) {
  auto* v = o.if_contains(k);
  if (!v) return false;
  if (v->is_int64()) out = v->as_int64();
  else if (v->is_uint64()) out = static_cast<std::int64_t>(v->as_uint64());
  else return false;
  return true;
}
bool get_ids(const json::object& o, std::vector<std::uint64_t>& out) {
  auto* v = o.if_contains("ids");
  if (!v) return true;
  if (!v->is_array()) return false;
  for (auto& e : v->as_array()) {
    if (e.is_uint64()) out.push_back(e.as_uint64());
    else if (e.is_int64() && e.as_int64() >= 0) out.push_back(static_cast<std::uint64_t>(e.as_int64()));
    else return false;
  }
  return true;
}
}  // namespace

std::string encode_command(const command& c) {
  json::object o;
  std::visit(overloaded{
                 [&](const cmd_create_account& x) {
                   o["t"] = "create_account";
                   o["user"] = x.user;
                   o["pw_hash"] = x.pw_hash;
                   o["ts"] = x.ts;
                 },
                 [&](const cmd_create_session& x) {
                   o["t"] = "create_session";
                   o["user"] = x.user;
                   o["token_hash"] = x.token_hash;
                   o["ts"] = x.ts;
                   if (x.expire_before) o["expire_before"] = x.expire_before;
                   if (!x.rehash_to.empty()) {
                     o["rehash_from"] = x.rehash_from;
                     o["rehash_to"] = x.rehash_to;
                   }
                 },
                 [&](const cmd_touch_session& x) {
                   o["t"] = "touch_session";
                   o["user"] = x.user;
                   o["token_hash"] = x.token_hash;
                   o["ts"] = x.ts;
                 },
                 [&](const cmd_drop_session& x) {
                   o["t"] = "drop_session";
                   o["user"] = x.user;
                   o["token_hash"] = x.token_hash;
                 },
                 [&](const cmd_send& x) {
                   o["t"] = "send";
                   o["from"] = x.from;
                   o["to"] = x.to;
                   o["body"] = x.body;
                   if (x.nonce) o["nonce"] = *x.nonce;
                   o["ts"] = x.ts;
                 },
                 [&](const cmd_mark_read& x) {
                   o["t"] = "mark_read";
                   o["user"] = x.user;
                   if (x.with) o["with"] = *x.with;
                   else o["ids"] = ids_json(x.ids);
                 },
                 [&](const cmd_delete_messages& x) {
                   o["t"] = "delete_messages";
                   o["user"] = x.user;
                   o["ids"] = ids_json(x.ids);
                 },
                 [&](const cmd_delete_account& x) {
                   o["t"] = "delete_account";
                   o["user"] = x.user;
                 },
             },
             c);
  return json::serialize(o);
}

std::optional<command> decode_command(std::string_view data) {
  json::error_code ec;
  // The parsed tree lives only in this call: take its memory from the stack.
  unsigned char scratch[4096];
  json::monotonic_resource mr(scratch, sizeof scratch);
  auto v = json::parse(data, ec, &mr);
  if (ec || !v.is_object()) return std::nullopt;
  const auto& o = v.as_object();
  std::string t;
  if (!get_str(o, "t", t)) return std::nullopt;
  if (t == "create_account") {
    cmd_create_account c;
    if (!get_str(o, "user", c.user) || !get_str(o, "pw_hash", c.pw_hash) || !get_i64(o, "ts", c.ts)) return std::nullopt;
    return c;
  }
  if (t == "create_session") {
    cmd_create_session c;
    if (!get_str(o, "user", c.user) || !get_str(o, "token_hash", c.token_hash) || !get_i64(o, "ts", c.ts)) return std::nullopt;
    if (o.contains("expire_before") && !get_i64(o, "expire_before", c.expire_before)) return std::nullopt;
    if (o.contains("rehash_to") && (!get_str(o, "rehash_from", c.rehash_from) || !get_str(o, "rehash_to", c.rehash_to)))
      return std::nullopt;
    return c;
  }
  if (t == "touch_session") {
    cmd_touch_session c;
    if (!get_str(o, "user", c.user) || !get_str(o, "token_hash", c.token_hash) || !get_i64(o, "ts", c.ts)) return std::nullopt;
    return c;
  }
  if (t == "drop_session") {
    cmd_drop_session c;
    if (!get_str(o, "user", c.user) || !get_str(o, "token_hash", c.token_hash)) return std::nullopt;
    return c;
  }
  if (t == "send") {
    cmd_send c;
    if (!get_str(o, "from", c.from) || !get_str(o, "to", c.to) || !get_str(o, "body", c.body) || !get_i64(o, "ts", c.ts))
      return std::nullopt;
    std::string n;
    if (get_str(o, "nonce", n)) c.nonce = n;
    return c;
  }
  if (t == "mark_read") {
    cmd_mark_read c;
    if (!get_str(o, "user", c.user) || !get_ids(o, c.ids)) return std::nullopt;
    std::string w;
    if (get_str(o, "with", w)) c.with = w;
    return c;
  }
  if (t == "delete_messages") {
    cmd_delete_messages c;
    if (!get_str(o, "user", c.user) || !get_ids(o, c.ids)) return std::nullopt;
    return c;
  }
  if (t == "delete_account") {
    cmd_delete_account c;
    if (!get_str(o, "user", c.user)) return std::nullopt;
    return c;
  }
  return std::nullopt;
}

const char* command_name(const command& c) {
  return std::visit(overloaded{[](const cmd_create_account&) { return "create_account"; },
                               [](const cmd_create_session&) { return "login"; },
                               [](const cmd_drop_session&) { return "logout"; },
                               [](const cmd_send&) { return "send"; },
                               [](const cmd_mark_read&) { return "mark_read"; },
                               [](const cmd_delete_messages&) { return "delete_messages"; },
                               [](const cmd_delete_account&) { return "delete_account"; },
                               [](const cmd_touch_session&) { return "touch_session"; }},
                    c);
}

}  // namespace qc::chat
