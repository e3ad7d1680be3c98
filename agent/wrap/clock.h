// The wall-clock time stamped on the wrap backend's observations.
#pragma once

#include <time.h>

#include <cstdint>

namespace bt::agent::wrap {

inline uint64_t wall_ns() {
  timespec ts{};
  ::clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<uint64_t>(ts.tv_nsec);
}

}  // namespace bt::agent::wrap
