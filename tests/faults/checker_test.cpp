// The checker must be able to fail: a clean history passes, and one doctored
// history per property is caught by exactly that property.
#include <doctest/doctest.h>

#include "faults/checker.h"

using namespace qc::faults;

namespace {

constexpr std::int64_t ms = 1'000'000;

op_record send(int p, const std::string& user, const std::string& to, const std::string& body, std::int64_t t0,
               std::int64_t t1, outcome r, std::uint64_t id) {
  op_record o;
  o.process = p;
  o.kind = op_kind::send;
  o.user = user;
  o.peer = to;
  o.body = body;
  o.nonce = body;
  o.invoke_ns = t0 * ms;
  o.complete_ns = t1 * ms;
  o.result = r;
  o.msg_id = r == outcome::ok ? id : 0;
  return o;
}

op_record read(int p, const std::string& user, const std::string& with, std::int64_t t0, std::int64_t t1,
               std::vector<message> msgs) {
  op_record o;
  o.process = p;
  o.kind = op_kind::read;
  o.user = user;
  o.peer = with;
  o.invoke_ns = t0 * ms;
  o.complete_ns = t1 * ms;
  o.result = outcome::ok;
  for (const auto& m : msgs) o.messages.push_back(entry_of(m));
  return o;
}

op_record ids_op(op_kind k, int p, const std::string& user, std::vector<std::uint64_t> ids, std::int64_t t0,
                 std::int64_t t1, outcome r = outcome::ok) {
  op_record o;
  o.process = p;
  o.kind = k;
  o.user = user;
  o.ids = std::move(ids);
  o.invoke_ns = t0 * ms;
  o.complete_ns = t1 * ms;
  o.result = r;
  return o;
}

message m10(bool read = false) { return {10, "a", "b", "a-1", read}; }
message m11() { return {11, "b", "a", "b-1", false}; }
message m12() { return {12, "a", "a", "a-2", false}; }

/// A small clean run: two users, sends, reads, a mark and a delete.
struct scenario {
  std::vector<op_record> h;
  final_state f;
  scenario() {
    h.push_back(send(0, "a", "b", "a-1", 0, 10, outcome::ok, 10));
    h.push_back(send(1, "b", "a", "b-1", 20, 30, outcome::ok, 11));
    h.push_back(read(0, "a", "b", 40, 50, {m10(), m11()}));
    h.push_back(send(0, "a", "a", "a-2", 60, 70, outcome::ok, 12));
    h.push_back(ids_op(op_kind::mark_read, 1, "b", {10}, 80, 90));
    h.push_back(ids_op(op_kind::del, 0, "a", {11}, 100, 110));
    h.push_back(read(1, "b", "a", 120, 130, {m10(true)}));
    h.push_back(read(0, "a", "a", 120, 130, {m12()}));
    f.conversations[conv_key("a", "b")] = {m10(true)};
    f.conversations[conv_key("a", "a")] = {m12()};
    f.digests["n1"] = {"d1", 40};
    f.digests["n2"] = {"d1", 40};
  }
  /// The properties violated, with nothing else wrong.
  std::vector<std::string> violated() const {
    auto v = check(h, f);
    std::vector<std::string> out;
    for (const auto& [p, n] : v.counts) out.push_back(p);
    return out;
  }
};

using names = std::vector<std::string>;

}  // namespace

TEST_CASE("a clean history passes every property") {
  scenario s;
  auto v = check(s.h, s.f);
  INFO(v.describe());
  CHECK(v.ok());
  CHECK(v.sends_ok == 3);
  CHECK(v.reads_ok == 3);
  CHECK(v.final_messages == 2);
}

TEST_CASE("lost: an acknowledged send missing at the end") {
  scenario s;
  s.f.conversations[conv_key("a", "a")].clear();
  s.h.pop_back();  // the read of a/a saw it; only the end lost it
  CHECK(s.violated() == names{"lost"});
}

TEST_CASE("lost: a deleted message is not lost, even by a delete of unknown outcome") {
  scenario s;
  s.f.conversations[conv_key("a", "a")].clear();
  s.h.pop_back();
  s.h.push_back(ids_op(op_kind::del, 0, "a", {12}, 140, 150, outcome::unknown));
  CHECK(s.violated().empty());
}

TEST_CASE("duplicate: one send applied twice") {
  scenario s;
  s.f.conversations[conv_key("a", "a")].push_back({13, "a", "a", "a-2", false});
  CHECK(s.violated() == names{"duplicate"});
}

TEST_CASE("unknown outcome: applied once is fine, twice is a duplicate") {
  scenario s;
  s.h.push_back(send(0, "a", "a", "a-3", 140, 150, outcome::unknown, 0));
  s.h.push_back(send(0, "a", "a", "a-3", 160, 170, outcome::unknown, 0));  // a retry with the same nonce
  s.f.conversations[conv_key("a", "a")].push_back({13, "a", "a", "a-3", false});
  auto v = check(s.h, s.f);
  CHECK(v.ok());
  CHECK(v.unknown_applied == 1);
  s.f.conversations[conv_key("a", "a")].push_back({14, "a", "a", "a-3", false});
  CHECK(s.violated() == names{"duplicate"});
}

TEST_CASE("duplicate: a retry whose reply names another id") {
  scenario s;
  s.h.push_back(send(0, "a", "b", "a-1", 140, 150, outcome::ok, 15));
  CHECK(s.violated() == names{"duplicate"});
}

TEST_CASE("phantom: a message nobody sent") {
  scenario s;
  s.h.push_back(read(0, "a", "b", 140, 150, {m10(true), {14, "a", "b", "zzz", false}}));
  CHECK(s.violated() == names{"phantom"});
}

TEST_CASE("phantom: a real sender but the wrong recipient") {
  scenario s;
  s.f.conversations[conv_key("a", "c")] = {{13, "a", "c", "a-2", false}};
  // a-2 was sent to a: the same body to c is content nobody sent.
  CHECK(s.violated() == names{"phantom"});
}

TEST_CASE("phantom: a message read before its send was invoked") {
  scenario s;
  s.h.push_back(send(0, "a", "a", "a-9", 300, 310, outcome::ok, 13));
  s.h.push_back(read(0, "a", "a", 140, 150, {m12(), {13, "a", "a", "a-9", false}}));
  s.f.conversations[conv_key("a", "a")].push_back({13, "a", "a", "a-9", false});
  CHECK(s.violated() == names{"phantom"});
}

TEST_CASE("realtime: a later send got a smaller id") {
  scenario s;
  s.h.push_back(send(1, "b", "b", "b-2", 200, 210, outcome::ok, 5));  // after #12 completed at 70
  s.f.conversations[conv_key("b", "b")] = {{5, "b", "b", "b-2", false}};
  CHECK(s.violated() == names{"realtime"});
}

TEST_CASE("realtime: concurrent sends may commit in any order") {
  scenario s;
  s.h.push_back(send(1, "b", "b", "b-2", 5, 210, outcome::ok, 5));  // invoked before #10 completed
  s.f.conversations[conv_key("b", "b")] = {{5, "b", "b", "b-2", false}};
  CHECK(s.violated().empty());
}

TEST_CASE("stale_read: a linearizable read misses an acknowledged write") {
  scenario s;
  s.h.push_back(read(0, "a", "a", 80, 85, {}));  // #12 acked at 70
  CHECK(s.violated() == names{"stale_read"});
}

TEST_CASE("stale_read: a write outside a full read's window is not required") {
  scenario s;
  auto r = read(0, "a", "b", 60, 65, {m11()});  // limit 1: only the newest
  r.read_full = true;
  s.h.push_back(r);
  CHECK(s.violated().empty());
  s.h.back().read_full = false;  // not full: #10 had to be there
  CHECK(s.violated() == names{"stale_read"});
}

TEST_CASE("stale_read: a concurrent delete excuses a missing write") {
  scenario s;
  s.h.push_back(read(0, "a", "b", 95, 105, {m10(true)}));  // #11's delete began at 100
  CHECK(s.violated().empty());
}

TEST_CASE("read_order: out of order, and a hole the final state fills") {
  scenario s;
  s.h.push_back(read(0, "a", "b", 40, 50, {m11(), m10()}));
  CHECK(s.violated() == names{"read_order"});

  scenario t;
  t.h.push_back(send(0, "a", "b", "a-5", 140, 145, outcome::unknown, 0));
  t.h.push_back(send(0, "a", "b", "a-6", 150, 155, outcome::unknown, 0));
  t.h.push_back(read(1, "b", "a", 150, 160, {m10(true), {16, "a", "b", "a-6", false}}));
  t.f.conversations[conv_key("a", "b")] = {m10(true), {15, "a", "b", "a-5", false}, {16, "a", "b", "a-6", false}};
  CHECK(t.violated() == names{"read_order"});
}

TEST_CASE("resurrection: a deleted message comes back") {
  scenario s;
  s.h.push_back(read(0, "a", "b", 140, 150, {m10(true), m11()}));  // #11 deleted at 110
  CHECK(s.violated() == names{"resurrection"});
  scenario t;
  t.f.conversations[conv_key("a", "b")].push_back(m11());
  CHECK(t.violated() == names{"resurrection"});
}

TEST_CASE("lost_mark: an acknowledged mark_read is forgotten") {
  scenario s;
  s.h.push_back(read(0, "a", "b", 140, 150, {m10(false)}));
  CHECK(s.violated() == names{"lost_mark"});
  scenario t;
  t.h.push_back(ids_op(op_kind::mark_read, 0, "a", {10}, 80, 90));  // a is not the recipient: ignored
  t.f.conversations[conv_key("a", "b")] = {m10(true)};
  CHECK(t.violated().empty());
}

TEST_CASE("divergence: replicas differ or one cannot be read") {
  scenario s;
  s.f.digests["n3"] = {"d2", 40};
  CHECK(s.violated() == names{"divergence"});
  scenario t;
  t.f.digests["n3"] = {"d1", 41};
  CHECK(t.violated() == names{"divergence"});
  scenario u;
  u.f.unreachable.push_back("n4");
  CHECK(u.violated() == names{"divergence"});
}

TEST_CASE("describe names every property") {
  scenario s;
  s.f.digests["n3"] = {"d2", 40};
  auto text = check(s.h, s.f).describe();
  for (const auto& p : verdict::properties()) CHECK(text.find(p) != std::string::npos);
  CHECK(text.find("divergence: 1 violation") != std::string::npos);
}

TEST_CASE("local reads may be stale but never invent or reorder") {
  scenario s;
  auto stale = read(0, "a", "a", 80, 85, {});  // misses #12 acked at 70: fine when local
  stale.local = true;
  s.h.push_back(stale);
  auto old = read(0, "a", "b", 140, 150, {m10(false), m11()});  // shows a deleted and an unmarked message
  old.local = true;
  s.h.push_back(old);
  CHECK(s.violated().empty());
  auto bad = read(0, "a", "b", 140, 150, {m11(), m10()});
  bad.local = true;
  s.h.push_back(bad);
  auto invented = read(0, "a", "b", 140, 150, {{14, "a", "b", "zzz", false}});
  invented.local = true;
  s.h.push_back(invented);
  CHECK(s.violated() == names{"phantom", "read_order"});
}
