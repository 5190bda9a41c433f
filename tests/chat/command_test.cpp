// The log's command encoding: encode_command writes what the boost::json
// object it replaced serialized, byte for byte (log entries written by
// earlier versions and by this one must stay one format), and
// decode_command reads back every field.
#include "chat/command.h"

#include <doctest/doctest.h>

#include <limits>
#include <random>

#include <boost/json.hpp>

#include "common/overloaded.h"

namespace json = boost::json;
using namespace qc::chat;

namespace {

json::array ids_json(const std::vector<std::uint64_t>& ids) {
  json::array a;
  for (auto i : ids) a.push_back(i);
  return a;
}

/// The encoding as a boost::json object, the way the log's format was first written.
std::string reference(const command& c) {
  json::object o;
  std::visit(qc::overloaded{
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

/// A random string of `n` bytes: mostly letters, with quotes, backslashes,
/// control bytes and UTF-8 at random places.
std::string random_text(std::mt19937_64& rng, std::size_t n) {
  static const std::vector<std::string> pieces = {"a", "Z", "0", " ", "\"", "\\", "\n", "\t", "\x01", "\x1f",
                                                  "\x7f", "/", "caf\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80"};
  std::string s;
  while (s.size() < n) s += pieces[rng() % pieces.size()];
  return s;
}

command random_command(std::mt19937_64& rng) {
  const auto text = [&](std::size_t max) { return random_text(rng, rng() % (max + 1)); };
  const auto i64 = [&] {
    switch (rng() % 4) {
      case 0: return std::int64_t{0};
      case 1: return std::numeric_limits<std::int64_t>::min();
      case 2: return std::numeric_limits<std::int64_t>::max();
      default: return static_cast<std::int64_t>(rng());
    }
  };
  std::vector<std::uint64_t> ids(rng() % 6);
  for (auto& id : ids) id = rng() % 3 ? rng() % 100000 : rng();
  switch (rng() % 8) {
    case 0: return cmd_create_account{text(32), text(120), i64()};
    case 1:
      if (rng() % 2) return cmd_create_session{text(32), text(64), i64(), i64()};
      return cmd_create_session{text(32), text(64), i64(), i64(), text(100), text(100)};
    case 2: return cmd_drop_session{text(32), text(64)};
    case 3: return cmd_send{text(32), text(32), text(4096), rng() % 2 ? std::optional(text(64)) : std::nullopt, i64()};
    case 4: return cmd_mark_read{text(32), ids, rng() % 2 ? std::optional(text(32)) : std::nullopt};
    case 5: return cmd_delete_messages{text(32), ids};
    case 6: return cmd_delete_account{text(32)};
    default: return cmd_touch_session{text(32), text(64), i64()};
  }
}

}  // namespace

TEST_CASE("encode_command writes what the boost::json object serialized, for every command, and decodes back") {
  std::mt19937_64 rng(20261203);
  for (int k = 0; k < 20000; ++k) {
    const command c = random_command(rng);
    const std::string text = encode_command(c);
    CAPTURE(text);
    REQUIRE(text == reference(c));
    const auto back = decode_command(text);
    REQUIRE(back.has_value());
    CHECK(encode_command(*back) == text);
  }
}

TEST_CASE("encode_command: empty lists, empty strings and the optional fields left out") {
  CHECK(encode_command(cmd_delete_messages{"a", {}}) == R"({"t":"delete_messages","user":"a","ids":[]})");
  CHECK(encode_command(cmd_send{"", "", "", std::nullopt, 0}) == R"({"t":"send","from":"","to":"","body":"","ts":0})");
  CHECK(encode_command(cmd_create_session{"u", "h", 5}) == R"({"t":"create_session","user":"u","token_hash":"h","ts":5})");
  CHECK(encode_command(cmd_mark_read{"u", {1, 18446744073709551615ull}, std::nullopt}) ==
        R"({"t":"mark_read","user":"u","ids":[1,18446744073709551615]})");
}

namespace {

/// What a decoder made of `text`, as text: the command re-encoded, or "none".
std::string decoded(const std::optional<command>& c) { return c ? encode_command(*c) : std::string("none"); }

/// Both ways of reading a log entry agree on `text`.
void same_both_ways(const std::string& text) {
  CAPTURE(text);
  CHECK(decoded(decode_command(text)) == decoded(decode_command_tree(text)));
}

}  // namespace

TEST_CASE("decode_command: the send read without a tree is the send the full parse reads, on the edges of its shape") {
  // The shape it reads, with and without a nonce, and the largest ts it takes.
  same_both_ways(R"({"t":"send","from":"a","to":"b","body":"hello there","ts":1796504397379})");
  same_both_ways(R"({"t":"send","from":"a","to":"b","body":"x","nonce":"n-1","ts":0})");
  same_both_ways(R"({"t":"send","from":"","to":"","body":"","ts":-999999999999999999})");
  same_both_ways(R"({"t":"send","from":"a","to":"b","body":"~ !#$%&'()*+,-./:;<=>?@[]^_`{|}","ts":999999999999999999})");
  CHECK(decoded(decode_command(R"({"t":"send","from":"a","to":"b","body":"x","ts":12})")) ==
        R"({"t":"send","from":"a","to":"b","body":"x","ts":12})");
  // Valid UTF-8, read alike both ways; and left to the full parse: escapes,
  // control bytes, malformed UTF-8, numbers past 18 digits or written
  // otherwise, other key orders, whitespace, trailing text.
  for (const char* text : {
           R"({"t":"send","from":"a","to":"b","body":"say \"hi\"","ts":1})",
           R"({"t":"send","from":"a","to":"b","body":"back\\slash","ts":1})",
           R"({"t":"send","from":"a","to":"b","body":"caf\u00e9","ts":1})",
           "{\"t\":\"send\",\"from\":\"a\",\"to\":\"b\",\"body\":\"caf\xc3\xa9\",\"ts\":1}",
           "{\"t\":\"send\",\"from\":\"a\",\"to\":\"b\",\"body\":\"bad \xc3\",\"ts\":1}",
           "{\"t\":\"send\",\"from\":\"a\",\"to\":\"b\",\"body\":\"lone byte \x85 in eight\",\"ts\":1}",
           "{\"t\":\"send\",\"from\":\"a\",\"to\":\"b\",\"body\":\"euro \xe2\x82\xac sign\",\"ts\":1}",
           "{\"t\":\"send\",\"from\":\"a\",\"to\":\"b\",\"body\":\"tab\there\",\"ts\":1}",
           "{\"t\":\"send\",\"from\":\"a\",\"to\":\"b\",\"body\":\"del\x7f\",\"ts\":1}",
           R"({"t":"send","from":"a","to":"b","body":"x","ts":1000000000000000000})",
           R"({"t":"send","from":"a","to":"b","body":"x","ts":9223372036854775807})",
           R"({"t":"send","from":"a","to":"b","body":"x","ts":9223372036854775808})",
           R"({"t":"send","from":"a","to":"b","body":"x","ts":-9223372036854775808})",
           R"({"t":"send","from":"a","to":"b","body":"x","ts":18446744073709551616})",
           R"({"t":"send","from":"a","to":"b","body":"x","ts":99999999999999999999})",
           R"({"t":"send","from":"a","to":"b","body":"x","ts":-0})",
           R"({"t":"send","from":"a","to":"b","body":"x","ts":012})",
           R"({"t":"send","from":"a","to":"b","body":"x","ts":1.5})",
           R"({"t":"send","from":"a","to":"b","body":"x","ts":1e3})",
           R"({"t":"send","from":"a","to":"b","body":"x","ts":-})",
           R"({"t":"send","from":"a","to":"b","body":"x","ts":"1"})",
           R"({"t":"send","from":"a","to":"b","body":"x","ts":1} )",
           R"({"t":"send","from":"a","to":"b","body":"x","ts":1}x)",
           R"({"t":"send","from":"a","to":"b","body":"x","ts":1,"ts":2})",
           R"({"t":"send","from":"a","to":"b","body":"x","nonce":"n","nonce":"m","ts":1})",
           R"({"t":"send","to":"b","from":"a","body":"x","ts":1})",
           R"({"t":"send","from":"a","to":"b","body":"x","ts":1,"nonce":"n"})",
           R"({"t":"send", "from":"a","to":"b","body":"x","ts":1})",
           R"({"t":"send","from":"a","to":"b","body":"x"})",
           R"({"t":"send","from":"a","to":"b","body":"x","ts":1)",
           R"({"t":"send","from":"a","to":"b","body":"x)",
           R"({"t":"sendx","from":"a","to":"b","body":"x","ts":1})",
       })
    same_both_ways(text);
}

TEST_CASE("decode_command: random sends and random damage to them read the same both ways") {
  std::mt19937_64 rng(20261205);
  const std::string alphabet = "ab09 \"\\-}{,:.eE\x7f\x01\x85\xc3\xa9";
  auto word = [&](std::size_t n) {
    std::string s(rng() % (n + 1), 'a');
    for (auto& ch : s) ch = static_cast<char>('!' + rng() % 94);  // printable ASCII, quotes and backslashes too
    return s;
  };
  for (int k = 0; k < 20000; ++k) {
    cmd_send c{word(12), word(12), word(300), rng() % 3 ? std::nullopt : std::optional(word(20)),
               static_cast<std::int64_t>(rng() % 4 ? rng() % 2000000000000000 : rng())};
    if (rng() % 2 && c.ts != std::numeric_limits<std::int64_t>::min()) c.ts = -c.ts;
    std::string text = encode_command(c);
    same_both_ways(text);
    for (int d = rng() % 3; d >= 0; --d) {  // overwrite, insert or erase a byte
      const auto at = rng() % text.size();
      const char ch = alphabet[rng() % alphabet.size()];
      switch (rng() % 3) {
        case 0: text[at] = ch; break;
        case 1: text.insert(text.begin() + static_cast<std::ptrdiff_t>(at), ch); break;
        default: text.erase(at, 1); break;
      }
    }
    same_both_ways(text);
  }
}
