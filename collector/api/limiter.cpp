#include "collector/api/limiter.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cstring>

namespace bt::collector::api {

std::string FailureLimiter::key_of(const std::string& address) {
  in6_addr a6{};
  if (address.find(':') == std::string::npos || inet_pton(AF_INET6, address.c_str(), &a6) != 1) return address;
  std::memset(a6.s6_addr + 8, 0, 8);
  char text[INET6_ADDRSTRLEN] = {};
  inet_ntop(AF_INET6, &a6, text, sizeof text);
  return std::string(text) + "/64";
}

int FailureLimiter::refused_for_s(const std::string& address, uint64_t now_ns) {
  std::lock_guard lock(mu_);
  auto it = failures_.find(key_of(address));
  if (it == failures_.end()) return 0;
  auto& times = it->second;
  while (!times.empty() && now_ns - times.front() >= limits_.window_ns) times.pop_front();
  if (times.empty()) {
    failures_.erase(it);
    return 0;
  }
  if (times.size() < limits_.max_failures) return 0;
  const uint64_t wait_ns = times.front() + limits_.window_ns - now_ns;
  return static_cast<int>(std::max<uint64_t>(1, (wait_ns + 999999999) / 1000000000));
}

bool FailureLimiter::failed(const std::string& address, uint64_t now_ns) {
  std::lock_guard lock(mu_);
  const std::string key = key_of(address);
  if (!failures_.count(key) && failures_.size() >= limits_.max_addresses) {
    forget_expired(now_ns);
    if (failures_.size() >= limits_.max_addresses) forget_oldest();
  }
  auto& times = failures_[key];
  while (!times.empty() && now_ns - times.front() >= limits_.window_ns) times.pop_front();
  const bool reaches_limit = times.size() + 1 == limits_.max_failures;
  times.push_back(now_ns);
  while (times.size() > limits_.max_failures) times.pop_front();
  return reaches_limit;
}

void FailureLimiter::forget_expired(uint64_t now_ns) {
  for (auto it = failures_.begin(); it != failures_.end();) {
    const bool expired = it->second.empty() || now_ns - it->second.back() >= limits_.window_ns;
    it = expired ? failures_.erase(it) : std::next(it);
  }
}

// The address whose last failure is the oldest; a linear pass, only when
// max_addresses addresses all failed within one window.
void FailureLimiter::forget_oldest() {
  const auto last = [](const std::deque<uint64_t>& times) { return times.empty() ? 0 : times.back(); };
  auto oldest = failures_.begin();
  for (auto it = failures_.begin(); it != failures_.end(); ++it)
    if (last(it->second) < last(oldest->second)) oldest = it;
  if (oldest != failures_.end()) failures_.erase(oldest);
}

}  // namespace bt::collector::api
