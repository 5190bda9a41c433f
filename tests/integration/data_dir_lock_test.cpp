// One process per data directory: a second chatnode started on a directory
// a running one holds is refused at start with one line naming the
// directory and the holder's pid, and the running node carries on. The
// lock goes with the process, even when it is SIGKILLed.
#include <doctest/doctest.h>

#include <sys/wait.h>

#include "harness/harness.h"

using namespace qc::test;

namespace {

/// Waits up to `timeout` for `pid` to exit; its wait status, or -1 if it
/// still runs (then it is killed and reaped).
int exit_status(pid_t pid, std::chrono::milliseconds timeout) {
  int status = 0;
  if (eventually([&] { return ::waitpid(pid, &status, WNOHANG) == pid; }, timeout)) return status;
  ::kill(pid, SIGKILL);
  ::waitpid(pid, &status, 0);
  return -1;
}

}  // namespace

TEST_CASE("a second chatnode on a data directory in use is refused at start; the first serves on") {
  cluster c(1);
  auto& n = c.nodes[0];
  REQUIRE(c.start_healthy());
  client a;
  REQUIRE(a.connect(n.port));
  REQUIRE(!a.signup("alice").empty());
  auto sent = a.call({{"op", "send"}, {"to", "alice"}, {"body", "before"}});
  REQUIRE(client::ok(sent));
  const auto id = sent.at("message").as_object().at("id").as_int64();

  // The same directory on another port (a copied config): only the lock
  // can stop it. And on the same port (a supervisor restarting a node that
  // is paused, not dead): it must stop before its start-up recovery
  // touches the first's files, not later, when it cannot listen.
  for (const bool same_port : {false, true}) {
    CAPTURE(same_port);
    node_proc second = n;  // the same config, so the same data directory
    second.log_file = c.root / (same_port ? "second-same-port.log" : "second.log");
    if (same_port)
      second.start();
    else
      second.start({"--listen", "127.0.0.1:" + std::to_string(free_port())});
    const int status = exit_status(second.pid, 15s);
    second.pid = -1;
    REQUIRE_MESSAGE(status != -1, "the second process was still running after 15 s");
    CHECK(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) != 0);
    const auto log = second.log_text();
    MESSAGE("the second process said: " << log);
    CHECK(error_lines(log) == 1);  // one line says why
    CHECK(log.find(n.dir.string() + " is in use by another chatnode process (pid " + std::to_string(n.pid) + ")") !=
          std::string::npos);
  }

  // The first never noticed.
  auto more = a.call({{"op", "send"}, {"to", "alice"}, {"body", "after"}});
  CHECK_MESSAGE(client::ok(more), json::serialize(more));
  CHECK(error_lines(n.log_text()) == 0);

  // SIGKILL releases the lock with the process: the next start takes it.
  n.signal(SIGKILL);
  n.start();
  REQUIRE(n.wait_healthy(15s));
  client b;
  REQUIRE(b.connect(n.port));
  REQUIRE(client::ok(b.call({{"op", "login"}, {"user", "alice"}, {"password", "pw"}})));
  auto h = b.call({{"op", "history"}, {"with", "alice"}, {"limit", 10}});
  REQUIRE_MESSAGE(client::ok(h), json::serialize(h));
  const auto& msgs = h.at("messages").as_array();
  REQUIRE(msgs.size() == 2);
  CHECK(msgs[0].at("id").as_int64() == id);
  CHECK(msgs[0].at("body").as_string() == "before");
  CHECK(msgs[1].at("body").as_string() == "after");
}
