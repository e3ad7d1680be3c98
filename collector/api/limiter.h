// Failed credentials per client address: after `max_failures` in a sliding
// `window_ns`, the address is refused (429) until its oldest failure in the
// window has aged out. Anyone who can reach the listener can guess, so the
// state is bounded: at most `max_addresses` addresses are remembered, IPv6
// ones by their /64 (one host usually holds a whole /64); when that many
// have failed within a window the oldest is forgotten first.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <unordered_map>

namespace bt::collector::api {

class FailureLimiter {
 public:
  struct Limits {
    std::size_t max_failures = 10;
    uint64_t window_ns = 60ull * 1000000000;
    std::size_t max_addresses = 10000;
  };
  explicit FailureLimiter(Limits limits) : limits_(limits) {}

  // Thread-safe; `now_ns` is a monotonic clock. Seconds to wait when the
  // address is refused now, 0 when it may try.
  int refused_for_s(const std::string& address, uint64_t now_ns);
  // Counts a failure; true when it is the one that makes the address refused.
  bool failed(const std::string& address, uint64_t now_ns);

  // What an address is counted under (IPv6: its /64).
  static std::string key_of(const std::string& address);

 private:
  void forget_expired(uint64_t now_ns);
  void forget_oldest();

  std::mutex mu_;
  Limits limits_;
  std::unordered_map<std::string, std::deque<uint64_t>> failures_;  // times, oldest first, at most max_failures
};

}  // namespace bt::collector::api
