// A realistic mix of build events for benchmarks: a compile-heavy build with
// real-looking argv, paths, DNS names and addresses, in the proportions a
// C/C++ or Node build produces (mostly exec/exit, some network, a few
// secrets and uploads).
#pragma once

#include <cstdint>
#include <vector>

#include "common/events/event.h"

namespace bt::bench {

std::vector<events::Event> realistic_events(std::size_t n, uint64_t seed = 42);

}  // namespace bt::bench
