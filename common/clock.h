// The clocks buildtrail reads, one function each. Event times are wall
// time (CLOCK_REALTIME: comparable across hosts); durations and deadlines
// use the monotonic clock (NTP steps cannot move them); the kernel stamps
// its records with CLOCK_BOOTTIME (suspend included).
#pragma once

#include <time.h>

#include <cstdint>

namespace bt::clock {

inline uint64_t read_ns(clockid_t id) {
  timespec ts{};
  ::clock_gettime(id, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<uint64_t>(ts.tv_nsec);
}

// Nanoseconds since the Unix epoch, UTC: what an event's time_ns holds.
inline uint64_t now_ns() { return read_ns(CLOCK_REALTIME); }
inline uint64_t monotonic_ns() { return read_ns(CLOCK_MONOTONIC); }
inline uint64_t boottime_ns() { return read_ns(CLOCK_BOOTTIME); }

}  // namespace bt::clock
