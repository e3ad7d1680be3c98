// The replay capture backend: recorded events (JSON lines, the format of
// docs/events.md) or generated ones, handed to the agent's transport as
// they are -- no enrichment: they are events already. It is how batches are
// produced without a live capture: for re-sending recorded trails, for
// tests and for the pipeline benchmark. Recorded events keep their build,
// process and data; agent id and host become this agent's.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "common/events/event.h"

namespace bt::agent::replay {

// Where replayed events go (the agent's queue, with back-pressure), and
// when to give up (the agent is stopping).
struct Target {
  events::Event envelope;  // agent id and host to stamp on each event
  std::function<void(events::Event&&)> push;
  std::function<void()> wake;  // let the agent drain what was pushed
  std::function<bool()> stopped;
};

// Pushes every line of `path` ("-" for stdin). Bad lines are skipped with a
// one-line error naming the line number. Returns the number of events pushed.
uint64_t from_jsonl(const std::string& path, const Target& target);

// Pushes `count` generated process_exec/process_exit events.
uint64_t synthetic(uint64_t count, const Target& target);

}  // namespace bt::agent::replay
