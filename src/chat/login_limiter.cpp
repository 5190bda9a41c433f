#include "chat/login_limiter.h"

namespace qc::chat {

using std::chrono::milliseconds;

login_limiter::login_limiter(std::size_t limit, milliseconds window, std::size_t max_keys)
    : limit_(limit), window_(window.count() > 0 ? window : milliseconds(1)), max_keys_(max_keys > 0 ? max_keys : 1) {}

milliseconds login_limiter::retry_after(const std::string& key, clock::time_point now) const {
  if (!enabled()) return milliseconds(0);
  auto it = keys_.find(key);
  if (it == keys_.end()) return milliseconds(0);
  const auto end = it->second.window_start + window_;
  if (now >= end || it->second.attempts < limit_) return milliseconds(0);
  auto left = std::chrono::ceil<milliseconds>(end - now);
  return left.count() > 0 ? left : milliseconds(1);
}

void login_limiter::place(map::iterator it, clock::time_point now) {
  auto& e = it->second;
  if (e.pos != std::list<std::string>::iterator{}) (e.at_limit ? at_ : under_).erase(e.pos);
  e.at_limit = e.attempts >= limit_;
  auto& list = e.at_limit ? at_ : under_;
  e.listed_at = now;
  e.pos = list.insert(list.end(), it->first);
}

void login_limiter::erase(map::iterator it) {
  (it->second.at_limit ? at_ : under_).erase(it->second.pos);
  keys_.erase(it);
}

milliseconds login_limiter::try_acquire(const std::string& key, clock::time_point now) {
  if (!enabled()) return milliseconds(0);
  auto it = keys_.find(key);
  if (it == keys_.end()) {
    if (keys_.size() >= max_keys_) {
      prune(now);
      if (keys_.size() >= max_keys_) {
        if (under_.empty()) {
          // Every tracked key is locked out: never lock out a newcomer too.
          ++untracked_;
          return milliseconds(0);
        }
        ++evicted_;
        erase(keys_.find(under_.front()));
      }
    }
    it = keys_.emplace(key, entry{now, now, 0, false, {}}).first;
    place(it, now);
  } else if (expired(it->second, now)) {
    it->second.window_start = now;
    it->second.attempts = 0;
    place(it, now);
  }
  if (it->second.attempts >= limit_) return retry_after(key, now);
  if (++it->second.attempts >= limit_) place(it, now);
  return milliseconds(0);
}

void login_limiter::refund(const std::string& key, clock::time_point now) {
  auto it = keys_.find(key);
  if (it == keys_.end() || it->second.attempts == 0) return;
  if (--it->second.attempts < limit_ && it->second.at_limit) place(it, now);
}

void login_limiter::clear(const std::string& key) {
  auto it = keys_.find(key);
  if (it != keys_.end()) erase(it);
}

void login_limiter::prune(clock::time_point now) {
  // listed_at >= window_start, so a front key listed a whole window ago has
  // surely expired; the lists are in listed_at order, so stop at the first
  // that has not. (A key that expired but was listed later goes on a later
  // prune, at most one window late; lookups treat it as expired already.)
  for (auto* list : {&under_, &at_}) {
    while (!list->empty()) {
      auto it = keys_.find(list->front());
      if (now < it->second.listed_at + window_) break;
      erase(it);
    }
  }
}

}  // namespace qc::chat
