#include "net/peer_codec.h"
#include "common/json_span.h"
#include "common/json_text.h"
#include "common/overloaded.h"
#include "common/utf8_valid.h"

#include <cstring>

#include <boost/json.hpp>

namespace qc::net {

namespace json = boost::json;
using common::append_json_int;
using common::append_json_string;
using common::valid_utf8;

namespace {

const char* b64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

std::string base64(std::string_view in) {
  std::string out;
  std::uint32_t v = 0;
  int bits = 0;
  for (unsigned char c : in) {
    v = (v << 8) | c;
    bits += 8;
    while (bits >= 6) out += b64[(v >> (bits -= 6)) & 63];
  }
  if (bits) out += b64[(v << (6 - bits)) & 63];
  while (out.size() % 4) out += '=';
  return out;
}

std::optional<std::string> unbase64(std::string_view in) {
  std::string out;
  std::uint32_t v = 0;
  int bits = 0;
  // Only what base64() writes: whole quads, padding only at the end.
  if (in.size() % 4) return std::nullopt;
  const auto pad = in.find('=');
  if (pad != std::string_view::npos && (in.size() - pad > 2 || in.find_first_not_of('=', pad) != std::string_view::npos))
    return std::nullopt;
  for (char c : in.substr(0, pad)) {
    const char* p = std::strchr(b64, c);
    if (!p || !c) return std::nullopt;
    v = (v << 6) | static_cast<std::uint32_t>(p - b64);
    bits += 6;
    if (bits >= 8) out += static_cast<char>((v >> (bits -= 8)) & 0xff);
  }
  return out;
}

json::object members_json(const raft::membership& m) {
  json::array a;
  for (const auto& mb : m.members) a.push_back(json::array{json::value(mb.id), json::value(mb.address), json::value(mb.voter)});
  return json::object{{"m", std::move(a)}};
}

/// True if `data` is one JSON object written compactly (what the gateway
/// writes for every command), so that a frame may carry it as a value of
/// its own rather than as a string: no escaping by the writer, no
/// unescaping by the reader, and the reader takes the same bytes back
/// (common/json_span.h). `data` must be valid UTF-8.
bool is_compact_object(std::string_view data) {
  return !data.empty() && data.front() == '{' &&
         common::compact_json_end(data.data(), data.data() + data.size()) == data.data() + data.size();
}

/// Appends the value of a "d" or "data" key: `data` (valid UTF-8) as a
/// JSON string, or as it stands when `as_json` and it is a compact object.
void append_data(std::string& out, std::string_view data, bool as_json) {
  if (as_json && is_compact_object(data)) out += data;
  else append_json_string(out, data);
}

/// One Raft message as a JSON object, written without building a
/// boost::json value first (the replication hot path: every append and its
/// answer passes here). Keys: t type, f from, o to, tm term, and when set lt
/// log_term, i index, c commit, r reject, rh reject_hint, ht hint_term,
/// x context, e entries ({t, i, y type, d data or b base64 data}),
/// s snapshot ({m members, i, t, h handle}).
void append_message(std::string& out, const raft::message& m, bool entries_as_json) {
  out += "{\"t\":";
  append_json_int(out, static_cast<int>(m.type));
  out += ",\"f\":";
  append_json_string(out, m.from);
  out += ",\"o\":";
  append_json_string(out, m.to);
  out += ",\"tm\":";
  append_json_int(out, m.term);
  const auto field = [&](const char* key, std::uint64_t v) {
    if (!v) return;
    out += key;
    append_json_int(out, v);
  };
  field(",\"lt\":", m.log_term);
  field(",\"i\":", m.index);
  field(",\"c\":", m.commit);
  if (m.reject) out += ",\"r\":true";
  field(",\"rh\":", m.reject_hint);
  field(",\"ht\":", m.hint_term);
  if (!m.context.empty()) {
    out += ",\"x\":";
    append_json_string(out, m.context);
  }
  if (!m.entries.empty()) {
    out += ",\"e\":[";
    for (std::size_t k = 0; k < m.entries.size(); ++k) {
      const auto& e = m.entries[k];
      if (k) out += ',';
      out += "{\"t\":";
      append_json_int(out, e.term);
      out += ",\"i\":";
      append_json_int(out, e.index);
      out += ",\"y\":";
      append_json_int(out, static_cast<int>(e.type));
      // Anything but well-formed UTF-8 travels as base64: an entry written
      // as a JSON string that the receiver's parser refuses would never
      // replicate.
      if (valid_utf8(e.data)) {
        out += ",\"d\":";
        append_data(out, e.data, entries_as_json);
      } else {
        out += ",\"b\":\"" + base64(e.data) + '"';
      }
      out += '}';
    }
    out += ']';
  }
  if (m.snapshot) {
    auto s = members_json(m.snapshot->config);
    s["i"] = m.snapshot->index;
    s["t"] = m.snapshot->term;
    s["h"] = m.snapshot->handle;
    out += ",\"s\":" + json::serialize(s);
  }
  out += '}';
}

/// Field readers that refuse anything of the wrong type.
struct reader {
  const json::object& o;
  bool ok = true;
  std::uint64_t u64(const char* k) {
    auto* v = o.if_contains(k);
    if (!v) return 0;
    if (v->is_uint64()) return v->as_uint64();
    if (v->is_int64() && v->as_int64() >= 0) return static_cast<std::uint64_t>(v->as_int64());
    ok = false;
    return 0;
  }
  std::string str(const char* k, bool required = false) {
    auto* v = o.if_contains(k);
    if (!v) {
      if (required) ok = false;
      return {};
    }
    if (!v->is_string()) {
      ok = false;
      return {};
    }
    return std::string(v->as_string());
  }
  bool boolean(const char* k) {
    auto* v = o.if_contains(k);
    if (!v) return false;
    if (!v->is_bool()) {
      ok = false;
      return false;
    }
    return v->as_bool();
  }
};

std::optional<raft::message> parse_message(const json::value& v) {
  if (!v.is_object()) return std::nullopt;
  reader r{v.as_object()};
  raft::message m;
  const auto t = r.u64("t");
  if (t > static_cast<std::uint64_t>(raft::msg_type::read_index_resp)) return std::nullopt;
  m.type = static_cast<raft::msg_type>(t);
  m.from = r.str("f", true);
  m.to = r.str("o", true);
  m.term = r.u64("tm");
  m.log_term = r.u64("lt");
  m.index = r.u64("i");
  m.commit = r.u64("c");
  m.reject = r.boolean("r");
  m.reject_hint = r.u64("rh");
  m.hint_term = r.u64("ht");
  m.context = r.str("x");
  if (auto* es = r.o.if_contains("e")) {
    if (!es->is_array()) return std::nullopt;
    for (const auto& ev : es->as_array()) {
      if (!ev.is_object()) return std::nullopt;
      reader er{ev.as_object()};
      raft::entry e;
      e.term = er.u64("t");
      e.index = er.u64("i");
      const auto y = er.u64("y");
      if (y > 1) return std::nullopt;
      e.type = static_cast<raft::entry_type>(y);
      if (er.o.contains("b")) {
        auto d = unbase64(er.str("b"));
        if (!d) return std::nullopt;
        e.data = std::move(*d);
      } else {
        e.data = er.str("d");
      }
      if (!er.ok) return std::nullopt;
      m.entries.push_back(std::move(e));
    }
  }
  if (auto* s = r.o.if_contains("s")) {
    if (!s->is_object()) return std::nullopt;
    reader sr{s->as_object()};
    raft::snapshot_meta sm;
    sm.index = sr.u64("i");
    sm.term = sr.u64("t");
    sm.handle = sr.str("h");
    auto* ms = sr.o.if_contains("m");
    if (!ms || !ms->is_array()) return std::nullopt;
    for (const auto& mv : ms->as_array()) {
      if (!mv.is_array() || mv.as_array().size() != 3) return std::nullopt;
      const auto& a = mv.as_array();
      if (!a[0].is_string() || !a[1].is_string() || !a[2].is_bool()) return std::nullopt;
      sm.config.members.push_back({std::string(a[0].as_string()), std::string(a[1].as_string()), a[2].as_bool()});
    }
    if (!sr.ok) return std::nullopt;
    m.snapshot = std::move(sm);
  }
  if (!r.ok) return std::nullopt;
  return m;
}

/// Reads the frames of every write (raft frames, forwarded proposals and
/// their answers) laid out exactly as `encode_peer_frame` writes them: keys
/// in the encoder's order, no whitespace, integers as plain digits, only
/// the escapes the encoder writes. It builds no JSON tree: on the
/// replication hot path the tree cost more than the fields it held. Any
/// other frame or layout (and a snapshot, which is rare) is left to the
/// general parser: `read` then returns nullopt without judging the text,
/// so what this reader accepts decodes exactly as the general parser
/// decodes it.
class exact_reader {
 public:
  explicit exact_reader(std::string_view text) : p_(text.data()), end_(text.data() + text.size()) {}

  std::optional<peer_frame> read() {
    if (lit(R"({"type":"raft","msgs":[)")) return raft();
    if (lit(R"({"type":"propose","rid":)")) return propose();
    if (lit(R"({"type":"propose_resp","rid":)")) return propose_resp();
    return std::nullopt;
  }

 private:
  std::optional<peer_frame> raft() {
    peer_raft pr;
    if (!lit("]")) {
      do {
        raft::message m;
        if (!message(m)) return std::nullopt;
        pr.msgs.push_back(std::move(m));
      } while (lit(","));
      if (!lit("]")) return std::nullopt;
    }
    if (!finish()) return std::nullopt;
    return pr;
  }

  std::optional<peer_frame> propose() {
    peer_propose p;
    if (!number(p.rid) || !lit(R"(,"data":)") || !data(p.data)) return std::nullopt;
    if (lit(R"(,"conf":true)")) p.conf = true;
    else if (!lit(R"(,"conf":false)")) return std::nullopt;
    if (!finish()) return std::nullopt;
    return p;
  }

  std::optional<peer_frame> propose_resp() {
    peer_propose_resp r;
    if (!number(r.rid) || !lit(R"(,"index":)") || !number(r.index) || !lit(R"(,"term":)") || !number(r.term) ||
        !lit(R"(,"error":)") || !string(r.error) || !lit(R"(,"leader":)") || !string(r.leader) || !finish())
      return std::nullopt;
    return r;
  }

  /// The object's closing brace, and nothing after it.
  bool finish() { return lit("}") && p_ == end_; }

  /// The literal `s` next? (Its length is a constant, so the compare is inlined.)
  template <std::size_t N>
  bool lit(const char (&s)[N]) {
    constexpr std::size_t n = N - 1;
    if (static_cast<std::size_t>(end_ - p_) < n || std::memcmp(p_, s, n) != 0) return false;
    p_ += n;
    return true;
  }

  /// Digits only, no leading zero, at most 2^64 - 1: the numbers that the
  /// general parser reads as unsigned integers.
  bool number(std::uint64_t& v) {
    if (p_ == end_ || *p_ < '0' || *p_ > '9') return false;
    if (*p_ == '0') {
      ++p_;
      v = 0;
      return p_ == end_ || *p_ < '0' || *p_ > '9';
    }
    v = 0;
    for (; p_ != end_ && *p_ >= '0' && *p_ <= '9'; ++p_) {
      const std::uint64_t d = static_cast<std::uint64_t>(*p_ - '0');
      if (v > (UINT64_MAX - d) / 10) return false;
      v = v * 10 + d;
    }
    return true;
  }

  template <std::size_t N>
  bool field(const char (&key)[N], std::uint64_t& v) {
    return !lit(key) || number(v);
  }

  /// A string literal whose bytes are well-formed UTF-8 once unescaped.
  bool string(std::string& out) {
    if (!lit("\"")) return false;
    out.clear();
    const char* run = p_;
    while (true) {
      p_ = common::find_json_escape(p_, end_);
      if (p_ == end_) return false;
      const auto c = static_cast<unsigned char>(*p_);
      out.append(run, p_);
      if (c == '"') break;
      if (c < 0x20 || end_ - p_ < 2) return false;
      const char e = p_[1];
      p_ += 2;
      switch (e) {
        case '"': out += '"'; break;
        case '\\': out += '\\'; break;
        case '/': out += '/'; break;
        case 'b': out += '\b'; break;
        case 'f': out += '\f'; break;
        case 'n': out += '\n'; break;
        case 'r': out += '\r'; break;
        case 't': out += '\t'; break;
        case 'u': {  // only \u00XX below 0x80, as the encoder writes control bytes
          const auto hex = [](char h) {
            return h >= '0' && h <= '9' ? h - '0' : h >= 'a' && h <= 'f' ? h - 'a' + 10 : h >= 'A' && h <= 'F' ? h - 'A' + 10 : -1;
          };
          if (end_ - p_ < 4 || p_[0] != '0' || p_[1] != '0') return false;
          const int hi = hex(p_[2]), lo = hex(p_[3]);
          if (hi < 0 || hi > 7 || lo < 0) return false;
          out += static_cast<char>(hi * 16 + lo);
          p_ += 4;
          break;
        }
        default: return false;
      }
      run = p_;
    }
    ++p_;
    return valid_utf8(out);
  }

  /// A "d" or "data" value: a string, or a compact JSON object standing
  /// for its own text (append_data). (Not inlined: inlined, it led GCC 12
  /// to call std::string::push_back out of line in string().)
  [[gnu::noinline]] bool data(std::string& out) {
    if (p_ == end_ || *p_ != '{') return string(out);
    const char* const end = common::compact_json_end(p_, end_);
    if (!end) return false;
    out.assign(p_, end);
    p_ = end;
    return valid_utf8(out);
  }

  bool entry(raft::entry& e) {
    std::uint64_t y = 0;
    if (!lit(R"({"t":)") || !number(e.term) || !lit(R"(,"i":)") || !number(e.index) || !lit(R"(,"y":)") || !number(y) || y > 1)
      return false;
    e.type = static_cast<raft::entry_type>(y);
    std::string text;
    if (lit(R"(,"d":)")) {
      if (!data(text)) return false;
      e.data = std::move(text);
    } else {
      if (!lit(R"(,"b":)") || !string(text)) return false;
      auto d = unbase64(text);
      if (!d) return false;
      e.data = std::move(*d);
    }
    return lit("}");
  }

  bool message(raft::message& m) {
    std::uint64_t t = 0;
    if (!lit(R"({"t":)") || !number(t) || t > static_cast<std::uint64_t>(raft::msg_type::read_index_resp)) return false;
    m.type = static_cast<raft::msg_type>(t);
    if (!lit(R"(,"f":)") || !string(m.from) || !lit(R"(,"o":)") || !string(m.to) || !lit(R"(,"tm":)") || !number(m.term))
      return false;
    if (!field(R"(,"lt":)", m.log_term) || !field(R"(,"i":)", m.index) || !field(R"(,"c":)", m.commit)) return false;
    m.reject = lit(R"(,"r":true)");
    if (!field(R"(,"rh":)", m.reject_hint) || !field(R"(,"ht":)", m.hint_term)) return false;
    if (lit(R"(,"x":)") && !string(m.context)) return false;
    if (lit(R"(,"e":[)")) {
      do {
        raft::entry e;
        if (!entry(e)) return false;
        m.entries.push_back(std::move(e));
      } while (lit(","));
      if (!lit("]")) return false;
    }
    return lit("}");
  }

  const char* p_;
  const char* end_;
};

}  // namespace

std::string encode_peer_frame(const peer_frame& f, bool entries_as_json) {
  if (const auto* x = std::get_if<peer_raft>(&f)) {
    // A frame with a snapshot's message is left to the receiver's JSON
    // parser, which reads entry data only as strings.
    for (const auto& m : x->msgs)
      if (m.snapshot) entries_as_json = false;
    // One allocation: room for every message, entries escaped (a command's
    // JSON text gains a backslash per quote), without growing on the way.
    std::size_t room = 32;
    for (const auto& m : x->msgs) {
      room += 96 + m.context.size();
      for (const auto& e : m.entries) room += 48 + e.data.size() + e.data.size() / 4;
    }
    std::string out;
    out.reserve(room);
    out += "{\"type\":\"raft\",\"msgs\":[";
    for (std::size_t k = 0; k < x->msgs.size(); ++k) {
      if (k) out += ',';
      append_message(out, x->msgs[k], entries_as_json);
    }
    out += "]}";
    return out;
  }
  // Forwarded proposals and their answers travel with every write that a
  // follower's client sent: written as text too, key for key as the object
  // below would have serialized them.
  if (const auto* x = std::get_if<peer_propose>(&f); x && valid_utf8(x->data)) {
    std::string out;
    out.reserve(64 + x->data.size() + x->data.size() / 4);
    out += "{\"type\":\"propose\",\"rid\":";
    append_json_int(out, x->rid);
    out += ",\"data\":";
    append_data(out, x->data, entries_as_json);
    out += x->conf ? ",\"conf\":true}" : ",\"conf\":false}";
    return out;
  }
  if (const auto* x = std::get_if<peer_propose_resp>(&f); x && valid_utf8(x->error) && valid_utf8(x->leader)) {
    std::string out;
    out.reserve(112 + x->error.size() + x->leader.size());
    out += "{\"type\":\"propose_resp\",\"rid\":";
    append_json_int(out, x->rid);
    out += ",\"index\":";
    append_json_int(out, x->index);
    out += ",\"term\":";
    append_json_int(out, x->term);
    out += ",\"error\":";
    append_json_string(out, x->error);
    out += ",\"leader\":";
    append_json_string(out, x->leader);
    out += '}';
    return out;
  }
  json::object o;
  std::visit(overloaded{
                 [&](const peer_raft&) {},  // written above, without the object
                 [&](const peer_propose& x) {
                   o["type"] = "propose";
                   o["rid"] = x.rid;
                   o["data"] = x.data;
                   o["conf"] = x.conf;
                 },
                 [&](const peer_propose_resp& x) {
                   o["type"] = "propose_resp";
                   o["rid"] = x.rid;
                   o["index"] = x.index;
                   o["term"] = x.term;
                   o["error"] = x.error;
                   o["leader"] = x.leader;
                 },
                 [&](const peer_admin& x) {
                   o["type"] = x.response ? "admin_resp" : "admin";
                   o["rid"] = x.rid;
                   o["body"] = x.body;
                 },
                 [&](const peer_snap_ack& x) {
                   o["type"] = "snap_ack";
                   o["index"] = x.index;
                   o["offset"] = x.offset;
                   o["done"] = x.done;
                   o["failed"] = x.failed;
                 },
                 [&](const peer_hello& x) {
                   o["type"] = "hello";
                   o["incarnation"] = x.incarnation;
                   if (x.json_entries) o["json_entries"] = true;
                 },
                 [&](const peer_refused& x) {
                   o["type"] = "refused";
                   o["reason"] = x.reason;
                 },
             },
             f);
  return json::serialize(o);
}

std::optional<peer_frame> decode_peer_frame(std::string_view text) {
  if (auto f = detail::decode_peer_frame_exact(text)) return f;
  return detail::decode_peer_frame_general(text);
}

namespace detail {

std::optional<peer_frame> decode_peer_frame_exact(std::string_view text) { return exact_reader(text).read(); }

std::optional<peer_frame> decode_peer_frame_general(std::string_view text) {
  json::error_code ec;
  json::parse_options opt;
  opt.max_depth = 16;
  // The parsed tree lives only in this call (every field is copied out):
  // take its memory from the stack, and in a few large blocks beyond it.
  unsigned char scratch[16384];
  json::monotonic_resource mr(scratch, sizeof scratch);
  auto v = json::parse(text, ec, &mr, opt);
  if (ec || !v.is_object()) return std::nullopt;
  reader r{v.as_object()};
  const std::string type = r.str("type", true);
  if (type == "raft") {
    auto* ms = r.o.if_contains("msgs");
    if (!ms || !ms->is_array()) return std::nullopt;
    peer_raft pr;
    for (const auto& mv : ms->as_array()) {
      auto m = parse_message(mv);
      if (!m) return std::nullopt;
      pr.msgs.push_back(std::move(*m));
    }
    return pr;
  }
  if (type == "propose") {
    peer_propose p{r.u64("rid"), r.str("data", true), r.boolean("conf")};
    if (!r.ok) return std::nullopt;
    return p;
  }
  if (type == "propose_resp") {
    peer_propose_resp p{r.u64("rid"), r.u64("index"), r.u64("term"), r.str("error"), r.str("leader")};
    if (!r.ok) return std::nullopt;
    return p;
  }
  if (type == "admin" || type == "admin_resp") {
    peer_admin p{r.u64("rid"), type == "admin_resp", r.str("body", true)};
    if (!r.ok) return std::nullopt;
    return p;
  }
  if (type == "snap_ack") {
    peer_snap_ack p{r.u64("index"), r.u64("offset"), r.boolean("done"), r.boolean("failed")};
    if (!r.ok) return std::nullopt;
    return p;
  }
  if (type == "hello") {
    peer_hello p{r.str("incarnation", true), r.boolean("json_entries")};
    if (!r.ok) return std::nullopt;
    return p;
  }
  if (type == "refused") {
    peer_refused p{r.str("reason", true)};
    if (!r.ok) return std::nullopt;
    return p;
  }
  return std::nullopt;
}

}  // namespace detail

}  // namespace qc::net
