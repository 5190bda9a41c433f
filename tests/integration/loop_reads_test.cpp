// Reads answered on the event loop (actors/gateway_reads.cpp): from
// chat.db's committed state, only when that state has applied the read's
// point; otherwise through the apply thread, which sees its open
// transaction. And the connection they use gives way to a snapshot install.
#include <doctest/doctest.h>

#include "harness/harness.h"
#include "integration/workload.h"

using namespace qc::test;
using namespace std::chrono_literals;

namespace {

/// qc_reads_on_loop_total of the node on `port` (-1 if unreadable).
long long reads_on_loop(int port) {
  auto [code, body] = http_get(port, "/metrics");
  const std::string key = "\nqc_reads_on_loop_total ";
  const auto at = body.find(key);
  if (code != 200 || at == std::string::npos) return -1;
  return std::stoll(body.substr(at + key.size()));
}

/// The ids in a history reply, oldest first (empty if it failed).
std::vector<std::int64_t> history_ids(client& cl, const std::string& with, const char* consistency) {
  auto r = cl.call({{"op", "history"}, {"with", with}, {"limit", 1000}, {"consistency", consistency}});
  std::vector<std::int64_t> ids;
  if (!client::ok(r)) return ids;
  for (auto& m : r.at("messages").as_array()) ids.push_back(m.as_object().at("id").as_int64());
  return ids;
}

/// True once a linearizable history with `with`, asked through `cl`
/// (connected to `n`), is answered on n's event loop; every answer until
/// then must be `want`.
bool answered_on_loop(client& cl, const node_proc& n, const std::string& with, const std::vector<std::int64_t>& want) {
  const auto before = reads_on_loop(n.port);
  REQUIRE(before >= 0);
  return eventually([&] {
    CHECK(history_ids(cl, with, "linearizable") == want);
    return reads_on_loop(n.port) > before;
  }, 10s);
}

}  // namespace

TEST_CASE("reads on the event loop: never older than their read point; a snapshot install takes the connection back") {
  cluster c(3, "[raft]\nsnapshot_every = 100\nlog_segment_bytes = 65536\n");
  c.start_all();
  auto l = c.wait_leader(15s);
  REQUIRE(l);
  std::string follower;
  for (auto& n : c.nodes)
    if (n.id != *l) follower = n.id;
  client alice, bob;
  REQUIRE(alice.connect(c.node(*l).port));
  REQUIRE(bob.connect(c.node(follower).port));
  REQUIRE(!alice.signup("alice").empty());
  REQUIRE(!bob.signup("bob").empty());

  // Right after each acknowledged send, chat.db's committed state lags (the
  // apply thread commits about once a second): a read that answered from it
  // regardless would miss the message. Linearizable on the other member,
  // local on the member that acknowledged it.
  std::vector<std::int64_t> sent;
  for (int i = 0; i < 20; ++i) {
    auto r = alice.call({{"op", "send"}, {"to", "bob"}, {"body", "m" + std::to_string(i)}});
    REQUIRE(client::ok(r));
    sent.push_back(r.at("message").as_object().at("id").as_int64());
    CHECK(history_ids(bob, "alice", "linearizable") == sent);
    CHECK(history_ids(alice, "bob", "local") == sent);
  }

  // Once the writes are committed to chat.db, the loop answers, and the same.
  REQUIRE(answered_on_loop(bob, c.node(follower), "alice", sent));
  // So does admin.digest, with the applied index of the state it digested.
  {
    client admin;
    REQUIRE(admin.connect(c.node(follower).port));
    boost::json::object r;
    REQUIRE(eventually([&] {
      const auto before = reads_on_loop(c.node(follower).port);
      r = admin.call({{"op", "admin.digest"}, {"admin_token", c.admin_token}, {"consistency", "local"}});
      return client::ok(r) && reads_on_loop(c.node(follower).port) > before;
    }, 10s));
    CHECK(r.at("applied_index").to_number<std::int64_t>() == applied_of(c.node(follower)));
    CHECK(r.at("applied_index").to_number<std::int64_t>() >= sent.back());
  }

  // A member far behind a compacted log gets a snapshot. It lent its
  // connection at start; the install takes it back, and lends it again.
  std::string absent;
  for (auto& n : c.nodes)
    if (n.id != *l && n.id != follower) absent = n.id;
  c.node(absent).signal(SIGKILL);
  {
    client sink;
    REQUIRE(sink.connect(c.node(*l).port));
    REQUIRE(!sink.signup("sink").empty());
  }
  bulk_send(alice, "sink", 400, 1000, "bulk-", 50, 20s);  // rolls and compacts log segments
  c.node(absent).start();
  REQUIRE(eventually([&] { return c.node(absent).log_text().find("installed snapshot") != std::string::npos; }, 30s));
  auto d = converged_digests(c);
  REQUIRE(d.size() == 3);
  CHECK(d[0] == d[2]);
  client carol;
  REQUIRE(carol.connect(c.node(absent).port));
  auto login = carol.call({{"op", "login"}, {"user", "bob"}, {"password", "pw"}});
  REQUIRE(client::ok(login));
  const auto want = history_ids(bob, "alice", "linearizable");
  CHECK(want == sent);
  REQUIRE(answered_on_loop(carol, c.node(absent), "alice", want));
  CHECK(c.node(absent).log_text().find("reads on the event loop pause") == std::string::npos);
}
