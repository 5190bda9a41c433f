// Shipped credentials and browser-facing headers, against the real binary:
// the development secret or admin token on a non-loopback address stops
// the node with a one-line reason unless [testing] allows it; CORS headers
// only on the public read-only JSON endpoints; error frames the session
// builds itself are valid JSON.
#include <doctest/doctest.h>

#include "harness/harness.h"
#include "harness/probe.h"

using namespace qc::test;

namespace {

/// Writes a one-node config for `n` listening on `listen` with the given
/// credentials, plus `extra`.
void write_node(node_proc& n, const std::string& listen, const std::string& secret, const std::string& admin,
                const std::string& extra = "") {
  std::ofstream f(n.config);
  f << "[node]\nid = \"" << n.id << "\"\nlisten = \"" << listen << "\"\nadvertise = \"" << n.address()
    << "\"\ndata_dir = \"" << n.dir.string() << "\"\n\n[cluster]\nsecret = \"" << secret << "\"\nadmin_token = \""
    << admin << "\"\nmembers = [ { id = \"" << n.id << "\", address = \"" << n.address() << "\" } ]\n" << extra;
}

/// Exit status of a node that is expected to stop by itself (-1 if it runs on).
int exit_status(node_proc& n, std::chrono::milliseconds limit) {
  const auto end = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < end) {
    int st = 0;
    if (::waitpid(n.pid, &st, WNOHANG) == n.pid) {
      n.pid = -1;
      return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
    }
    std::this_thread::sleep_for(20ms);
  }
  return -1;
}

}  // namespace

TEST_CASE("the shipped development credentials are refused on a non-loopback address") {
  cluster c(1);
  auto& n = c.nodes[0];
  const std::string any = "0.0.0.0:" + std::to_string(n.port);

  SUBCASE("dev-secret on 0.0.0.0: exit 2 with one line naming it") {
    write_node(n, any, "dev-secret", "a-real-admin-token");
    n.start();
    CHECK(exit_status(n, 10s) == 2);
    const std::string log = n.log_text();
    CHECK(log.find("'cluster.secret' is the shipped development value 'dev-secret'") != std::string::npos);
    CHECK(std::count(log.begin(), log.end(), '\n') == 1);
  }
  SUBCASE("dev-admin on 0.0.0.0: exit 2") {
    write_node(n, any, "a-real-secret", "dev-admin");
    n.start();
    CHECK(exit_status(n, 10s) == 2);
    CHECK(n.log_text().find("'cluster.admin_token' is the shipped development value 'dev-admin'") !=
          std::string::npos);
  }
  SUBCASE("a --listen override is checked too") {
    write_node(n, n.address(), "dev-secret", "dev-admin");
    n.start({"--listen", any});
    CHECK(exit_status(n, 10s) == 2);
  }
  SUBCASE("on loopback they are fine (the local dev cluster)") {
    write_node(n, n.address(), "dev-secret", "dev-admin");
    n.start();
    CHECK(n.wait_healthy());
  }
  SUBCASE("[testing] allow_dev_credentials lets a test cluster use them anywhere") {
    write_node(n, any, "dev-secret", "dev-admin", "\n[testing]\nallow_dev_credentials = true\n");
    n.start();
    CHECK(n.wait_healthy());
  }
  SUBCASE("own credentials on 0.0.0.0 start") {
    write_node(n, any, "a-real-secret", "a-real-admin-token");
    n.start();
    CHECK(n.wait_healthy());
  }
}

TEST_CASE("CORS only on the public read-only JSON; session error frames are JSON") {
  cluster c(1);
  REQUIRE(c.start_healthy());
  auto& n = c.nodes[0];
  for (const char* path : {"/status", "/health"}) {
    CAPTURE(path);
    auto h = http_get_head(n.port, path);
    CHECK(h.status == 200);
    CHECK(h.headers["access-control-allow-origin"] == "*");
  }
  for (const char* path : {"/", "/metrics", "/nope"}) {
    CAPTURE(path);
    auto h = http_get_head(n.port, path);
    CHECK(h.status != 0);
    CHECK(h.headers.count("access-control-allow-origin") == 0);
  }
  // A binary frame is answered by the session itself, as JSON.
  boost::asio::io_context io;
  auto ws = ws_from(io, "127.0.0.1", n.port);
  REQUIRE(ws);
  ws->binary(true);
  ws->write(boost::asio::buffer(std::string("\x01\x02", 2)));
  boost::beast::flat_buffer buf;
  ws->read(buf);
  auto v = json::parse(boost::beast::buffers_to_string(buf.data()));
  CHECK(v.at("error").at("code") == json::value("bad_request"));
}
