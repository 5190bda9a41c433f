#include "chat/command.h"
#include "common/json_text.h"
#include "common/overloaded.h"
#include "common/utf8_valid.h"

#include <boost/json.hpp>

namespace qc::chat {

namespace json = boost::json;

namespace {
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

namespace {
/// One command's JSON text, written directly: keys in the order given,
/// byte for byte what boost::json::serialize writes for an object built in
/// that order (the log's format, which replicas of other versions read).
class command_writer {
 public:
  explicit command_writer(std::size_t hint) {
    out_.reserve(hint + 96);
    out_ += '{';
  }
  void str(std::string_view key, std::string_view v) {
    name(key);
    common::append_json_string(out_, v);
  }
  void num(std::string_view key, std::int64_t v) {
    name(key);
    common::append_json_int(out_, v);
  }
  void ids(const std::vector<std::uint64_t>& v) {
    name("ids");
    out_ += '[';
    for (std::size_t k = 0; k < v.size(); ++k) {
      if (k) out_ += ',';
      common::append_json_int(out_, v[k]);
    }
    out_ += ']';
  }
  std::string finish() && {
    out_ += '}';
    return std::move(out_);
  }

 private:
  void name(std::string_view key) {  // keys are fixed ASCII: nothing to escape
    if (out_.size() > 1) out_ += ',';
    out_ += '"';
    out_ += key;
    out_ += "\":";
  }
  std::string out_;
};
}  // namespace

std::string encode_command(const command& c) {
  return std::visit(
      overloaded{
          [](const cmd_create_account& x) {
            command_writer w(x.user.size() + x.pw_hash.size());
            w.str("t", "create_account");
            w.str("user", x.user);
            w.str("pw_hash", x.pw_hash);
            w.num("ts", x.ts);
            return std::move(w).finish();
          },
          [](const cmd_create_session& x) {
            command_writer w(x.user.size() + x.token_hash.size() + x.rehash_from.size() + x.rehash_to.size());
            w.str("t", "create_session");
            w.str("user", x.user);
            w.str("token_hash", x.token_hash);
            w.num("ts", x.ts);
            if (x.expire_before) w.num("expire_before", x.expire_before);
            if (!x.rehash_to.empty()) {
              w.str("rehash_from", x.rehash_from);
              w.str("rehash_to", x.rehash_to);
            }
            return std::move(w).finish();
          },
          [](const cmd_touch_session& x) {
            command_writer w(x.user.size() + x.token_hash.size());
            w.str("t", "touch_session");
            w.str("user", x.user);
            w.str("token_hash", x.token_hash);
            w.num("ts", x.ts);
            return std::move(w).finish();
          },
          [](const cmd_drop_session& x) {
            command_writer w(x.user.size() + x.token_hash.size());
            w.str("t", "drop_session");
            w.str("user", x.user);
            w.str("token_hash", x.token_hash);
            return std::move(w).finish();
          },
          [](const cmd_send& x) {
            command_writer w(x.from.size() + x.to.size() + x.body.size() + (x.nonce ? x.nonce->size() : 0));
            w.str("t", "send");
            w.str("from", x.from);
            w.str("to", x.to);
            w.str("body", x.body);
            if (x.nonce) w.str("nonce", *x.nonce);
            w.num("ts", x.ts);
            return std::move(w).finish();
          },
          [](const cmd_mark_read& x) {
            command_writer w(x.user.size() + (x.with ? x.with->size() : 0) + 21 * x.ids.size());
            w.str("t", "mark_read");
            w.str("user", x.user);
            if (x.with) w.str("with", *x.with);
            else w.ids(x.ids);
            return std::move(w).finish();
          },
          [](const cmd_delete_messages& x) {
            command_writer w(x.user.size() + 21 * x.ids.size());
            w.str("t", "delete_messages");
            w.str("user", x.user);
            w.ids(x.ids);
            return std::move(w).finish();
          },
          [](const cmd_delete_account& x) {
            command_writer w(x.user.size());
            w.str("t", "delete_account");
            w.str("user", x.user);
            return std::move(w).finish();
          },
      },
      c);
}

namespace {

/// Reads the text of the usual send entry without building a JSON tree:
/// exactly the shape encode_command writes for a send (keys in its order,
/// an optional nonce, then ts), every string well-formed UTF-8 with nothing
/// escaped, ts an integer of at most 18 digits. Anything else, even a valid
/// entry, gives nullopt and is left to the full parse; for the texts it
/// accepts, that parse gives the same command, so every replica applies
/// every entry alike whichever path read it. The full parse cost about
/// 6,300 instructions per send; each member decodes every entry once and
/// the leader once more to stamp it.
class plain_send_reader {
 public:
  explicit plain_send_reader(std::string_view text) : p_(text.data()), end_(text.data() + text.size()) {}

  std::optional<cmd_send> read() {
    cmd_send c;
    if (!literal(R"({"t":"send","from":")") || !string(c.from) || !literal(R"(,"to":")") || !string(c.to) ||
        !literal(R"(,"body":")") || !string(c.body))
      return std::nullopt;
    if (literal(R"(,"nonce":")")) {
      if (!string(c.nonce.emplace())) return std::nullopt;
    }
    if (!literal(R"(,"ts":)") || !integer(c.ts) || !literal("}") || p_ != end_) return std::nullopt;
    return c;
  }

 private:
  bool literal(std::string_view l) {
    if (static_cast<std::size_t>(end_ - p_) < l.size() || std::string_view(p_, l.size()) != l) return false;
    p_ += l.size();
    return true;
  }
  /// The rest of a string whose opening quote was read, and its closing
  /// quote: no escape in it, and well-formed UTF-8 as the parser requires.
  bool string(std::string& out) {
    const char* const from = p_;
    p_ = common::find_json_escape(p_, end_);
    if (p_ == end_ || *p_ != '"') return false;
    out.assign(from, p_);
    ++p_;
    return common::valid_utf8(out);
  }
  /// -?(0|[1-9][0-9]{0,17}): JSON integers, too short to overflow.
  bool integer(std::int64_t& out) {
    const bool negative = p_ != end_ && *p_ == '-';
    if (negative) ++p_;
    const char* const from = p_;
    std::int64_t v = 0;
    for (; p_ != end_ && *p_ >= '0' && *p_ <= '9'; ++p_) {
      if (p_ - from == 18) return false;  // a 19th digit: left to the full parse
      v = v * 10 + (*p_ - '0');
    }
    const auto digits = p_ - from;
    if (digits == 0 || (digits > 1 && *from == '0')) return false;
    out = negative ? -v : v;
    return true;
  }

  const char* p_;
  const char* const end_;
};

}  // namespace

std::optional<command> decode_command(std::string_view data) {
  if (auto c = plain_send_reader(data).read()) return std::move(*c);
  return decode_command_tree(data);
}

std::optional<command> decode_command_tree(std::string_view data) {
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
