// chatbench's `hash` mode: what one password hash costs on this machine,
// for choosing [security] parameters. Times chat::hash_password and
// chat::verify_password (CPU and wall clock) for the defaults of each
// algorithm and for the PBKDF2 cost older versions used.
//
// Owned by: the chatbench main thread.
#pragma once

#include <string>
#include <vector>

#include <boost/json/object.hpp>

#include "chat/password.h"

namespace qc::bench {

/// One measured parameter set. Owned by chatbench's main thread.
struct hash_cost {
  std::string label;
  chat::hash_params params;
  double hash_cpu_ms = 0, hash_wall_ms = 0, verify_wall_ms = 0;  ///< per call, averaged
};

/// Times `rounds` hashes and verifies of each parameter set; an empty
/// vector and `err` if hashing fails.
std::vector<hash_cost> measure_hash_costs(int rounds, std::string& err);

/// One line per parameter set.
std::string render(const std::vector<hash_cost>& costs);
/// [{label, hash_cpu_ms, hash_wall_ms, verify_wall_ms}] under "hash_costs".
boost::json::object to_json(const std::vector<hash_cost>& costs);

}  // namespace qc::bench
