// Descriptor floods against the real binary: the node sizes its connection
// limits from RLIMIT_NOFILE and logs the figures; a flood beyond them is
// answered 503 and closed while the node's CPU stays near idle; running
// out of descriptors at run time (EMFILE) pauses accepting with a timer,
// logs once per episode, and the node serves again afterwards.
#include <doctest/doctest.h>

#include <sys/resource.h>

#include "harness/harness.h"
#include "harness/probe.h"

using namespace qc::test;

namespace {

/// Counts occurrences of `needle` in `text`.
int count_of(const std::string& text, const std::string& needle) {
  int n = 0;
  for (auto p = text.find(needle); p != std::string::npos; p = text.find(needle, p + 1)) ++n;
  return n;
}

/// The node answers /health and a client can sign up and log in.
void check_serves(node_proc& n, const std::string& user) {
  CHECK(n.wait_healthy());
  client a;
  REQUIRE(a.connect(n.port));
  CHECK(!a.signup(user).empty());
}

/// Makes sure this test process can hold `n` more sockets.
void raise_own_limit(rlim_t n) {
  rlimit rl{};
  ::getrlimit(RLIMIT_NOFILE, &rl);
  if (rl.rlim_cur < n && n <= rl.rlim_max) {
    rl.rlim_cur = n;
    ::setrlimit(RLIMIT_NOFILE, &rl);
  }
}

}  // namespace

TEST_CASE("descriptor flood under ulimit -n 128: answered 503, CPU near idle, serves after") {
  raise_own_limit(4096);
  cluster c(1);
  auto& n = c.nodes[0];
  n.start_with_nofile(128);
  REQUIRE(n.wait_healthy());
  // The plan is logged: 128 descriptors, 68 kept back (64 + 4 for the one
  // member), 60 for accepted connections.
  const std::string log0 = n.log_text();
  CHECK(log0.find("descriptors: soft limit 128 (hard 128)") != std::string::npos);
  CHECK(log0.find("60 for accepted connections") != std::string::npos);

  const double cpu0 = cpu_seconds(n.pid);
  tcp_flood flood(n.port, 1000);
  REQUIRE(flood.fds.size() == 1000);
  std::this_thread::sleep_for(3s);
  const double cpu = cpu_seconds(n.pid) - cpu0;
  MESSAGE("node CPU over 3 s of a 1000-connection flood at ulimit 128: " << cpu << " s");
  CHECK(cpu < 0.3);
  // Beyond the 60 it can hold, every connection got the canned 503.
  CHECK(flood.answered_503() >= 1000 - 60);
  CHECK(n.log_text().find("new connections are answered 503") != std::string::npos);
  CHECK(n.alive());
  flood.release();
  check_serves(n, "after_flood");
  CHECK(eventually([&] { return n.log_text().find("below the connection limit again") != std::string::npos; }, 5s));
}

TEST_CASE("EMFILE at run time: accepting backs off on a timer, logs once, serves when descriptors return") {
  raise_own_limit(4096);
  cluster c(1);
  auto& n = c.nodes[0];
  n.start();
  REQUIRE(n.wait_healthy());
  // Take the node's descriptors away while it runs: the soft limit drops to
  // what it holds now plus two, far below what its connection limits
  // assume (the hard limit stays, so it can be given back).
  rlimit old{};
  REQUIRE(::prlimit(n.pid, RLIMIT_NOFILE, nullptr, &old) == 0);
  const int in_use = open_fds(n.pid);
  rlimit tight = old;
  tight.rlim_cur = static_cast<rlim_t>(in_use + 2);
  REQUIRE(::prlimit(n.pid, RLIMIT_NOFILE, &tight, nullptr) == 0);

  const double cpu0 = cpu_seconds(n.pid);
  tcp_flood flood(n.port, 1000);
  std::this_thread::sleep_for(3s);
  const double cpu = cpu_seconds(n.pid) - cpu0;
  MESSAGE("node CPU over 3 s of EMFILE with 1000 connections pending: " << cpu << " s");
  CHECK(cpu < 0.3);
  const std::string during = n.log_text();
  CHECK(count_of(during, "accept: out of file descriptors") == 1);  // once per episode, not per attempt
  // The reserve descriptor lets it answer pending connections meanwhile.
  CHECK(flood.answered_503() > 900);
  CHECK(n.alive());

  // Descriptors come back: it serves again, and says so once.
  REQUIRE(::prlimit(n.pid, RLIMIT_NOFILE, &old, nullptr) == 0);
  flood.release();
  check_serves(n, "after_emfile");
  const std::string after = n.log_text();
  CHECK(count_of(after, "accept: out of file descriptors") == 1);
  CHECK(count_of(after, "accept: descriptors available again") == 1);
}
