// Capacity mode: C idle logged-in connections per node. Reports each
// node's resident memory per connection (VmRSS before and after opening
// them) and the time one broadcast-style burst (one message to each user,
// every user bound to many connections) takes to reach every connection.
//
// Owned by: the chatbench io thread.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/json/object.hpp>

#include "bench/histogram.h"
#include "bench/sessions.h"

namespace qc::bench {

/// How to run capacity mode.
struct capacity_options {
  std::vector<std::string> nodes;  ///< IP:PORT of each node to load
  std::size_t per_node = 1000;     ///< idle connections per node
  std::size_t users = 100;         ///< users the connections are bound to
  std::size_t concurrency = 256;   ///< connections being opened at once
  std::string prefix;
  double settle_s = 2;             ///< wait before reading RSS
};

/// Per node.
struct capacity_node {
  std::string address;
  int pid = -1;
  std::uint64_t rss_before_kib = 0, rss_after_kib = 0;
  double bytes_per_conn = 0;
};

/// What capacity mode measured.
struct capacity_result {
  std::vector<capacity_node> nodes;
  std::size_t connections = 0;    ///< idle connections opened in total
  double open_s = 0;              ///< time to open and resume them all
  std::size_t burst_messages = 0;
  std::size_t delivered = 0;      ///< connections that got their event
  double deliver_ms = -1;         ///< burst start -> last connection's event
  histogram per_conn_us;          ///< burst start -> each connection's event
  std::string error;
};

capacity_result run_capacity(boost::asio::io_context& io, const capacity_options& o);
boost::json::object to_json(const capacity_result& r);
std::string render(const capacity_result& r);

}  // namespace qc::bench
