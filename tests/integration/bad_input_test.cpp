// 10,000 random or mutated frames against a live node: every frame gets an
// error reply (or a clean close), the node keeps serving, and its replicated
// state is unchanged (no entry reaches the log).
#include <doctest/doctest.h>

#include <random>

#include "harness/harness.h"

using namespace qc::test;

namespace {

/// Frames a hostile or buggy client might send. None of them can change
/// state on an unauthenticated connection: create_account is left out on
/// purpose, and logins use wrong passwords.
std::string make_frame(std::mt19937_64& rng) {
  static const std::vector<std::string> templates = {
      R"({"op":"hello","id":1})",
      R"({"op":"send","to":"alice","body":"hi","nonce":"x","id":2})",
      R"({"op":"history","with":"alice","limit":10,"before":5,"consistency":"local"})",
      R"({"op":"unread","limit":5})",
      R"({"op":"mark_read","ids":[1,2,3]})",
      R"({"op":"delete_messages","ids":[1]})",
      R"({"op":"login","user":"alice","password":"wrong-password"})",
      R"({"op":"resume","token":"00ff"})",
      R"({"op":"list_accounts","pattern":"a*","limit":3,"after":"a"})",
      R"({"op":"conversations","consistency":"linearizable"})",
      R"({"op":"status"})",
      R"({"op":"admin.add_node","admin_token":"wrong","id":"n9","address":"127.0.0.1:1"})",
      R"({"op":"admin.remove_node","admin_token":"wrong","id":"n1"})",
  };
  auto pick = [&](std::size_t n) { return static_cast<std::size_t>(rng() % n); };
  std::string f;
  switch (pick(8)) {
    case 0: {  // random bytes (often invalid UTF-8)
      f.resize(pick(200));
      for (auto& ch : f) ch = static_cast<char>(rng());
      break;
    }
    case 1: {  // deep nesting
      const std::size_t depth = 1 + pick(5000);
      f = std::string(depth, '[') + std::string(depth, ']');
      if (pick(2)) f = "{\"op\":\"hello\",\"id\":" + f + "}";
      break;
    }
    case 2: {  // huge and odd numbers in numeric fields
      static const std::vector<std::string> nums = {"1e400", "-1", "18446744073709551616", "0.5", "true",
                                                    "\"7\"", "null", "99999999999999999999999", "-0", "[]"};
      f = R"({"op":"history","with":"alice","limit":)" + nums[pick(nums.size())] + R"(,"before":)" +
          nums[pick(nums.size())] + "}";
      break;
    }
    case 3: {  // wrong types for every field
      static const std::vector<std::string> vals = {"1", "null", "{}", "[]", "\"\"", "false", "\"x\"", "[1,\"a\"]"};
      static const std::vector<std::string> keys = {"op", "to", "body", "with", "ids", "user", "password",
                                                    "token", "limit", "pattern", "nonce", "consistency"};
      f = "{";
      for (int i = 0, n = 1 + static_cast<int>(pick(5)); i < n; ++i) {
        if (i) f += ",";
        f += "\"" + keys[pick(keys.size())] + "\":" + vals[pick(vals.size())];
      }
      f += "}";
      break;
    }
    case 4: {  // invalid UTF-8 inside strings
      f = std::string(R"({"op":"send","to":"alice","body":")") + "\xff\xfe\xc0\x80" + "\"}";
      break;
    }
    default: {  // mutated valid requests
      f = templates[pick(templates.size())];
      for (int k = 0, n = 1 + static_cast<int>(pick(4)); k < n && !f.empty(); ++k) {
        const std::size_t pos = pick(f.size());
        switch (pick(3)) {
          case 0: f[pos] = static_cast<char>(rng()); break;
          case 1: f.erase(pos, 1 + pick(3)); break;
          default: f.insert(pos, 1, "{}[]\",:\\0a"[pick(10)]); break;
        }
      }
    }
  }
  return f;
}

}  // namespace

TEST_CASE("10,000 hostile frames: errors, no crash, state unchanged") {
  cluster c(1);
  c.start_all();
  auto& n = c.nodes[0];
  REQUIRE(eventually([&] { return http_get(n.port, "/health").first == 200; }, 15s));

  client owner;
  REQUIRE(owner.connect(n.port));
  REQUIRE(!owner.signup("alice").empty());
  REQUIRE(client::ok(owner.call({{"op", "send"}, {"to", "alice"}, {"body", "before"}})));
  const auto before_status = n.status();
  const auto before_history = owner.call({{"op", "history"}, {"with", "alice"}}).at("messages");
  const auto commit_before = before_status.at("commit_index").as_int64();

  std::mt19937_64 rng(20261124);
  client fz;
  REQUIRE(fz.connect(n.port));
  int replies = 0, closes = 0;
  for (int i = 0; i < 10'000; ++i) {
    const std::string frame = make_frame(rng);
    std::string err;
    if (fz.ws.send_raw(frame)) {
      ++closes;
      REQUIRE(fz.connect(n.port));
      continue;
    }
    auto v = fz.ws.recv(5s, err);
    if (!v) {
      // A clean close is allowed (e.g. oversized frame); anything else is not.
      REQUIRE_MESSAGE(fz.ws.close_code().has_value(), "no reply and no close for frame #" << i << ": " << err);
      ++closes;
      REQUIRE(fz.connect(n.port));
      continue;
    }
    REQUIRE_MESSAGE(v->is_object(), "reply is not an object for frame #" << i);
    REQUIRE(v->as_object().contains("ok"));
    ++replies;
  }
  MESSAGE("replies: " << replies << ", clean closes: " << closes);
  CHECK(replies + closes == 10'000);
  REQUIRE(n.alive());
  // Still serving, and nothing reached the log.
  CHECK(client::ok(owner.call({{"op", "hello"}})));
  CHECK(n.status().at("commit_index").as_int64() == commit_before);
  CHECK(owner.call({{"op", "history"}, {"with", "alice"}}).at("messages") == before_history);
}
