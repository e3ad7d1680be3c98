// The daemon's builds: routes the sensor's records to one enrichment
// pipeline per job (the same agent/enrich code `run` uses). A build starts
// when a runner forks; its attribution comes from the environment of its
// first exec; records of a build whose first exec has not arrived yet are
// held, bounded. By itself a build is a job, which ends when its first
// process exits. A CI hook's `job begin` (agent/job) makes the caller's
// build a job that spans the runner's later children -- the steps of a
// GitHub job, a GitLab job's later stages -- until `job end`, or until it
// has had no live process for `idle` (hooks that never ran).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "agent/capture/ebpf/decode.h"
#include "agent/enrich/pipeline.h"
#include "agent/route/job_protocol.h"

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
  Builds(enrich::Config base, enrich::Pipeline::Sink sink, uint64_t job_idle_ns = 300'000'000'000ull);
  ~Builds();
  void on_record(const ebpf::Record& r);
  // `job begin|end` from a process of build `caller`, about its own job
  // only; the reply says what happened, or why nothing did. A build already
  // attributed keeps its identity: begin names only one that has none.
  job::Reply begin_job(const ebpf::BuildKey& caller, const job::Request& request);
  job::Reply end_job(const ebpf::BuildKey& caller, const job::Request& request);
  // Ends begun jobs idle for longer than `job_idle_ns` (exit code -1).
  void expire_jobs();
  // The daemon stops: builds and jobs still running end with exit code -1.
  void end_all();
  // Re-reads the wall clock's offset (once per poll of the sensor).
  void refresh_clock() { clock_.refresh(); }

 private:
  struct Job;
  struct Build;
  struct KeyLess {
    bool operator()(const ebpf::BuildKey& a, const ebpf::BuildKey& b) const {
      return a.root_tgid != b.root_tgid ? a.root_tgid < b.root_tgid : a.root_start_ns < b.root_start_ns;
    }
  };
  Build& build_for(const ebpf::Record& r);
  void start_pipeline(Build& b, const ebpf::Record& first_exec);
  void deliver(Build& b, const ebpf::Record& r);
  std::shared_ptr<Job> open_job_for(uint32_t runner, const events::Build& who) const;
  void forget(const ebpf::BuildKey& key);

  enrich::Config base_;
  enrich::Pipeline::Sink sink_;
  Clock clock_;
  std::map<ebpf::BuildKey, std::unique_ptr<Build>, KeyLess> builds_;
  std::vector<std::shared_ptr<Job>> open_jobs_;  // begun, not ended
  uint64_t job_idle_ns_;
};

}  // namespace bt::agent::daemon
