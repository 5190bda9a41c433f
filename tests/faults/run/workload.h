// The client side of the fault suite: concurrent clients, one user each,
// spread over every member, running send (with nonces, retried with the
// same nonce after an unknown outcome), linearizable history reads,
// mark_read and delete_messages. Every call is recorded with its
// invocation and completion time and its result; a timeout or lost
// connection is an unknown outcome. A client whose node dies or stalls
// reconnects to another member and resumes with its token.
//
// Owned by: each client runs on its own thread and owns its records until
// join() hands them to the runner.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>
#include <thread>
#include <vector>

#include "faults/history.h"
#include "faults/run/address_book.h"
#include "faults/run/run_clock.h"

namespace qc::faults {

/// Tunables of the client side.
struct workload_options {
  int clients = 8;
  std::uint64_t seed = 1;
  std::size_t history_limit = 300;                     ///< `limit` of history reads
  std::chrono::milliseconds call_timeout{8000};        ///< after this the outcome is unknown
  std::chrono::milliseconds max_think{60};             ///< random pause between calls
  std::string password = "pw";
};

/// The user name of client `i`.
std::string user_of(int i);

/// Creates every client's account and logs it in (through any node).
/// Returns the tokens, or an empty vector (and `err`) on failure.
std::vector<std::string> create_users(const address_book& book, int n, const std::string& password, std::string& err);

/// Runs the clients until stop() and collects their records.
class workload {
 public:
  workload(const address_book& book, const run_clock& clock, workload_options opt, std::vector<std::string> tokens);
  ~workload();
  void start();
  /// Asks every client to stop after its current call; joins them.
  void stop();
  /// Every record, all clients merged (after stop()).
  std::vector<op_record> history() const;

 private:
  void run_client(int i);

  const address_book& book_;
  const run_clock& clock_;
  workload_options opt_;
  std::vector<std::string> tokens_;
  std::atomic<bool> stop_{false};
  std::vector<std::thread> threads_;
  std::vector<std::vector<op_record>> records_;  ///< one per client, written only by its thread
};

}  // namespace qc::faults
