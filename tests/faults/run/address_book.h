// The addresses clients may connect to: the cluster's current members
// (dead or alive; clients fail over on their own). The nemesis updates it
// as membership changes.
//
// Owned by: shared; every method locks.
#pragma once

#include <mutex>
#include <random>
#include <string>
#include <vector>

namespace qc::faults {

/// A thread-safe list of "host:port" strings.
class address_book {
 public:
  void set(std::vector<std::string> a) {
    std::lock_guard g(mu_);
    addrs_ = std::move(a);
  }
  std::vector<std::string> all() const {
    std::lock_guard g(mu_);
    return addrs_;
  }
  /// A random address other than `avoid` when there is a choice.
  std::string pick(std::mt19937_64& rng, const std::string& avoid = {}) const {
    std::lock_guard g(mu_);
    if (addrs_.empty()) return {};
    for (int i = 0; i < 8; ++i) {
      const auto& a = addrs_[rng() % addrs_.size()];
      if (a != avoid || addrs_.size() == 1) return a;
    }
    return addrs_.front();
  }

 private:
  mutable std::mutex mu_;
  std::vector<std::string> addrs_;
};

}  // namespace qc::faults
