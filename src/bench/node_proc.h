// Looking at a node process from outside: which process listens on a TCP
// port (so capacity mode finds the node to measure), and its resident memory.
//
// Owned by: the chatbench main thread (plain /proc reads).
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace qc::bench {

/// The pid of the process listening on 127.0.0.1:`port` (or any address), via
/// /proc/net/tcp{,6} and /proc/*/fd. nullopt if not found or not visible.
std::optional<int> pid_listening_on(int port);

/// VmRSS of `pid` in KiB (from /proc/PID/status); nullopt if unreadable.
std::optional<std::uint64_t> rss_kib(int pid);

}  // namespace qc::bench
