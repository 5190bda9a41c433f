// The chatbench workload: a weighted mix of send / history / unread / login over
// logged-in sessions, closed loop (a fixed number of requests in flight per
// connection) or open loop (a fixed total rate, latency measured from each
// request's intended start so a stall is not hidden: no coordinated
// omission), for a duration or an op count.
//
// Owned by: the chatbench io thread (run_workload runs the io_context).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>

#include "bench/sessions.h"
#include "bench/stats.h"

namespace qc::bench {

/// What to run.
struct workload_options {
  double w_send = 1, w_history = 0, w_unread = 0;  ///< relative weights of the op kinds
  double w_login = 0;  ///< login again as the connection's user (a password hash and a session write)
  double w_hello = 0;  ///< `hello`: no state touched, the floor of any request's round trip
  std::string password;                           ///< for login (the sessions' password)
  std::string consistency = "linearizable";       ///< for history / unread
  std::chrono::milliseconds duration{10'000};     ///< measured time (if ops == 0)
  std::uint64_t ops = 0;                          ///< measured op count (overrides duration)
  std::chrono::milliseconds warmup{1'000};        ///< unmeasured lead-in (duration mode)
  int inflight = 1;                               ///< closed loop: requests in flight per connection
  double rate = 0;                                ///< > 0: open loop, total requests per second
  std::size_t body_bytes = 256;                   ///< size of each send body
  int history_limit = 20;                         ///< `limit` of history / unread
  std::chrono::milliseconds timeout{5'000};       ///< a request without reply by then is a timeout
  bool reconnect = false;  ///< re-open a dropped connection on the next node (`resume`)
};

/// One acknowledged send (failover mode's timeline).
struct ack_record {
  clock::time_point issued;
  clock::time_point acked;
};

/// Extra hooks for failover mode.
struct workload_hooks {
  std::vector<ack_record>* acks = nullptr;  ///< every ok send, in reply order
  std::vector<std::string> nodes;           ///< where to reconnect (with reconnect)
  std::function<bool()> stop;               ///< polled every ms: end the run early
  std::function<void()> measuring;          ///< called once, when the measured window begins
};

/// Runs the workload over `sessions` (whose connections it may replace on reconnect).
run_stats run_workload(boost::asio::io_context& io, std::vector<session>& sessions, const workload_options& o,
                       const workload_hooks& hooks = {});

}  // namespace qc::bench
