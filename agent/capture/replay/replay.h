// The replay capture backend: feeds recorded events (JSON lines, the format
// of docs/events.md) or generated ones through the agent's pipeline. It is
// how batches are produced without a live capture: for re-sending recorded
// trails, for tests and for the pipeline benchmark. Recorded events keep
// their build, process and data; agent id and host become this agent's.
#pragma once

#include <cstdint>
#include <string>

#include "agent/runtime/agent.h"

namespace bt::agent::replay {

// Pushes every line of `path` ("-" for stdin). Bad lines are skipped with a
// one-line error naming the line number. Applies back-pressure when the
// queue is full. Returns the number of events pushed.
uint64_t from_jsonl(core::Agent& agent, const std::string& path);

// Pushes `count` generated process_exec/process_exit events.
uint64_t synthetic(core::Agent& agent, uint64_t count);

// `buildtrail-agent replay [--events FILE|-] [--synthetic N] [agent flags]`
int run(int argc, char** argv);
// `buildtrail-agent flush [agent flags]`: send what is in the spool and exit.
int flush(int argc, char** argv);
// `buildtrail-agent status [--state-dir DIR]`
int status(int argc, char** argv);

}  // namespace bt::agent::replay
