// chatbench's `apply` mode: what applying one `send` to chat.db costs on
// this machine, with no node, no network and no Raft log: the state
// machine's share of a write, measured alone. It applies sends the way the
// apply actor does (batches of 50 in one open transaction, committed
// every 2,000), then answers `history` reads of twenty messages and of one
// the way the apply actor answers them (a read transaction for each batch
// of eight, each reply written whole), so it can run under `valgrind
// --tool=callgrind`, whose instruction counts do not move with the
// machine's load.
//
// Owned by: the chatbench main thread.
#pragma once

#include <cstdint>
#include <string>

#include <boost/json/object.hpp>

namespace qc::bench {

/// The result of one apply-cost run. Owned by chatbench's main thread.
struct apply_cost {
  std::uint64_t sends = 0;
  double cpu_us_per_send = 0;   ///< this process's user + system CPU
  double wall_us_per_send = 0;
  std::uint64_t reads = 0;          ///< of each size
  double cpu_us_per_read_20 = 0;    ///< `history` with limit 20, reply included
  double cpu_us_per_read_1 = 0;     ///< `history` with limit 1
};

/// Applies `sends` sends of `body` bytes (each with a nonce) among 64
/// accounts to a fresh chat.db under `dir` (removed after), then answers
/// `sends` history reads of each size; `err` on failure.
apply_cost measure_apply_cost(std::uint64_t sends, std::size_t body, const std::string& dir, std::string& err);

/// One line.
std::string render(const apply_cost& c);
/// {sends, cpu_us_per_send, wall_us_per_send, reads, cpu_us_per_read_20,
/// cpu_us_per_read_1} under "apply_cost".
boost::json::object to_json(const apply_cost& c);

}  // namespace qc::bench
