// Loop mailboxes and the loop's turn: every loop mailbox with mail is
// drained within one posted handler, so a message's cascade across the
// loop's actors runs before Asio polls for I/O again; a long cascade still
// yields after loop_turn::max_drains; a mailbox that goes away with mail
// queued is never drained; a handler that throws leaves no turn stuck;
// a mailbox's on_drained runs once per drain, after its last message.
#include <doctest/doctest.h>

#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include "actors/mailbox.h"

namespace {

using qc::actors::loop_mailbox;
using qc::actors::detail::loop_turn;

}  // namespace

TEST_CASE("loop_mailbox: a cascade across three mailboxes runs in one handler, each mailbox in push order") {
  boost::asio::io_context io(1);
  std::vector<std::string> seen;
  loop_mailbox<int> c(io, [&](int&& m) { seen.push_back("c" + std::to_string(m)); });
  loop_mailbox<int> b(io, [&](int&& m) {
    seen.push_back("b" + std::to_string(m));
    c.push(m * 10);
  });
  loop_mailbox<int> a(io, [&](int&& m) {
    seen.push_back("a" + std::to_string(m));
    b.push(m + 1);
    if (m == 1) a.push(7);  // its own mailbox: after this drain, never inside it
  });
  a.push(1);
  a.push(2);
  // One handler: before the loop's turn, each hop was a handler of its own
  // and this ran only a's first drain.
  CHECK(io.poll_one() == 1);
  CHECK(seen == std::vector<std::string>{"a1", "a2", "b2", "b3", "a7", "c20", "c30", "b8", "c80"});
  CHECK(io.poll() == 0);
}

TEST_CASE("loop_mailbox: on_drained runs once after each drain's last message; what it pushes drains later") {
  boost::asio::io_context io(1);
  std::vector<std::string> seen;
  bool again = true;
  loop_mailbox<int>* self = nullptr;
  loop_mailbox<int> a(
      io, [&](int&& m) { seen.push_back("a" + std::to_string(m)); },
      [&] {
        seen.push_back("drained");
        if (again) self->push(9), again = false;  // a new drain, with its own on_drained
      });
  self = &a;
  a.push(1);
  a.push(2);
  a.push(3);
  CHECK(io.poll_one() == 1);
  CHECK(seen == std::vector<std::string>{"a1", "a2", "a3", "drained", "a9", "drained"});
  CHECK(io.poll() == 0);
}

TEST_CASE("loop_mailbox: a cascade that never ends still lets other handlers run") {
  boost::asio::io_context io(1);
  int hops = 0;
  const int last = static_cast<int>(loop_turn::max_drains) * 5;
  loop_mailbox<int>* pong_box = nullptr;
  loop_mailbox<int> ping(io, [&](int&& m) {
    ++hops;
    if (m < last) pong_box->push(m + 1);
  });
  loop_mailbox<int> pong(io, [&](int&& m) {
    ++hops;
    if (m < last) ping.push(m + 1);
  });
  pong_box = &pong;
  ping.push(0);
  bool other_ran = false;
  int hops_when_other_ran = -1;
  boost::asio::post(io, [&] {
    other_ran = true;
    hops_when_other_ran = hops;
  });
  CHECK(io.poll_one() == 1);
  CHECK(hops == static_cast<int>(loop_turn::max_drains));  // the turn stopped at its budget
  io.poll();
  CHECK(other_ran);
  CHECK(hops_when_other_ran == static_cast<int>(loop_turn::max_drains));  // ran between two turns
  CHECK(hops == last + 1);                                              // and the cascade went on
}

TEST_CASE("loop_mailbox: a mailbox destroyed with mail queued is never drained; the others still are") {
  boost::asio::io_context io(1);
  int gone_calls = 0, kept_calls = 0;
  loop_mailbox<int> first(io, [&](int&&) { ++kept_calls; });
  auto gone = std::make_unique<loop_mailbox<int>>(io, [&](int&&) { ++gone_calls; });
  loop_mailbox<int> last(io, [&](int&&) { ++kept_calls; });
  first.push(1);
  gone->push(2);
  last.push(3);
  gone.reset();
  io.poll();
  CHECK(gone_calls == 0);
  CHECK(kept_calls == 2);

  // Destroyed by a handler of the same turn, after being scheduled in it.
  auto victim = std::make_unique<loop_mailbox<int>>(io, [&](int&&) { ++gone_calls; });
  loop_mailbox<int> killer(io, [&](int&&) {
    victim->push(5);
    victim.reset();
    ++kept_calls;
  });
  killer.push(4);
  io.restart();  // poll() ran out of work and stopped the context
  io.poll();
  CHECK(gone_calls == 0);
  CHECK(kept_calls == 3);
}

TEST_CASE("loop_mailbox: after a handler throws out of a turn, the mail left and later mail still get drained") {
  boost::asio::io_context io(1);
  std::vector<int> seen;
  loop_mailbox<int> thrower(io, [&](int&& m) {
    if (m == 1) throw std::runtime_error("planted");
    seen.push_back(m);
  });
  loop_mailbox<int> other(io, [&](int&& m) { seen.push_back(m); });
  thrower.push(1);
  other.push(2);
  CHECK_THROWS_AS(io.poll_one(), std::runtime_error);
  io.restart();
  io.poll();
  CHECK(seen == std::vector<int>{2});  // the turn went on in a new handler
  other.push(3);  // a later turn is posted as before
  io.restart();
  io.poll();
  CHECK(seen == std::vector<int>{2, 3});
}
