// The read ops' whole replies as the apply thread writes them
// (db::answer_read), checked against the same reply built the slow way:
// the store's typed results as boost::json values, serialized, around the
// request's id.
#include "db/read_reply.h"

#include <doctest/doctest.h>

#include <boost/json.hpp>

#include "db/temp_store.h"

using namespace qc;
namespace json = boost::json;

namespace {

json::object message_object(const chat::message& m) {
  return json::object{{"id", m.id}, {"from", m.from}, {"to", m.to}, {"body", m.body}, {"ts", m.ts}, {"read", m.read}};
}

json::array messages_array(const std::vector<chat::message>& ms) {
  json::array a;
  for (const auto& m : ms) a.push_back(message_object(m));
  return a;
}

/// What the reply to a request with `id` (none if null) and `result` must be.
json::value expected(const json::value& id, json::object result) {
  json::object o;
  if (!id.is_null()) o["id"] = id;
  o["ok"] = true;
  for (auto& [k, v] : result) o[k] = v;
  return o;
}

}  // namespace

TEST_CASE("answer_read: each read op's whole reply, with and without a request id") {
  test::temp_dir dir{"read-reply"};
  auto s = test::open_store(dir.p / "chat.db");
  std::uint64_t index = 0;
  std::vector<raft::entry> es;
  for (const char* u : {"alice", "bob", "carol"})
    es.push_back(test::command_entry(++index, chat::cmd_create_account{u, "pbkdf2$h", 1}));
  for (int i = 0; i < 7; ++i) {
    const bool ab = i % 3 != 2;
    es.push_back(test::command_entry(
        ++index, chat::cmd_send{ab ? "bob" : "carol", "alice", "m" + std::to_string(i) + " \"q\" \\", std::nullopt,
                                1000 + i}));
    es.push_back(test::command_entry(++index, chat::cmd_send{"alice", "bob", "r" + std::to_string(i), std::nullopt, 2000}));
  }
  s->apply_batch(es);
  s->commit();

  for (const json::value& id : {json::value(nullptr), json::value(42), json::value("req-\"7\"")}) {
    CAPTURE(json::serialize(id));
    db::read_query q;
    q.head = chat::reply_ok_head(id, !id.is_null());
    q.user = "alice";

    q.kind = chat::op::history;
    q.with = "bob";
    q.limit = 4;
    CHECK(json::parse(db::answer_read(*s, q)) ==
          expected(id, {{"messages", messages_array(s->history("alice", "bob", 4, std::nullopt))}}));
    q.before = s->history("alice", "bob", 4, std::nullopt).front().id;
    CHECK(json::parse(db::answer_read(*s, q)) ==
          expected(id, {{"messages", messages_array(s->history("alice", "bob", 4, q.before))}}));
    q.with = "nobody";  // no such account: the reply the gateway prepared
    q.no_such_user = chat::reply_error(id, !id.is_null(), "not_found", "user does not exist");
    CHECK(db::answer_read(*s, q) == q.no_such_user);
    q.no_such_user.clear();

    q.kind = chat::op::unread;
    q.limit = 3;
    CHECK(json::parse(db::answer_read(*s, q)) == expected(id, {{"messages", messages_array(s->unread("alice", 3))}}));

    q.kind = chat::op::conversations;
    json::array cs;
    for (const auto& c : s->conversations("alice"))
      cs.push_back(json::object{{"with", c.with}, {"unread", c.unread}, {"last", message_object(c.last)}});
    REQUIRE(cs.size() == 2);
    CHECK(json::parse(db::answer_read(*s, q)) == expected(id, {{"conversations", cs}}));

    q.kind = chat::op::list_accounts;
    q.pattern = "*o*";
    q.limit = 1;
    CHECK(json::parse(db::answer_read(*s, q)) ==
          expected(id, {{"accounts", json::array{"bob"}}, {"next", "bob"}}));
    q.after = "bob";
    CHECK(json::parse(db::answer_read(*s, q)) ==
          expected(id, {{"accounts", json::array{"carol"}}, {"next", nullptr}}));
    q.pattern = "*";
    q.after.reset();
  }
}
