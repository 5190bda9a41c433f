// TLS ([tls], docs/SECURITY.md §3.9): a 3-node cluster whose clients and peers
// speak only TLS. Clients use wss:// and https://, peer links are mutually
// verified wss://, plain connections get a 400 naming the fix, and a node
// whose certificate the cluster CA did not sign cannot join even though it
// knows the cluster secret. The certificates in tests/integration/tls/ are
// test-only (scripts/make-certs.sh, 100-year validity, CA key discarded).
#include <doctest/doctest.h>

#include <cstdlib>

#include "harness/harness.h"
#include "harness/probe.h"
#include "ops/cluster_probe.h"

using namespace qc::test;

namespace {

const std::string tls_dir = std::string(QC_SOURCE_DIR) + "/tests/integration/tls/";

std::string tls_toml(const std::string& cert, const std::string& extra = "") {
  return "\n[tls]\ncert_file = \"" + tls_dir + cert + ".pem\"\nkey_file = \"" + tls_dir + cert + ".key\"\nca_file = \"" +
         tls_dir + "ca.pem\"\n" + extra;
}

std::string wss(const node_proc& p) { return "wss://" + p.address(); }

/// The leader every node reports over wss ("" until they agree).
std::string tls_leader(cluster& c) {
  std::string agreed;
  for (auto& p : c.nodes) {
    if (p.pid <= 0) continue;
    client k;
    if (!k.connect_to(wss(p))) return {};
    auto r = k.call({{"op", "hello"}});
    auto* l = r.if_contains("leader");
    if (!l || !l->is_string() || l->as_string().empty()) return {};
    if (!agreed.empty() && agreed != std::string(l->as_string())) return {};
    agreed = std::string(l->as_string());
  }
  return agreed;
}

}  // namespace

TEST_CASE("TLS: wss clients and mutually verified wss peers; plain and untrusted connections refused") {
  ::setenv("QC_TLS_CA", (tls_dir + "ca.pem").c_str(), 1);
  cluster c(3, tls_toml("node"));
  c.start_all();
  std::string leader;
  const bool elected = eventually([&] { return !(leader = tls_leader(c)).empty(); }, 15s);
  if (!elected) c.dump_logs();
  REQUIRE(elected);

  // Writes replicate over the TLS peer links (the only links there are:
  // the listeners refuse plain /raft) and read back on another node.
  client alice, bob;
  REQUIRE(alice.connect_to(wss(c.nodes[0])));
  REQUIRE(bob.connect_to(wss(c.nodes[2])));
  REQUIRE(!alice.signup("alice").empty());
  REQUIRE(!bob.signup("bob").empty());
  auto sent = alice.call({{"op", "send"}, {"to", "bob"}, {"body", "over tls"}});
  REQUIRE_MESSAGE(client::ok(sent), json::serialize(sent));
  auto hist = bob.call({{"op", "history"}, {"with", "alice"}, {"consistency", "linearizable"}});
  REQUIRE_MESSAGE(client::ok(hist), json::serialize(hist));
  const auto& msgs = hist.at("messages").as_array();
  REQUIRE(msgs.size() == 1);
  CHECK(msgs[0].at("body").as_string() == "over tls");

  // Many frames in one write and large ones: 100 pipelined 4,000-byte
  // sends (their replies leave the node several to a write, as do bob's
  // events), then a history reply of about 420 KB, all over TLS, in order.
  const std::string big(4000, 'x');
  std::string err;
  for (int i = 0; i < 100; ++i)
    REQUIRE(!alice.ws.send_raw(json::serialize(json::object{{"op", "send"}, {"to", "bob"}, {"body", big}, {"id", i}})));
  for (int i = 0; i < 100; ++i) {
    auto r = alice.ws.recv(10s, err);
    REQUIRE_MESSAGE(r, err);
    REQUIRE_MESSAGE(client::ok(r->as_object()), json::serialize(*r));
    CHECK(r->as_object().at("id") == i);
  }
  auto all = bob.call({{"op", "history"}, {"with", "alice"}, {"limit", 101}, {"consistency", "linearizable"}});
  REQUIRE_MESSAGE(client::ok(all), json::serialize(all));
  const auto& got = all.at("messages").as_array();
  REQUIRE(got.size() == 101);
  CHECK(got[100].at("body").as_string() == big);
  // The node's close of a TLS connection: a frame over 64 KiB gets its
  // error reply, then close 1009 through the TLS close_notify.
  client closer;
  REQUIRE(closer.connect_to(wss(c.nodes[1])));
  check_oversized_frame_closes(closer);

  // HTTPS serves the status page and /health.
  // GET over https://, verified against the test CA (QC_TLS_CA).
  auto [code, body] = qc::ops::http_get("https://" + c.nodes[1].address(), "/health", 2s).value_or(std::pair{0, "unreachable"});
  CHECK_MESSAGE(code == 200, body);

  // Plain HTTP and ws:// are refused with a reason.
  auto [plain_code, plain_body] = http_get(c.nodes[1].port, "/health");
  CHECK(plain_code == 400);
  CHECK(plain_body.find("TLS") != std::string::npos);
  client plain;
  CHECK_FALSE(plain.connect_to("ws://" + c.nodes[1].address()));
  // TLS without a client certificate may be a client, never a peer.
  client no_cert;
  CHECK_FALSE(no_cert.connect_to(wss(c.nodes[1]), "/raft"));
  CHECK(eventually([&] { return c.nodes[1].log_text().find("peer link without a TLS client certificate") != std::string::npos; }, 5s));

  // A node with the right secret but a certificate from another CA cannot
  // join: the members refuse its /raft upgrades (no trusted client
  // certificate) and will not complete a handshake with it.
  auto& rogue = c.add_joiner("n9", tls_toml("rogue"));
  rogue.start({"--join", c.nodes[0].address()});
  // Wait until the rogue has really tried (a fixed pause could end before
  // it even started on a busy machine), then check it got nowhere.
  CHECK(eventually([&] { return c.nodes[0].log_text().find("refused: TLS handshake failed") != std::string::npos; }, 15s));
  auto st = alice.call({{"op", "status"}});
  REQUIRE(client::ok(st));
  CHECK_MESSAGE(json::serialize(st).find("n9") == std::string::npos, json::serialize(st));
  rogue.signal(SIGKILL);

  // The cluster still serves after all that.
  CHECK(client::ok(alice.call({{"op", "send"}, {"to", "bob"}, {"body", "still here"}})));
}

TEST_CASE("TLS config errors stop the node with a reason") {
  // A key that does not match the certificate.
  cluster bad(1, "\n[tls]\ncert_file = \"" + tls_dir + "node.pem\"\nkey_file = \"" + tls_dir + "rogue.key\"\n");
  bad.start_all();
  int status = 0;
  REQUIRE(eventually([&] { return ::waitpid(bad.nodes[0].pid, &status, WNOHANG) == bad.nodes[0].pid; }, 10s));
  bad.nodes[0].pid = -1;
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) != 0);
  CHECK(bad.nodes[0].log_text().find("tls.key_file") != std::string::npos);
  CHECK(bad.nodes[0].log_text().find("mismatch") != std::string::npos);
}
