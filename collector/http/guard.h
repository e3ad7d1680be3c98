// What keeps unauthenticated clients from holding the collector's memory
// or connections (the HTTP front sees every client before any signature
// is checked):
//  - deadlines per phase: a connection's request headers must be complete
//    within `header_timeout` of its start (or of its previous answer, on a
//    kept-alive connection), and a body must arrive within `body_grace`
//    plus its length at `body_min_rate`; a connection past its deadline is
//    shut down, whatever trickle it keeps sending (one byte a second used
//    to keep it open for ever);
//  - one budget for the bodies being received and processed, reserved
//    from a request's Content-Length before any of it is buffered: a
//    request the budget cannot take is answered 503 with Retry-After, and
//    the bytes come back when it ends.
// The per-address connection cap is libmicrohttpd's own
// (MHD_OPTION_PER_IP_CONNECTION_LIMIT).
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <thread>

namespace bt::collector::http {

struct GuardLimits {
  std::chrono::milliseconds header_timeout{10'000};
  std::chrono::milliseconds body_grace{10'000};
  uint64_t body_min_rate = 32u << 10;  // bytes per second a body may not fall below
  uint64_t max_inflight_bytes = 256u << 20;
};

class Guard {
 public:
  // `on_missed` runs (on the guard's thread) for each connection cut.
  Guard(GuardLimits limits, std::function<void()> on_missed);
  ~Guard();
  Guard(const Guard&) = delete;
  Guard& operator=(const Guard&) = delete;

  // A connection (`key`, its socket `fd`) opened, or is waiting for its
  // next request: its headers are due.
  void expect_headers(const void* key, int fd);
  // Its headers are in and `body_bytes` of body follow: they are due.
  void expect_body(const void* key, uint64_t body_bytes);
  // The collector itself is working on its request (verifying, waiting for
  // the store): no deadline until the answer is sent.
  void busy(const void* key);
  // The connection is being closed (before its fd is: see server.cpp).
  void forget(const void* key);

  bool reserve(uint64_t bytes);
  void release(uint64_t bytes);

 private:
  struct Watched {
    int fd;
    std::chrono::steady_clock::time_point due;
  };
  void watch();

  const GuardLimits limits_;
  const std::function<void()> on_missed_;
  mutable std::mutex mu_;
  std::condition_variable wake_;
  std::map<const void*, Watched> watched_;
  uint64_t inflight_ = 0;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace bt::collector::http
