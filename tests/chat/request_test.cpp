// Request decoding, reply shapes, passwords and tokens.
#include <doctest/doctest.h>

#include <variant>

#include <boost/json.hpp>

#include "chat/password.h"
#include "chat/request.h"

using namespace qc::chat;

namespace {
std::string code_of(std::string_view frame) {
  auto r = decode_request(frame, {});
  if (auto* e = std::get_if<request_error>(&r)) return e->code;
  return "ok";
}
}  // namespace

TEST_CASE("validation maps bad input onto the contract's codes") {
  struct row { const char* frame; const char* code; };
  const row rows[] = {
      {"", "bad_request"}, {"nope", "bad_request"}, {"[]", "bad_request"}, {"{}", "bad_request"},
      {R"({"op":7})", "unknown_op"}, {R"({"op":"fly"})", "unknown_op"},
      {R"({"op":"hello"})", "ok"},
      {R"({"op":"create_account","user":"a b","password":"x"})", "bad_request"},
      {R"({"op":"create_account","user":"ok_name.-1","password":""})", "bad_request"},
      {R"({"op":"create_account","user":"ok","password":"x"})", "ok"},
      {R"({"op":"history","with":"bob","limit":0})", "bad_request"},
      {R"({"op":"history","with":"bob","limit":1000})", "ok"},
      {R"({"op":"history","with":"bob","limit":1.5})", "bad_request"},
      {R"({"op":"history","with":"bob","limit":true})", "bad_request"},
      {R"({"op":"history","with":"bob","before":-3})", "bad_request"},
      {R"({"op":"history","with":"bob","consistency":"local"})", "ok"},
      {R"({"op":"history","with":"bob","consistency":"weak"})", "bad_request"},
      {R"({"op":"mark_read"})", "bad_request"},
      {R"({"op":"mark_read","ids":[1],"with":"x"})", "bad_request"},
      {R"({"op":"mark_read","ids":[1,"2"]})", "bad_request"},
      {R"({"op":"send","to":"bob","body":"x","nonce":"01234567890123456789012345678901234567890123456789012345678901234"})", "bad_request"},
      {R"({"op":"list_accounts","pattern":"a*b?"})", "ok"},
      {R"({"op":"list_accounts","pattern":"a[b]"})", "bad_request"},
      {R"({"op":"admin.add_node","admin_token":"t","id":"n9","address":"nohost"})", "bad_request"},
      {R"({"op":"admin.net_filter","admin_token":"t","drop_from":["n2","n3"]})", "ok"},
      {R"({"op":"admin.net_filter","admin_token":"t","drop_from":[]})", "ok"},
      {R"({"op":"admin.net_filter","admin_token":"t"})", "bad_request"},
      {R"({"op":"admin.net_filter","admin_token":"t","drop_from":"n2"})", "bad_request"},
      {R"({"op":"admin.net_filter","admin_token":"t","drop_from":[2]})", "bad_request"},
      {R"({"op":"admin.net_filter","admin_token":"t","drop_from":[""]})", "bad_request"},
      {R"({"op":"admin.net_filter","drop_from":[]})", "bad_request"},
      {R"({"op":"admin.pause","admin_token":"t","seconds":5})", "ok"},
      {R"({"op":"admin.pause","admin_token":"t","seconds":0.5})", "ok"},
      {R"({"op":"admin.pause","admin_token":"t","seconds":0})", "ok"},
      {R"({"op":"admin.pause","admin_token":"t","seconds":601})", "bad_request"},
      {R"({"op":"admin.pause","admin_token":"t","seconds":-1})", "bad_request"},
      {R"({"op":"admin.pause","admin_token":"t","seconds":"5"})", "bad_request"},
      {R"({"op":"admin.pause","admin_token":"t"})", "bad_request"},
      {R"({"op":"admin.pause","seconds":5})", "bad_request"},
      {R"({"op":"admin.disk_stall","admin_token":"t","delay_ms":500})", "ok"},
      {R"({"op":"admin.disk_stall","admin_token":"t","delay_ms":0})", "ok"},
      {R"({"op":"admin.disk_stall","admin_token":"t"})", "bad_request"},
      {R"({"op":"admin.disk_stall","admin_token":"t","delay_ms":-1})", "bad_request"},
      {R"({"op":"admin.disk_stall","admin_token":"t","delay_ms":60001})", "bad_request"},
      {R"({"op":"admin.disk_stall","admin_token":"t","delay_ms":"5"})", "bad_request"},
      {R"({"op":"admin.disk_stall","delay_ms":5})", "bad_request"},
  };
  for (const auto& r : rows) CHECK_MESSAGE(code_of(r.frame) == r.code, r.frame);
  CHECK(code_of(std::string(100, '[') + std::string(100, ']')) == "bad_request");
  CHECK(code_of(std::string("{\"op\":\"send\",\"to\":\"b\",\"body\":\"") + std::string(4097, 'x') + "\"}") == "too_large");
}

TEST_CASE("an unknown op's name is shown cut short, never inside a character") {
  // The fuzzer's find: a two-byte character straddling the 64-byte cut.
  // Shifted across the cut, characters of two, three and four bytes each
  // leave the reply valid JSON, quoting a prefix of the name.
  for (const char* ch : {"\xd0\x8b", "\xe2\x82\xac", "\xf0\x9f\x98\x80"}) {
    for (std::size_t lead = 58; lead <= 66; ++lead) {
      const std::string name = "admin." + std::string(lead - 6, '{') + ch + "ige";
      CAPTURE(lead);
      auto r = decode_request(R"({"op":")" + name + R"(","admin_token":""})", {});
      auto& e = std::get<request_error>(r);
      REQUIRE(e.code == "unknown_op");
      boost::json::error_code ec;
      const auto v = boost::json::parse(reply_error(e.id, e.has_id, e.code, e.message), ec);
      REQUIRE_FALSE(ec);
      const std::string message(v.at("error").at("message").as_string());
      const auto shown = message.substr(std::string("unknown op '").size());
      CHECK(name.starts_with(shown.substr(0, shown.size() - 1)));
      CHECK(shown.size() - 1 <= 64);
    }
  }
}

TEST_CASE("id is echoed verbatim, absent id stays absent") {
  auto r = decode_request(R"({"op":"fly","id":{"k":[1,2]}})", {});
  auto& e = std::get<request_error>(r);
  CHECK(e.has_id);
  CHECK(reply_error(e.id, e.has_id, e.code, "m") == R"({"id":{"k":[1,2]},"ok":false,"error":{"code":"unknown_op","message":"m"}})");
  CHECK(reply_ok(nullptr, false, R"({"user":"bob"})") == R"({"ok":true,"user":"bob"})");
  CHECK(reply_ok(7, true, "{}") == R"({"id":7,"ok":true})");
}

TEST_CASE("an id with a number too large for a double is refused, and the reply is still JSON") {
  // Found by the request fuzzer: boost::json reads 44444E444444441 as
  // infinity and would write it back as `Infinity`.
  for (const char* f : {R"({"admin_tokenop":"hnllo","id":44444E444444441})", R"({"op":"hello","id":{"k":[1,-1e999]}})"}) {
    auto r = decode_request(f, {});
    auto* e = std::get_if<request_error>(&r);
    REQUIRE(e);
    CHECK(e->code == "bad_request");
    const auto text = reply_error(e->id, e->has_id, e->code, e->message);
    boost::json::error_code ec;
    (void)boost::json::parse(text, ec);
    CHECK_MESSAGE(!ec, text);
    CHECK(text.rfind(R"({"id":null,"ok":false)", 0) == 0);
  }
  auto ok = decode_request(R"({"op":"hello","id":1.5e300})", {});
  CHECK(std::holds_alternative<request>(ok));
}

TEST_CASE("session tokens are random; only their hash is kept") {
  auto t = new_token();
  CHECK(t.size() == 64);
  CHECK(t != new_token());
  CHECK(token_hash(t).size() == 64);
  CHECK(constant_time_equal("abc", "abc"));
  CHECK(!constant_time_equal("abc", "abd"));
}

TEST_CASE("admin.pause carries its seconds as milliseconds") {
  auto r = decode_request(R"({"op":"admin.pause","admin_token":"t","seconds":2.5})", {});
  auto* rq = std::get_if<request>(&r);
  REQUIRE(rq);
  CHECK(rq->kind == op::admin_pause);
  CHECK(rq->pause_ms == 2500);
  CHECK(std::string(to_string(op::admin_pause)) == "admin.pause");
  CHECK_FALSE(needs_login(op::admin_pause));
  CHECK_FALSE(is_write(op::admin_pause));
}
