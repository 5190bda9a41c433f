#include "chat/login_limiter.h"

namespace qc::chat {

using std::chrono::milliseconds;

login_limiter::login_limiter(std::size_t limit, milliseconds window, std::size_t max_keys)
    : limit_(limit), window_(window.count() > 0 ? window : milliseconds(1)), max_keys_(max_keys) {}

milliseconds login_limiter::retry_after(const std::string& key, clock::time_point now) const {
  if (!enabled()) return milliseconds(0);
  auto it = keys_.find(key);
  if (it == keys_.end()) return milliseconds(0);
  const auto end = it->second.window_start + window_;
  if (now >= end || it->second.attempts < limit_) return milliseconds(0);
  auto left = std::chrono::ceil<milliseconds>(end - now);
  return left.count() > 0 ? left : milliseconds(1);
}

milliseconds login_limiter::try_acquire(const std::string& key, clock::time_point now) {
  if (!enabled()) return milliseconds(0);
  auto it = keys_.find(key);
  if (it == keys_.end()) {
    if (keys_.size() >= max_keys_) {
      prune(now);
      if (keys_.size() >= max_keys_) return window_;  // fail closed under a flood of new keys
    }
    it = keys_.emplace(key, entry{now, 0}).first;
  } else if (now >= it->second.window_start + window_) {
    it->second = entry{now, 0};
  }
  if (it->second.attempts >= limit_) return retry_after(key, now);
  ++it->second.attempts;
  return milliseconds(0);
}

void login_limiter::refund(const std::string& key) {
  auto it = keys_.find(key);
  if (it != keys_.end() && it->second.attempts > 0) --it->second.attempts;
}

void login_limiter::clear(const std::string& key) { keys_.erase(key); }

void login_limiter::prune(clock::time_point now) {
  for (auto it = keys_.begin(); it != keys_.end();) {
    if (now >= it->second.window_start + window_) it = keys_.erase(it);
    else ++it;
  }
}

}  // namespace qc::chat
