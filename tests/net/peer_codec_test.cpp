// The peer protocol's Raft frames: written directly as text, they must read
// back as what was sent, and match the object the codec used to serialize
// (so nodes of either build parse each other's frames).
#include <doctest/doctest.h>

#include <boost/json.hpp>

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
        else eo["d"] = e.data;
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
