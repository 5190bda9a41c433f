// Where a compactly written JSON value ends (common/json_span.h): the peer
// codec's writer and reader both rely on it to carry a command's JSON as a
// value inside a frame and take the same bytes back.
#include <doctest/doctest.h>

#include <boost/json.hpp>

#include <string>
#include <string_view>

#include "common/json_span.h"
#include "common/utf8_valid.h"
#include "common/xorshift.h"

namespace json = boost::json;

namespace {

/// How many bytes of `s` the value at its start takes; -1 if none.
long span(std::string_view s) {
  const char* e = qc::common::compact_json_end(s.data(), s.data() + s.size());
  return e ? e - s.data() : -1;
}

/// A random JSON value, as boost::json builds it (deterministic).
struct gen : qc::test::xorshift {
  std::string text() {
    static const char* pieces[] = {"a", "op", "\"", "\\", "\n", "\x01", "\x1f", "\x7f", "/", "caf\xc3\xa9",
                                   "\xf0\x9f\x92\xac", "{", "}", "[", "]", ",", ":", " ", "\\u0041"};
    std::string s;
    for (auto n = below(8); n > 0; --n) s += pieces[below(std::size(pieces))];
    return s;
  }
  json::value value(int depth) {
    switch (below(depth > 3 ? 6 : 8)) {
      case 0: return json::value(text());
      case 1: return json::value(static_cast<std::int64_t>(next()));
      case 2: return json::value(next());
      case 3: return json::value(static_cast<double>(static_cast<std::int64_t>(next())) / 1024.0);
      case 4: return json::value(below(2) == 1);
      case 5: return json::value(nullptr);
      case 6: {
        json::array a;
        for (auto n = below(4); n > 0; --n) a.push_back(value(depth + 1));
        return a;
      }
      default: {
        json::object o;
        for (auto n = below(4); n > 0; --n) o[text()] = value(depth + 1);
        return o;
      }
    }
  }
};

}  // namespace

TEST_CASE("compact JSON: the end of every value boost::json writes, and nothing past it") {
  for (const char* s : {R"({})", R"([])", R"({"a":1})", R"({"t":"send","to":"b","body":"x \"}\" ] \\","ts":17})",
                        R"([1,-2,3.5,-0.25e-3,1E+9,true,false,null,"s",{"k":[{}]}])", R"("a\u00e9\/\b\f\n\r\t")", "0",
                        "-0", "123", "true", "null"}) {
    CAPTURE(s);
    CHECK(span(s) == static_cast<long>(std::strlen(s)));
    // Whatever follows the value is not part of it.
    CHECK(span(std::string(s) + R"(,"x":1}]})") == static_cast<long>(std::strlen(s)));
  }
  gen g{0x2545f4914f6cdd1dull};
  for (int n = 0; n < 20000; ++n) {
    const std::string s = json::serialize(g.value(0));
    CAPTURE(s);
    REQUIRE(span(s) == static_cast<long>(s.size()));
    REQUIRE(span(s + "}") == static_cast<long>(s.size()));
  }
}

TEST_CASE("compact JSON: what is not one value written compactly is refused") {
  for (const char* s : {
           "", " {}", "{ }", R"({"a": 1})", R"({"a":1 })", "{\"a\":1,\n\"b\":2}",  // whitespace
           R"({"a":1,})", R"({,})", R"({"a"})", R"({"a":})", R"({a:1})", R"({1:1})", R"([1,])", R"([,1])",
           R"({"a":1]})", R"([1})",                                     // brackets that do not match
           R"({"a":"x)", R"({"a":1)", R"([1,2)", R"({"a":"\)", R"("\u12)",  // cut short
           R"("\x")", R"("\U0041")", R"("\u00g0")",                     // escapes JSON has not
           "\"a\x01\"", "\"tab\there\"",                                 // raw control bytes
           "01", "-", "1.", ".5", "1e", "1e+", "+1", "0x1", "--1", "tru", "nul", "True", "NaN"}) {
    CAPTURE(std::string(s));
    // A value may still be found at the start (`0` of "01"); never the whole text.
    CHECK(span(s) != static_cast<long>(std::strlen(s)));
  }
  // Nesting beyond 32 levels.
  CHECK(span(std::string(32, '[') + std::string(32, ']')) == 64);
  CHECK(span(std::string(33, '[') + std::string(33, ']')) == -1);
  CHECK(span(std::string(100000, '[')) == -1);
}

TEST_CASE("compact JSON: every text it takes whole, boost::json parses (its grammar is JSON's)") {
  // (Boost.JSON also refuses numbers it cannot hold, such as 1e99999:
  // valid JSON, and no concern of the grammar's.)
  const auto parses = [](const std::string& m) {
    json::error_code ec;
    (void)json::parse(m, ec);
    return !ec || ec == json::error::exponent_overflow;
  };
  gen g{99};
  const std::string_view subst("{}[]\",:\\ 0-.etu\x01", 17);
  for (int n = 0; n < 300; ++n) {
    const std::string s = json::serialize(g.value(0));
    for (std::size_t i = 0; i < s.size(); ++i) {
      for (const std::string& m : {s.substr(0, i) + s.substr(i + 1), s.substr(0, i + 1) + s.substr(i)}) {
        if (span(m) != static_cast<long>(m.size()) || !qc::common::valid_utf8(m)) continue;
        CAPTURE(m);
        REQUIRE(parses(m));
      }
      for (char c : subst) {
        std::string m = s;
        m[i] = c;
        if (span(m) != static_cast<long>(m.size()) || !qc::common::valid_utf8(m)) continue;
        CAPTURE(m);
        REQUIRE(parses(m));
      }
    }
  }
}
