// Failover mode: a steady open-loop write rate while a side thread kills the
// leader N times through a command (e.g. `scripts/bench-cluster.sh DIR kill
// {id}`), waits for a new leader, restarts the old one and waits until every
// node is healthy again. Each unavailability window is measured from the acks:
// the last ack before the kill command returned to the first ack of a request
// issued after it returned (so no ack from before the kill can count).
//
// Owned by: the chatbench io thread (the workload) and one killer thread
// (commands and /status probes only; they share nothing but atomics).
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/json/object.hpp>

#include "bench/sessions.h"
#include "bench/workload.h"

namespace qc::bench {

/// How to run failover mode.
struct failover_options {
  std::vector<std::string> nodes;            ///< IP:PORT of every member
  int kills = 20;
  std::chrono::milliseconds steady{2'000};   ///< healthy time before each kill
  std::chrono::milliseconds down{1'000};     ///< time the killed node stays down after a new leader
  std::string kill_cmd;                      ///< "{id}" is replaced by the leader's id
  std::string restart_cmd;                   ///< "{id}" likewise; empty = leave it down
};

/// One kill.
struct kill_record {
  std::string leader;
  double at_s = 0;        ///< seconds since the run started
  double window_ms = -1;  ///< last ack before -> first ack after (-1: none seen)
  double kill_to_ack_ms = -1;  ///< kill -> first ack of a request issued after it
};

/// Windows, their median/max, and the workload stats of the whole run.
struct failover_result {
  std::vector<kill_record> kills;
  run_stats stats;
  std::string error;  ///< set if the killer could not do its job
};

/// Runs failover mode; `w` gives rate, body size and timeout of the writes.
failover_result run_failover(boost::asio::io_context& io, std::vector<session>& sessions, const workload_options& w,
                             const failover_options& f);

/// {"kills": [...], "window_ms": {median, max, min}, "writes": {...}}.
boost::json::object to_json(const failover_result& r);
/// One line per kill plus the summary.
std::string render(const failover_result& r);

}  // namespace qc::bench
