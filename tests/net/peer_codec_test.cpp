// The peer protocol's Raft frames: written directly as text, they must read
// back as what was sent, and match the object the codec used to serialize
// (so nodes of either build parse each other's frames).
#include <doctest/doctest.h>

#include <boost/json.hpp>

#include <cstring>
#include <string>
#include <string_view>

#include "common/peer_data.h"
#include "common/xorshift.h"
#include "net/peer_codec.h"

using namespace qc;
namespace json = boost::json;

namespace {

raft::message full_message() {
  raft::message m;
  m.type = raft::msg_type::append;
  m.from = "n1";
  m.to = "n\"2\\";
  m.term = 7;
  m.log_term = 6;
  m.index = 41;
  m.commit = 40;
  m.reject = true;
  m.reject_hint = 12;
  m.hint_term = 5;
  m.context = "read-\n1";
  m.entries = {{7, 42, raft::entry_type::normal, R"({"op":"send","body":"a \"quoted\"\n line\u0001"})"},
               {7, 43, raft::entry_type::conf_change, std::string("\xff\x00\x80 not utf-8", 14)},
               {7, 44, raft::entry_type::normal, ""}};
  raft::snapshot_meta s;
  s.index = 30;
  s.term = 4;
  s.handle = "snap-30";
  s.config.members = {{"n1", "127.0.0.1:7001", true}, {"n9", "10.0.0.9:7009", false}};
  m.snapshot = s;
  return m;
}

/// The frame as the codec built it before it wrote text directly.
std::string reference(const std::vector<raft::message>& msgs) {
  json::array a;
  for (const auto& m : msgs) {
    json::object o{{"t", static_cast<int>(m.type)}, {"f", m.from}, {"o", m.to}, {"tm", m.term}};
    if (m.log_term) o["lt"] = m.log_term;
    if (m.index) o["i"] = m.index;
    if (m.commit) o["c"] = m.commit;
    if (m.reject) o["r"] = true;
    if (m.reject_hint) o["rh"] = m.reject_hint;
    if (m.hint_term) o["ht"] = m.hint_term;
    if (!m.context.empty()) o["x"] = m.context;
    if (!m.entries.empty()) {
      json::array es;
      for (const auto& e : m.entries) {
        json::object eo{{"t", e.term}, {"i", e.index}, {"y", static_cast<int>(e.type)}};
        if (e.index == 43) eo["b"] = "/wCAIG5vdCB1dGYtOAA=";  // base64 of the non-UTF-8 data (NUL included)
        else eo["d"] = e.data.str();
        es.push_back(std::move(eo));
      }
      o["e"] = std::move(es);
    }
    if (m.snapshot) {
      json::array ms;
      for (const auto& mb : m.snapshot->config.members)
        ms.push_back(json::array{json::value(mb.id), json::value(mb.address), json::value(mb.voter)});
      o["s"] = json::object{{"m", std::move(ms)}, {"i", m.snapshot->index}, {"t", m.snapshot->term}, {"h", m.snapshot->handle}};
    }
    a.push_back(std::move(o));
  }
  return json::serialize(json::object{{"type", "raft"}, {"msgs", std::move(a)}});
}

}  // namespace

TEST_CASE("raft frames: every field written, byte for byte the serialized object, and read back whole") {
  std::vector<raft::message> msgs = {full_message(), raft::message{}};
  msgs[1].type = raft::msg_type::heartbeat_resp;
  msgs[1].from = std::string("n2");
  msgs[1].to = std::string("n1");
  msgs[1].term = 3;
  const std::string text = net::encode_peer_frame(net::peer_raft{msgs});
  CHECK(text == reference(msgs));
  auto back = net::decode_peer_frame(text);
  REQUIRE(back);
  const auto* r = std::get_if<net::peer_raft>(&*back);
  REQUIRE(r);
  CHECK(r->msgs == msgs);
}

TEST_CASE("raft frames: an empty batch") {
  const std::string text = net::encode_peer_frame(net::peer_raft{});
  CHECK(text == R"({"type":"raft","msgs":[]})");
  auto back = net::decode_peer_frame(text);
  REQUIRE(back);
  CHECK(std::get<net::peer_raft>(*back).msgs.empty());
}

namespace {

/// A one-message frame carrying `data` as its one entry, as written.
std::string one_entry_frame(const std::string& data) {
  raft::message m;
  m.type = raft::msg_type::append;
  m.from = std::string("n1");  // (a literal here trips GCC 12's -Wmaybe-uninitialized at -O3)
  m.to = std::string("n2");
  m.entries = {{1, 1, raft::entry_type::normal, data}};
  return net::encode_peer_frame(net::peer_raft{{m}});
}

/// `data` written in a frame and read back.
std::optional<std::string> through_the_codec(const std::string& data) {
  const auto back = net::decode_peer_frame(one_entry_frame(data));
  if (!back) return std::nullopt;
  const auto& msgs = std::get<net::peer_raft>(*back).msgs;
  if (msgs.size() != 1 || msgs[0].entries.size() != 1) return std::nullopt;
  return msgs[0].entries[0].data;
}

/// How the codec writes `data`: "d" (JSON text) or "b" (base64).
std::string written_as(const std::string& data) {
  const auto text = one_entry_frame(data);
  return text.find(R"("d":)") != std::string::npos ? "d" : text.find(R"("b":)") != std::string::npos ? "b" : "?";
}

}  // namespace

TEST_CASE("raft frames: entry bytes that are not well-formed UTF-8 still arrive intact") {
  // A JSON parser refuses each of these inside a string: a frame carrying
  // it as text would never be accepted, and the entry would never
  // replicate. All but the last two look like UTF-8 to a check of lead and
  // continuation bits alone.
  const char* ill_formed[] = {
      "\xf6\xa5\xb2\xb8",  // lead byte past U+10FFFF (the fuzzer's find)
      "\xf4\x90\x80\x80",  // U+110000
      "\xed\xa0\x80",      // a UTF-16 surrogate
      "\xc0\x80",          // overlong NUL
      "\xc1\xbf",          // overlong
      "\xe0\x80\xaf",      // overlong
      "\xf0\x80\x80\xaf",  // overlong
      "\xf8\x88\x80\x80\x80",  // five-byte form
      "ok\xe2\x82",        // cut short at the end
  };
  for (const char* s : ill_formed) {
    CAPTURE(std::string(s));
    CHECK(written_as(s) == "b");
    CHECK(through_the_codec(s) == std::string(s));
  }
  // Well-formed text at every boundary of the table still goes as text.
  for (const char* s : {"\xc2\x80", "\xdf\xbf", "\xe0\xa0\x80", "\xed\x9f\xbf", "\xee\x80\x80", "\xf0\x90\x80\x80",
                        "\xf4\x8f\xbf\xbf"}) {
    CAPTURE(std::string(s));
    CHECK(written_as(s) == "d");
    CHECK(through_the_codec(s) == std::string(s));
  }
  // And any bytes at all: short random strings drawn mostly from the high half.
  std::uint32_t x = 12345;
  for (int n = 0; n < 20000; ++n) {
    std::string s(1 + n % 7, '\0');
    for (auto& c : s) {
      x = x * 1664525 + 1013904223;
      c = static_cast<char>((x >> 24) % 4 ? 0x80 | (x >> 16) : (x >> 16));
    }
    CAPTURE(s);
    REQUIRE(through_the_codec(s) == s);
  }
}

TEST_CASE("raft frames: base64 entry data only as written, padding at the end") {
  const auto frame = [](const std::string& b) {
    return R"({"type":"raft","msgs":[{"t":1,"f":"n1","o":"n2","tm":1,"e":[{"t":1,"i":1,"y":0,"b":")" + b + R"("}]}]})";
  };
  const auto data = [&](const std::string& b) -> std::optional<std::string> {
    auto f = net::decode_peer_frame(frame(b));
    if (!f) return std::nullopt;
    return std::get<net::peer_raft>(*f).msgs.at(0).entries.at(0).data;
  };
  CHECK(data("/wCAIG5vdCB1dGYtOAA=") == std::string("\xff\x00\x80 not utf-8\x00", 14));
  CHECK(data("YWI=") == "ab");
  CHECK(data("YQ==") == "a");
  CHECK(data("") == "");
  CHECK_FALSE(data("YQ"));        // not whole quads
  CHECK_FALSE(data("YQ=x"));      // data after the padding
  CHECK_FALSE(data("Y==="));      // more padding than a quad allows
  CHECK_FALSE(data("YQ==YWI="));  // padding in the middle
  CHECK_FALSE(data("YW I="));     // not in the alphabet
}

TEST_CASE("forwarded proposals and their answers: byte for byte the serialized object, and read back whole") {
  const std::vector<std::string> datas = {
      "", R"({"op":"send","to":"b","body":"a \"quoted\"\n line\u0001 \\ end"})", "caf\xc3\xa9 \xf0\x9f\x92\xac",
      std::string("ctl \x01\x1f\x7f", 7), std::string(300, 'x') + "\"" + std::string(17, '\t')};
  for (const auto& d : datas) {
    for (const bool conf : {false, true}) {
      const net::peer_propose p{18446744073709551615ull, d, conf};
      const std::string text = net::encode_peer_frame(p);
      CHECK(text == json::serialize(json::object{{"type", "propose"}, {"rid", p.rid}, {"data", d}, {"conf", conf}}));
      auto back = net::decode_peer_frame(text);
      REQUIRE(back);
      const auto* b = std::get_if<net::peer_propose>(&*back);
      REQUIRE(b);
      CHECK(b->rid == p.rid);
      CHECK(b->data == d);
      CHECK(b->conf == conf);
    }
    const net::peer_propose_resp r{7, 0, 12, d, "n\"3"};
    const std::string text = net::encode_peer_frame(r);
    CHECK(text == json::serialize(json::object{{"type", "propose_resp"}, {"rid", r.rid}, {"index", r.index},
                                               {"term", r.term}, {"error", r.error}, {"leader", r.leader}}));
    auto back = net::decode_peer_frame(text);
    REQUIRE(back);
    const auto* b = std::get_if<net::peer_propose_resp>(&*back);
    REQUIRE(b);
    CHECK(b->rid == r.rid);
    CHECK(b->index == r.index);
    CHECK(b->term == r.term);
    CHECK(b->error == d);
    CHECK(b->leader == r.leader);
  }
}

namespace {

/// The direct reader's test cases, drawn deterministically.
struct rng : test::xorshift {
  /// 0, a small number or one near 2^64: each field's value when set.
  std::uint64_t u64() {
    switch (below(4)) {
      case 0: return 0;
      case 1: return below(1000);
      case 2: return UINT64_MAX - below(3);
      default: return next();
    }
  }
  /// Bytes of any kind: plain text, control bytes, quotes and backslashes,
  /// UTF-8, and unless `utf8` bytes that are not UTF-8 at all (only entry
  /// data may hold those: ids and contexts are text).
  std::string bytes(std::size_t max, bool utf8 = false) {
    static const char* pieces[] = {"a", "op", "\"", "\\", "\n", "\x01", "\x1f", "\x7f", "/", "caf\xc3\xa9",
                                   "\xf0\x9f\x92\xac", "\xff", "\xed\xa0\x80", "\x00", " ", "\\u0041"};
    std::string s;
    const auto n = below(max + 1);
    for (std::uint64_t k = 0; k < n; ++k) {
      const char* p = pieces[below(std::size(pieces))];
      if (utf8 && (p[0] == '\xff' || p[0] == '\xed')) continue;
      s.append(p, p[0] ? std::strlen(p) : 1);
    }
    return s;
  }
  raft::message message() {
    raft::message m;
    m.type = static_cast<raft::msg_type>(below(static_cast<std::uint64_t>(raft::msg_type::read_index_resp) + 1));
    m.from = below(4) ? "n" + std::to_string(below(9)) : bytes(4, true);
    m.to = below(4) ? "n" + std::to_string(below(9)) : bytes(4, true);
    m.term = u64();
    m.log_term = u64();
    m.index = u64();
    m.commit = u64();
    m.reject = below(2);
    m.reject_hint = u64();
    m.hint_term = u64();
    if (below(3) == 0) m.context = bytes(6, true);
    for (auto n = below(4); n > 0; --n)
      m.entries.push_back({u64(), u64(), below(2) ? raft::entry_type::normal : raft::entry_type::conf_change, bytes(40)});
    return m;
  }
};

/// Both decoders on `text`: the direct reader's answer, when it gives one,
/// must be the JSON parser's. The parser reads entry and proposal data only
/// as strings, so a frame carrying data as JSON objects, which only the
/// direct reader takes, it must refuse, and read the same frame written
/// with strings as the direct reader read this one.
void same_as_parser(const std::string& text) {
  CAPTURE(text);
  const auto exact = net::detail::decode_peer_frame_exact(text);
  const auto general = net::detail::decode_peer_frame_general(text);
  if (exact && general) CHECK(*general == *exact);
  if (exact && !general) {
    CHECK(test::carries_data_as_object(text));
    const auto as_strings = net::detail::decode_peer_frame_general(net::encode_peer_frame(*exact));
    REQUIRE(as_strings);
    CHECK(*as_strings == *exact);
  }
  const auto either = net::decode_peer_frame(text);
  CHECK(either.has_value() == (exact || general));
}

/// Every byte of `text` replaced by each of `subst`, dropped, or doubled in
/// turn: whatever the direct reader still accepts, the parser reads alike.
void mutations_same_as_parser(const std::string& text, std::string_view subst) {
  for (std::size_t i = 0; i < text.size(); ++i) {
    for (char c : subst) same_as_parser(text.substr(0, i) + c + text.substr(i + 1));
    same_as_parser(text.substr(0, i) + text.substr(i + 1));
    same_as_parser(text.substr(0, i + 1) + text.substr(i));
  }
}

}  // namespace

TEST_CASE("raft frames: the direct reader takes every frame the encoder writes, as the JSON parser reads it") {
  rng r{0x9e3779b97f4a7c15ull};
  for (int n = 0; n < 5000; ++n) {
    std::vector<raft::message> msgs(r.below(4));
    for (auto& m : msgs) m = r.message();
    const std::string text = net::encode_peer_frame(net::peer_raft{msgs});
    CAPTURE(text);
    const auto exact = net::detail::decode_peer_frame_exact(text);
    REQUIRE(exact);
    CHECK(std::get<net::peer_raft>(*exact).msgs == msgs);
    same_as_parser(text);
  }
}

TEST_CASE("forwarded proposals and their answers: the direct reader takes what the encoder writes, as the parser reads it") {
  rng r{77};
  for (int n = 0; n < 5000; ++n) {
    const net::peer_frame frames[] = {net::peer_propose{r.u64(), r.bytes(60, true), r.below(2) == 1},
                                      net::peer_propose_resp{r.u64(), r.u64(), r.u64(), r.bytes(3, true), r.bytes(3, true)}};
    for (const auto& f : frames) {
      const std::string text = net::encode_peer_frame(f);
      CAPTURE(text);
      const auto exact = net::detail::decode_peer_frame_exact(text);
      REQUIRE(exact);
      CHECK(*exact == f);
      same_as_parser(text);
    }
  }
  // Every byte changed, dropped or doubled in turn.
  for (const net::peer_frame& f : {net::peer_frame{net::peer_propose{12, R"({"op":"send","body":"a\"b\n"})", false}},
                                   net::peer_frame{net::peer_propose_resp{12, 99, 3, "not_leader", "n2"}}})
    mutations_same_as_parser(net::encode_peer_frame(f), std::string_view("09\"\\,}u \x01\xff" "tf", 12));
  // Another layout goes to the parser.
  for (const char* text : {R"({"type":"propose","rid":1,"data":"x"})", R"({"type":"propose","data":"x","rid":1,"conf":false})",
                           R"({"type":"propose_resp","rid":1,"index":2,"term":3,"error":"","leader":"n1","x":0})"}) {
    CAPTURE(text);
    CHECK_FALSE(net::detail::decode_peer_frame_exact(text));
    CHECK(net::decode_peer_frame(text));
  }
}

TEST_CASE("raft frames: any other layout is left to the JSON parser") {
  const std::string base = R"({"type":"raft","msgs":[{"t":1,"f":"n1","o":"n2","tm":3,"e":[{"t":3,"i":9,"y":0,"d":"x"}]}]})";
  REQUIRE(net::detail::decode_peer_frame_exact(base));
  const auto declined = [](const std::string& text) {
    CAPTURE(text);
    CHECK_FALSE(net::detail::decode_peer_frame_exact(text));
    same_as_parser(text);
  };
  // Valid frames in another layout: the parser reads them.
  for (const char* text : {
           R"({"type": "raft","msgs":[]})",                                   // whitespace
           R"({"msgs":[],"type":"raft"})",                                    // keys in another order
           R"({"type":"raft","msgs":[{"f":"n1","t":1,"o":"n2","tm":3}]})",     // likewise in a message
           R"({"type":"raft","msgs":[{"t":1,"f":"n1","o":"n2","tm":-0}]})",    // minus zero
           R"({"type":"raft","msgs":[{"t":1,"f":"caf\u00e9","o":"n2","tm":3}]})",  // an escape the encoder never writes
           R"({"type":"raft","msgs":[{"t":1,"f":"\u00c3\u00a9","o":"n2","tm":3}]})",  // two code points, not the bytes of one
           R"({"type":"raft","msgs":[{"t":1,"f":"n1","o":"n2","tm":3,"e":[]}]})",  // no entries, as an empty list
           R"({"type":"raft","msgs":[{"t":1,"f":"n1","o":"n2","tm":3,"s":{"m":[["n1","a:1",true]],"i":4,"t":2,"h":"x"}}]})",
           R"({"type":"raft","msgs":[]} )"}) {
    declined(text);
    CHECK(net::decode_peer_frame(text));
  }
  // Malformed ones: both refuse.
  for (const char* text : {
           R"({"type":"raft","msgs":[{"t":1,"f":"n1","o":"n2","tm":03}]})",                     // leading zero
           R"({"type":"raft","msgs":[{"t":1,"f":"n1","o":"n2","tm":18446744073709551616}]})",  // past 2^64 - 1
           R"({"type":"raft","msgs":[{"t":1,"f":"n1","o":"n2","tm":1.5}]})",
           R"({"type":"raft","msgs":[{"t":12,"f":"n1","o":"n2","tm":1}]})",                     // no such type
           "{\"type\":\"raft\",\"msgs\":[{\"t\":1,\"f\":\"n\x01\",\"o\":\"n2\",\"tm\":1}]}",   // a raw control byte
           "{\"type\":\"raft\",\"msgs\":[{\"t\":1,\"f\":\"\xff\",\"o\":\"n2\",\"tm\":1}]}",    // not UTF-8
           R"({"type":"raft","msgs":[{"t":1,"f":"n1","o":"n2","tm":1,"e":[{"t":1,"i":1,"y":2,"d":""}]}]})",
           R"({"type":"raft","msgs":[{"t":1,"f":"n1","o":"n2","tm":1,"e":[{"t":1,"i":1,"y":0,"b":"YQ"}]}]})",
           R"({"type":"raft","msgs":[]}})"}) {
    declined(text);
    CHECK_FALSE(net::decode_peer_frame(text));
  }
  // Every byte of a frame changed, dropped or doubled in turn: whatever the
  // direct reader still accepts, the parser reads alike.
  rng r{42};
  std::vector<raft::message> msgs(3);
  for (auto& m : msgs) m = r.message();
  const std::string text = net::encode_peer_frame(net::peer_raft{msgs});
  mutations_same_as_parser(text, std::string_view("09\"\\,}]u \x01\xff" "e", 12));
}

namespace {

/// A command as the gateway writes one: a compact JSON object.
std::string command_json(rng& r) {
  json::object o{{"t", "send"}, {"from", "u" + std::to_string(r.below(100))}, {"to", r.bytes(6, true)},
                 {"body", r.bytes(30, true)}, {"ts", r.u64()}};
  if (r.below(2)) o["nonce"] = r.bytes(4, true);
  if (r.below(3) == 0) o["ids"] = json::array{r.u64(), json::object{{"k", r.bytes(3, true)}}, nullptr, true, -1.5};
  return json::serialize(o);
}

}  // namespace

TEST_CASE("raft frames: data that is a compact JSON object travels as that object to a peer that reads it so") {
  const std::string cmd = R"({"t":"send","to":"b","body":"a \"}\" ] \\ \n","ts":17,"ids":[1,{"x":null}]})";
  raft::message m;
  m.type = raft::msg_type::append;
  m.from = std::string("n1");
  m.to = std::string("n2");
  m.term = 2;
  m.entries = {{2, 5, raft::entry_type::normal, cmd}};
  const std::string text = net::encode_peer_frame(net::peer_raft{{m}}, true);
  // The object itself, not a string holding it; and the frame is JSON.
  CHECK(text == R"({"type":"raft","msgs":[{"t":0,"f":"n1","o":"n2","tm":2,"e":[{"t":2,"i":5,"y":0,"d":)" + cmd + "}]}]}");
  json::error_code ec;
  CHECK(json::parse(text, ec).at("msgs").at(0).at("e").at(0).at("d").is_object());
  CHECK_FALSE(ec);
  auto back = net::decode_peer_frame(text);
  REQUIRE(back);
  CHECK(std::get<net::peer_raft>(*back).msgs == std::vector<raft::message>{m});
  // Without the flag, the same frame as always.
  CHECK(net::encode_peer_frame(net::peer_raft{{m}}) == reference({m}));

  // Anything that is not one compact object, byte for byte, stays a string
  // (or base64): the reader takes back exactly the bytes between the
  // object's braces, so nothing before or after them may be lost.
  for (const std::string& d : {std::string(""), std::string("plain"), std::string("[1,2]"), std::string("\"s\""),
                              std::string(" {}"), std::string("{} "), std::string("{}\n"), std::string("{}{}"),
                              std::string(R"({"a": 1})"), std::string("{\"a\":1,\n\"b\":2}"), std::string(R"({"a":})"),
                              std::string(R"({"a":"x)"), std::string("{\"a\":\"\x01\"}"), std::string(R"({"a":01})"),
                              std::string("{\"a\":\"\xff\"}")}) {
    CAPTURE(d);
    m.entries = {{2, 5, raft::entry_type::normal, d}};
    const std::string t = net::encode_peer_frame(net::peer_raft{{m}}, true);
    CHECK(t.find(R"("d":{)") == std::string::npos);
    CHECK(t == net::encode_peer_frame(net::peer_raft{{m}}));
    auto b = net::decode_peer_frame(t);
    REQUIRE(b);
    CHECK(std::get<net::peer_raft>(*b).msgs.at(0).entries.at(0).data == d);
  }
  // A frame with a snapshot's message is written with strings throughout.
  auto s = full_message();
  s.entries = {{7, 42, raft::entry_type::normal, "{}"}};
  CHECK(net::encode_peer_frame(net::peer_raft{{s}}, true) == net::encode_peer_frame(net::peer_raft{{s}}));
}

TEST_CASE("raft frames: a reader of data as strings refuses data written as objects, whole, never reads it otherwise") {
  // The JSON parser reads "d" and "data" only as strings, as builds that
  // announce no json_entries do: such a frame is refused whole (and the
  // link's traffic waits, as for any refused frame), never taken with the
  // entry's data missing or changed.
  const std::string raft_frame = R"({"type":"raft","msgs":[{"t":0,"f":"n1","o":"n2","tm":2,"e":[{"t":2,"i":5,"y":0,"d":{"a":1}}]}]})";
  REQUIRE(net::detail::decode_peer_frame_exact(raft_frame));
  CHECK_FALSE(net::detail::decode_peer_frame_general(raft_frame));
  const std::string propose = R"({"type":"propose","rid":3,"data":{"a":1},"conf":false})";
  REQUIRE(net::detail::decode_peer_frame_exact(propose));
  CHECK(std::get<net::peer_propose>(*net::detail::decode_peer_frame_exact(propose)).data == R"({"a":1})");
  CHECK_FALSE(net::detail::decode_peer_frame_general(propose));
  // An object the direct reader cannot take whole refuses the frame.
  for (const char* bad : {R"({"type":"raft","msgs":[{"t":0,"f":"n1","o":"n2","tm":2,"e":[{"t":2,"i":5,"y":0,"d":{"a":1 }}]}]})",
                          R"({"type":"raft","msgs":[{"t":0,"f":"n1","o":"n2","tm":2,"e":[{"t":2,"i":5,"y":0,"d":{"a":}}]}]})",
                          "{\"type\":\"propose\",\"rid\":3,\"data\":{\"a\":\"\xff\"},\"conf\":false}",
                          R"({"type":"propose","rid":3,"data":{"a":1)"}) {
    CAPTURE(std::string(bad));
    CHECK_FALSE(net::decode_peer_frame(bad));
  }
}

TEST_CASE("hello frames: json_entries announced, and absent in a hello that does not say it") {
  for (const bool j : {false, true}) {
    const net::peer_hello h{"0123456789abcdef", j};
    const auto text = net::encode_peer_frame(h);
    CHECK(text == (j ? R"({"type":"hello","incarnation":"0123456789abcdef","json_entries":true})"
                     : R"({"type":"hello","incarnation":"0123456789abcdef"})"));
    CHECK(net::decode_peer_frame(text) == net::peer_frame{h});
  }
}

TEST_CASE("raft frames and proposals with JSON data: the direct reader takes back exactly what was written") {
  rng r{0x51ed2701};
  for (int n = 0; n < 5000; ++n) {
    std::vector<raft::message> msgs(r.below(4));
    for (auto& m : msgs) {
      m = r.message();
      for (auto& e : m.entries)
        if (r.below(3)) e.data = command_json(r);
    }
    const std::string text = net::encode_peer_frame(net::peer_raft{msgs}, true);
    CAPTURE(text);
    const auto exact = net::detail::decode_peer_frame_exact(text);
    REQUIRE(exact);
    CHECK(std::get<net::peer_raft>(*exact).msgs == msgs);
    same_as_parser(text);
    const net::peer_propose p{r.u64(), r.below(4) ? command_json(r) : r.bytes(20, true), r.below(2) == 1};
    const std::string pt = net::encode_peer_frame(p, true);
    CAPTURE(pt);
    REQUIRE(net::detail::decode_peer_frame_exact(pt) == net::peer_frame{p});
    same_as_parser(pt);
  }
  // Every byte changed, dropped or doubled in turn.
  rng q{5};
  raft::message m = q.message();
  m.entries = {{1, 2, raft::entry_type::normal, command_json(q)}, {1, 3, raft::entry_type::normal, command_json(q)}};
  mutations_same_as_parser(net::encode_peer_frame(net::peer_raft{{m}}, true), std::string_view("09\"\\,{}[]u \x01\xff" "e:", 16));
  mutations_same_as_parser(net::encode_peer_frame(net::peer_propose{4, command_json(q), false}, true),
                           std::string_view("09\"\\,{}[]u \x01\xff" "e:", 16));
}
