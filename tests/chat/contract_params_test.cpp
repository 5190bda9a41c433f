// Every parameter rule of docs/PROTOCOL.md's ops, row by row: names, passwords,
// limits and their defaults and maxima, `before`, nonces, bodies, `ids`,
// mark_read's either-or, and which ops need a login or go through the log.
#include <doctest/doctest.h>

#include <variant>

#include "chat/request.h"

using namespace qc::chat;

namespace {

std::variant<request, request_error> dec(const std::string& frame) { return decode_request(frame, {}); }

std::string code_of(const std::string& frame) {
  auto r = dec(frame);
  if (auto* e = std::get_if<request_error>(&r)) return e->code;
  return "ok";
}

request ok(const std::string& frame) {
  auto r = dec(frame);
  INFO(frame);
  REQUIRE(std::holds_alternative<request>(r));
  return std::get<request>(r);
}

std::string q(const std::string& s) { return "\"" + s + "\""; }

}  // namespace

TEST_CASE("create_account / login: user is 1-32 chars of [A-Za-z0-9_.-]; password at least 1 char") {
  struct row {
    std::string user;
    bool valid;
  };
  const row users[] = {
      {"a", true},
      {std::string(32, 'z'), true},
      {"Az09_.-", true},
      {"", false},
      {std::string(33, 'z'), false},
      {"with space", false},
      {"slash/", false},
      {"at@", false},
      {"star*", false},
      {"caf\xc3\xa9", false},  // é: not in the ASCII class
      {"tab\\t", false},
  };
  for (const auto& r : users)
    for (const char* op : {"create_account", "login"}) {
      CAPTURE(r.user);
      CAPTURE(std::string(op));
      CHECK(code_of(R"({"op":")" + std::string(op) + R"(","user":)" + q(r.user) + R"(,"password":"p"})") ==
            (r.valid ? "ok" : "bad_request"));
      CHECK(valid_user_name(r.user) == r.valid);
    }
  for (const char* op : {"create_account", "login"}) {
    const std::string pre = R"({"op":")" + std::string(op) + R"(","user":"alice")";
    CHECK(code_of(pre + R"(,"password":"x"})") == "ok");  // one char is enough
    CHECK(code_of(pre + R"(,"password":""})") == "bad_request");
    CHECK(code_of(pre + "}") == "bad_request");  // missing
    CHECK(code_of(pre + R"(,"password":7})") == "bad_request");
    CHECK(code_of(R"({"op":")" + std::string(op) + R"(","password":"x"})") == "bad_request");
    CHECK(code_of(R"({"op":")" + std::string(op) + R"(","user":5,"password":"x"})") == "bad_request");
  }
  auto r = ok(R"({"op":"create_account","user":"alice","password":"p \u00e9 \ud83d\ude00"})");
  CHECK(r.user == "alice");
  CHECK(r.password == "p \xc3\xa9 \xf0\x9f\x98\x80");  // any characters in a password
}

TEST_CASE("limits: default 50, 1..1000, integers only; list_accounts pattern defaults to *") {
  for (const char* base : {R"({"op":"history","with":"bob")", R"({"op":"unread")", R"({"op":"list_accounts")"}) {
    const std::string b = base;
    CAPTURE(b);
    CHECK(ok(b + "}").limit == 50);
    CHECK(ok(b + R"(,"limit":1})").limit == 1);
    CHECK(ok(b + R"(,"limit":1000})").limit == 1000);
    CHECK(ok(b + R"(,"limit":null})").limit == 50);
    for (const char* bad : {"0", "1001", "-1", "2.5", "\"10\"", "true", "[]", "18446744073709551615"})
      CHECK_MESSAGE(code_of(b + R"(,"limit":)" + bad + "}") == "bad_request", bad);
  }
  auto la = ok(R"({"op":"list_accounts"})");
  CHECK(la.pattern == "*");
  CHECK(!la.after);
  CHECK(ok(R"({"op":"list_accounts","pattern":"a?c*","after":"bob"})").after == std::optional<std::string>("bob"));
  for (const char* bad : {R"("")", R"("a[bc]")", R"("a b")", R"(5)", R"("%")"})
    CHECK_MESSAGE(code_of(std::string(R"({"op":"list_accounts","pattern":)") + bad + "}") == "bad_request", bad);
  CHECK(code_of(R"({"op":"list_accounts","after":"not a name"})") == "bad_request");
}

TEST_CASE("history: `with` required; `before` a positive message id") {
  CHECK(code_of(R"({"op":"history"})") == "bad_request");
  CHECK(code_of(R"({"op":"history","with":""})") == "bad_request");
  CHECK(ok(R"({"op":"history","with":"bob"})").before == std::nullopt);
  CHECK(ok(R"({"op":"history","with":"bob","before":42})").before == std::optional<std::uint64_t>(42));
  for (const char* bad : {"0", "-5", "1.5", "\"42\""})
    CHECK_MESSAGE(code_of(std::string(R"({"op":"history","with":"bob","before":)") + bad + "}") == "bad_request", bad);
}

TEST_CASE("send: `to` a user name, body up to the 4 KiB limit, nonce optional and at most 64 chars") {
  auto r = ok(R"({"op":"send","to":"bob","body":"hi"})");
  CHECK(r.to == "bob");
  CHECK(!r.nonce);
  CHECK(ok(R"({"op":"send","to":"bob","body":""})").body.empty());
  CHECK(ok(R"({"op":"send","to":"bob","body":"x","nonce":")" + std::string(64, 'n') + "\"}").nonce ==
        std::optional<std::string>(std::string(64, 'n')));
  CHECK(code_of(R"({"op":"send","to":"bob","body":"x","nonce":")" + std::string(65, 'n') + "\"}") == "bad_request");
  // The empty string is a string of at most 64 chars: a nonce like any other.
  CHECK(ok(R"({"op":"send","to":"bob","body":"x","nonce":""})").nonce == std::optional<std::string>(""));
  CHECK(code_of(R"({"op":"send","to":"bob","body":"x","nonce":7})") == "bad_request");
  CHECK(code_of(R"({"op":"send","to":"bob","body":")" + std::string(4096, 'b') + "\"}") == "ok");
  CHECK(code_of(R"({"op":"send","to":"bob","body":")" + std::string(4097, 'b') + "\"}") == "too_large");
  CHECK(code_of(R"({"op":"send","body":"x"})") == "bad_request");
  CHECK(code_of(R"({"op":"send","to":"b b","body":"x"})") == "bad_request");
  CHECK(code_of(R"({"op":"send","to":"bob"})") == "bad_request");
  CHECK(code_of(R"({"op":"send","to":"bob","body":{"a":1}})") == "bad_request");
}

TEST_CASE("mark_read takes ids or with (exactly one); delete_messages takes ids of positive integers") {
  CHECK(ok(R"({"op":"mark_read","ids":[3,1,2]})").ids == std::vector<std::uint64_t>{3, 1, 2});
  CHECK(ok(R"({"op":"mark_read","with":"bob"})").with == std::optional<std::string>("bob"));
  CHECK(ok(R"({"op":"mark_read","ids":[]})").ids.empty());
  CHECK(code_of(R"({"op":"mark_read"})") == "bad_request");
  CHECK(code_of(R"({"op":"mark_read","ids":[1],"with":"bob"})") == "bad_request");
  CHECK(code_of(R"({"op":"mark_read","with":"not valid"})") == "bad_request");
  CHECK(ok(R"({"op":"delete_messages","ids":[7]})").ids == std::vector<std::uint64_t>{7});
  for (const char* bad : {R"({"op":"delete_messages"})", R"({"op":"delete_messages","ids":7})",
                          R"({"op":"delete_messages","ids":[0]})", R"({"op":"delete_messages","ids":[-1]})",
                          R"({"op":"delete_messages","ids":[1.5]})", R"({"op":"delete_messages","ids":["1"]})",
                          R"({"op":"mark_read","ids":[null]})"})
    CHECK_MESSAGE(code_of(bad) == "bad_request", bad);
}

TEST_CASE("delete_account needs the password; resume needs a token; consistency is linearizable by default") {
  CHECK(ok(R"({"op":"delete_account","password":"pw"})").password == "pw");
  CHECK(code_of(R"({"op":"delete_account"})") == "bad_request");
  CHECK(code_of(R"({"op":"delete_account","password":""})") == "bad_request");
  CHECK(ok(R"({"op":"resume","token":"abc"})").token == "abc");
  CHECK(code_of(R"({"op":"resume"})") == "bad_request");
  CHECK(code_of(R"({"op":"resume","token":""})") == "bad_request");
  for (const char* op : {"history", "unread", "conversations", "list_accounts"}) {
    const std::string b = std::string(R"({"op":")") + op + R"(","with":"bob")";
    CHECK(ok(b + "}").cons == consistency::linearizable);
    CHECK(ok(b + R"(,"consistency":"linearizable"})").cons == consistency::linearizable);
    CHECK(ok(b + R"(,"consistency":"local"})").cons == consistency::local);
    CHECK(code_of(b + R"(,"consistency":"strong"})") == "bad_request");
  }
}

TEST_CASE("which ops need a login, and which go through the log") {
  struct row {
    op o;
    bool login, write;
  };
  const row rows[] = {
      {op::hello, false, false},          {op::status, false, false},        {op::create_account, false, true},
      {op::login, false, true},           {op::resume, false, false},        {op::logout, true, true},
      {op::list_accounts, true, false},   {op::send, true, true},            {op::history, true, false},
      {op::unread, true, false},          {op::mark_read, true, true},       {op::delete_messages, true, true},
      {op::conversations, true, false},   {op::delete_account, true, true},
  };
  for (const auto& r : rows) {
    CAPTURE(std::string(to_string(r.o)));
    CHECK(needs_login(r.o) == r.login);
    CHECK(is_write(r.o) == r.write);
  }
  // every op name of the contract decodes (with its required params)
  for (const char* f :
       {R"({"op":"hello"})", R"({"op":"status"})", R"({"op":"logout"})", R"({"op":"conversations"})", R"({"op":"unread"})",
        R"({"op":"list_accounts"})", R"({"op":"admin.add_node","admin_token":"t","id":"n4","address":"h:1"})",
        R"({"op":"admin.remove_node","admin_token":"t","id":"n4"})",
        R"({"op":"admin.transfer_leader","admin_token":"t","to":"n2"})"})
    CHECK_MESSAGE(code_of(f) == "ok", f);
  CHECK(code_of(R"({"op":"admin.remove_node","id":"n4"})") == "bad_request");  // no admin token
  CHECK(code_of(R"({"op":"Hello"})") == "unknown_op");  // op names are exact
}
