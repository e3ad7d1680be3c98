// The daemon's builds: routes the sensor's records to one enrichment
// pipeline per build (the same agent/enrich code `run` uses). A build
// starts when a runner forks; its attribution comes from the environment of
// its first exec; it ends when its first process exits. Records of a build
// whose first exec has not arrived yet are held, bounded.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "agent/ebpf/decode.h"
#include "agent/enrich/pipeline.h"

namespace bt::agent::daemon {

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

class Builds {
 public:
  // `base`: envelope, secret rules and metadata endpoints shared by all builds.
  Builds(enrich::Config base, enrich::Pipeline::Sink sink);
  ~Builds();
  void on_record(const ebpf::Record& r);
  // The daemon stops: builds still running end with exit code -1.
  void end_all();
  // Re-reads the wall clock's offset (once per poll of the sensor).
  void refresh_clock() { clock_.refresh(); }

 private:
  struct Build;
  struct KeyLess {
    bool operator()(const ebpf::BuildKey& a, const ebpf::BuildKey& b) const {
      return a.root_tgid != b.root_tgid ? a.root_tgid < b.root_tgid : a.root_start_ns < b.root_start_ns;
    }
  };
  Build& build_for(const ebpf::Record& r);
  void start_pipeline(Build& b, const ebpf::Record& first_exec);
  void deliver(Build& b, const ebpf::Record& r);

  enrich::Config base_;
  enrich::Pipeline::Sink sink_;
  Clock clock_;
  std::map<ebpf::BuildKey, std::unique_ptr<Build>, KeyLess> builds_;
};

}  // namespace bt::agent::daemon
