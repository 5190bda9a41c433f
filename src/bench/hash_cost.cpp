#include "bench/hash_cost.h"

#include <chrono>
#include <cstdio>
#include <ctime>

#include <boost/json.hpp>

namespace qc::bench {

std::vector<hash_cost> measure_hash_costs(int rounds, std::string& err) {
  using chat::hash_algorithm;
  std::vector<hash_cost> out = {
      {"argon2id m=19456 KiB t=2 (default)", chat::hash_params{}, 0, 0, 0},
      {"pbkdf2-sha256 600000 iterations", {hash_algorithm::pbkdf2_sha256, 2, 19456, 600'000}, 0, 0, 0},
      {"pbkdf2-sha256 20000 iterations (older versions)", {hash_algorithm::pbkdf2_sha256, 2, 19456, 20'000}, 0, 0, 0},
  };
  rounds = std::max(1, rounds);
  for (auto& c : out) {
    std::error_code ec;
    std::string h;
    const auto w0 = std::chrono::steady_clock::now();
    const std::clock_t c0 = std::clock();
    for (int i = 0; i < rounds; ++i) h = chat::hash_password("correct horse battery staple", c.params, ec);
    const std::clock_t c1 = std::clock();
    const auto w1 = std::chrono::steady_clock::now();
    bool ok = !ec;
    for (int i = 0; i < rounds && ok; ++i) ok = chat::verify_password("correct horse battery staple", h, ec);
    const auto w2 = std::chrono::steady_clock::now();
    if (!ok) {
      err = c.label + ": " + (ec ? ec.message() : std::string("a fresh hash did not verify"));
      return {};
    }
    c.hash_cpu_ms = 1000.0 * static_cast<double>(c1 - c0) / CLOCKS_PER_SEC / rounds;
    c.hash_wall_ms = std::chrono::duration<double, std::milli>(w1 - w0).count() / rounds;
    c.verify_wall_ms = std::chrono::duration<double, std::milli>(w2 - w1).count() / rounds;
  }
  return out;
}

std::string render(const std::vector<hash_cost>& costs) {
  std::string s = "parameters                                         hash CPU ms  hash wall ms  verify wall ms\n";
  for (const auto& c : costs) {
    char line[200];
    std::snprintf(line, sizeof line, "%-50s %11.1f %13.1f %15.1f\n", c.label.c_str(), c.hash_cpu_ms, c.hash_wall_ms,
                  c.verify_wall_ms);
    s += line;
  }
  return s;
}

boost::json::object to_json(const std::vector<hash_cost>& costs) {
  boost::json::array a;
  for (const auto& c : costs)
    a.push_back(boost::json::object{{"label", c.label},
                                    {"hash_cpu_ms", c.hash_cpu_ms},
                                    {"hash_wall_ms", c.hash_wall_ms},
                                    {"verify_wall_ms", c.verify_wall_ms}});
  return boost::json::object{{"hash_costs", std::move(a)}};
}

}  // namespace qc::bench
