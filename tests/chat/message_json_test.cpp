#include "chat/message_json.h"

#include <doctest/doctest.h>

#include <limits>
#include <random>

#include <boost/json.hpp>

namespace json = boost::json;
using qc::chat::message;

namespace {

std::string reference(const message& m) {
  return json::serialize(
      json::object{{"id", m.id}, {"from", m.from}, {"to", m.to}, {"body", m.body}, {"ts", m.ts}, {"read", m.read}});
}

}  // namespace

TEST_CASE("message_json writes what boost::json::serialize writes, escapes included") {
  std::string every_control;
  for (int c = 0; c < 0x20; ++c) every_control += static_cast<char>(c);
  const std::vector<std::string> bodies = {
      "", "hi", "quote \" and backslash \\ and slash /", every_control, "tab\tnew\nline\r", "\x7f del",
      "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", std::string(4096, 'x'), "\"\"\\\\", "end\\"};
  for (const auto& b : bodies) {
    const message m{18446744073709551615ull, "al.ice-1", "b_b", b, -1, true};
    CHECK(qc::chat::message_json(m) == reference(m));
    const message z{0, "a", "a", b, 1732400000123, false};
    CHECK(qc::chat::message_json(z) == reference(z));
  }
}

TEST_CASE("message_json: the widest ids and timestamps, and names that need escapes") {
  const std::int64_t min = std::numeric_limits<std::int64_t>::min(), max = std::numeric_limits<std::int64_t>::max();
  for (const std::int64_t ts : {min, max, std::int64_t{0}}) {
    const message m{std::numeric_limits<std::uint64_t>::max(), "a", "b", "plain", ts, ts > 0};
    CHECK(qc::chat::message_json(m) == reference(m));
  }
  const message q{5, "qu\"ote", "back\\slash", "", 1, false};
  CHECK(qc::chat::message_json(q) == reference(q));
  std::string out = "[";  // appends after what is there
  qc::chat::append_message_json(out, q);
  qc::chat::append_message_json(out, message{6, "x", "y", "z", 2, true});
  CHECK(out == "[" + reference(q) + reference(message{6, "x", "y", "z", 2, true}));
}

TEST_CASE("message_json round-trips random bodies of ASCII and control bytes") {
  std::mt19937 rng(7);
  for (int n = 0; n < 2000; ++n) {
    std::string body(rng() % 40, ' ');
    for (auto& c : body) c = static_cast<char>(rng() % 0x80);
    const message m{static_cast<std::uint64_t>(rng()), "u", "v", body, static_cast<std::int64_t>(rng()), n % 2 == 0};
    const std::string text = qc::chat::message_json(m);
    REQUIRE(text == reference(m));
    CHECK(json::parse(text).at("body").as_string() == body);
  }
}

TEST_CASE("message_json: long bodies with rare escapes at every offset (the 8-byte scan)") {
  std::mt19937 rng(11);
  const char specials[] = {'"', '\\', '\n', '\x01', '\x1f', ' ', '\x7f'};
  for (int n = 0; n < 3000; ++n) {
    std::string body(rng() % 200, 'a');
    for (auto& c : body) c = static_cast<char>('!' + rng() % 90);
    if (!body.empty() && n % 3) body[rng() % body.size()] = specials[rng() % sizeof specials];
    if (n % 5 == 0) body += "\xc3\xa9\xf0\x9f\x98\x80";  // UTF-8 passes through
    const message m{1, "u", "v", body, 2, false};
    REQUIRE(qc::chat::message_json(m) == reference(m));
  }
}

TEST_CASE("messages_writer lists rows in the order given, or reversed") {
  qc::chat::messages_writer w;
  const std::vector<message> rows = {{3, "a", "b", "c", 7, false}, {2, "b", "a", "b", 6, true}, {1, "a", "b", "a", 5, false}};
  for (const auto& m : rows) w.add(m);
  CHECK(w.reply("{\"ok\":true", true) == R"({"ok":true,"messages":[)" + reference(rows[2]) + "," + reference(rows[1]) + "," + reference(rows[0]) + "]}");
  qc::chat::messages_writer e;
  CHECK(e.reply("{\"ok\":true", true) == R"({"ok":true,"messages":[]})");
}

TEST_CASE("messages_writer wraps the list in the order given") {
  CHECK(qc::chat::messages_writer{}.reply("{\"id\":7,\"ok\":true", false) == R"({"id":7,"ok":true,"messages":[]})");
  const std::vector<message> two = {{1, "a", "b", "x", 5, false}, {2, "b", "a", "y", 6, true}};
  qc::chat::messages_writer w;
  for (const auto& m : two) w.add(m);
  CHECK(w.reply("{\"ok\":true", false) == R"({"ok":true,"messages":[)" + reference(two[0]) + "," + reference(two[1]) + "]}");
}
