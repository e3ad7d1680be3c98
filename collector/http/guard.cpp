#include "collector/http/guard.h"

#include <sys/socket.h>

#include <algorithm>

namespace bt::collector::http {

namespace {
// How often the watch thread looks for connections past their deadline:
// a deadline is kept to within this.
constexpr auto kTick = std::chrono::milliseconds(200);
}  // namespace

Guard::Guard(GuardLimits limits, std::function<void()> on_missed)
    : limits_(limits), on_missed_(std::move(on_missed)), thread_([this] { watch(); }) {}

Guard::~Guard() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

void Guard::expect_headers(const void* key, int fd) {
  std::lock_guard lock(mu_);
  watched_[key] = {fd, std::chrono::steady_clock::now() + limits_.header_timeout};
}

void Guard::expect_body(const void* key, uint64_t body_bytes) {
  const auto transfer = std::chrono::milliseconds(body_bytes * 1000 / std::max<uint64_t>(1, limits_.body_min_rate));
  std::lock_guard lock(mu_);
  if (auto it = watched_.find(key); it != watched_.end())
    it->second.due = std::chrono::steady_clock::now() + limits_.body_grace + transfer;
}

void Guard::busy(const void* key) {
  std::lock_guard lock(mu_);
  if (auto it = watched_.find(key); it != watched_.end()) it->second.due = std::chrono::steady_clock::time_point::max();
}

void Guard::forget(const void* key) {
  std::lock_guard lock(mu_);
  watched_.erase(key);
}

bool Guard::reserve(uint64_t bytes) {
  std::lock_guard lock(mu_);
  if (bytes > limits_.max_inflight_bytes - std::min(inflight_, limits_.max_inflight_bytes)) return false;
  inflight_ += bytes;
  return true;
}

void Guard::release(uint64_t bytes) {
  std::lock_guard lock(mu_);
  inflight_ -= std::min(inflight_, bytes);
}

// Shuts down the sockets of connections past their deadline. The server
// forgets a connection before libmicrohttpd closes its fd, and both happen
// under `mu_` here, so the fd shut down is always the connection's own:
// never one a later connection got the same number for. libmicrohttpd's
// thread for the connection then sees the end of its socket and cleans up.
void Guard::watch() {
  std::unique_lock lock(mu_);
  while (!wake_.wait_for(lock, kTick, [&] { return stopping_; })) {
    const auto now = std::chrono::steady_clock::now();
    for (auto it = watched_.begin(); it != watched_.end();) {
      if (it->second.due > now) {
        ++it;
        continue;
      }
      ::shutdown(it->second.fd, SHUT_RDWR);
      if (on_missed_) on_missed_();
      it = watched_.erase(it);
    }
  }
}

}  // namespace bt::collector::http
