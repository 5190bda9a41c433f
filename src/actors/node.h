// The node: opens and validates the data directory, builds the actors and
// wires their mailboxes together, runs the event loop until a signal.
//
//   election ticker ─┐                       ┌─> storage actor (raft.db, own thread)
//   heartbeat ticker ┼─> consensus actor ────┼─> replicator actor ──> peers (/raft)
//   replicator ──────┘   (owns the core)     ├─> apply actor (chat.db, own thread)
//   gateway ─────────────────────────────────┘        │
//     ^  clients (/ws), HTTP                          └─> gateway (results, events)
//
// Owned by: main(); run() occupies the calling thread with the loop.
#pragma once

#include <string>

#include "config/config.h"

namespace qc::actors {

/// Runs a node until SIGINT/SIGTERM. Returns the process exit code: 0 after
/// a graceful stop, 1 when the data directory or the port cannot be used,
/// 3 when a worker actor could not go on (a write error of the Raft log,
/// any I/O error other than a full disk, an exception): the node then stops
/// as gracefully as on a signal. The reason is logged as one line.
int run_node(const config::node_config& cfg, const char* version);

}  // namespace qc::actors
