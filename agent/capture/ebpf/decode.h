// Ring-buffer records (record.h) decoded into observations
// (capture/observation.h) with the build the kernel says each belongs to.
// The bytes come from the kernel but carry strings a build chose (argv,
// environment, paths, DNS payloads), so every length is checked against the
// record's size: a malformed record is an error value, never a crash.
// tests/fuzz has a target for decode().
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <variant>
#include <vector>

#include "agent/capture/observation.h"
#include "common/result.h"

namespace bt::agent::ebpf {

// Converts kernel times (CLOCK_BOOTTIME) to wall time and process start
// times to the clock-tick resolution /proc reports, so process keys match
// those `run` derives from /proc.
class Clock {
 public:
  Clock();
  void refresh();  // re-reads the offset (NTP may step the wall clock)
  uint64_t wall_ns(uint64_t boot_ns) const { return boot_ns + offset_ns_; }
  uint64_t start_ns(uint64_t boot_ns) const { return boot_ns - boot_ns % tick_ns_; }

 private:
  uint64_t offset_ns_ = 0;
  uint64_t tick_ns_ = 10000000;
};

// What a build process did, and which build it is in.
struct Observed {
  capture::InBuild where;
  capture::Observation what;
};

// A process outside builds exec'd a program whose task name is a runner's:
// user space confirms it (argv, cgroup) unless the name alone decides.
struct RunnerExec {
  uint32_t pid = 0;
  bool confirmed = false;  // the name alone makes it a runner: the kernel tracks it already
};

// A well-formed record with nothing to report: a DNS datagram that is not
// an answer, a connect on another kind of socket, a failed process access,
// a failed open of a relative name whose folder the kernel could not walk.
struct Nothing {};

using Record = std::variant<Observed, RunnerExec, Nothing>;

Result<Record> decode(std::span<const uint8_t> bytes, const Clock& clock);

// "a\0b\0c\0" -> {a, b, c}; a missing final NUL keeps the last string.
std::vector<std::string> split_nul(std::span<const uint8_t> bytes);

}  // namespace bt::agent::ebpf
