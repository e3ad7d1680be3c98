// Routes observations to one enrichment pipeline (agent/enrich) per build,
// for every capture backend. A build starts where a CI runner forks (the
// capture says so: InBuild::starts_build), or is the whole wrapped command
// (`run`). Its pipeline starts at its first exec, attributed from that
// exec's identity variables; what the build did before is held, bounded.
// By itself a build is a job, which ends when its first process exits. A
// CI hook's `job begin` (agent/route/job_socket) makes the caller's build a
// job that spans the runner's later children -- the steps of a GitHub job,
// a GitLab job's later stages -- until `job end`, or until it has had no
// live process for `job_idle_ns` (hooks that never ran).
//
// Which build a process belongs to comes with each observation: the
// daemon's kernel tracks it; for `run --session`, agent/route/lineage does.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "agent/capture/observation.h"
#include "agent/enrich/pipeline.h"
#include "agent/enrich/rules/attribution.h"
#include "agent/route/job_protocol.h"

namespace bt::agent::route {

struct Options {
  std::string mode;  // build_start's: wrap or daemon
  uint64_t job_idle_ns = 300'000'000'000ull;
  // The identity variables of live process `pid`, for an exec the capture
  // read none for (a build older than the daemon; every exec under wrap).
  std::function<attribution::Environment(uint64_t pid)> environment_of;
};

class Router {
 public:
  // `base`: envelope, secret rules and metadata endpoints shared by all builds.
  Router(enrich::Config base, enrich::Pipeline::Sink sink, Options options);
  ~Router();
  Router(const Router&) = delete;
  Router& operator=(const Router&) = delete;

  void on(const capture::Observation& observation, const capture::InBuild& where);
  // Every build's pipeline applies the same rules.
  bool wants_open(std::string_view basename) const { return prototype_.wants_open(basename); }
  bool wants_result(const capture::Open& open) const { return prototype_.wants_result(open); }

  // `job begin|end` from a process of build `caller`, about its own job
  // only; the reply says what happened, or why nothing did. A build already
  // attributed keeps its identity: begin names only one that has none, and
  // never with an id another build on this host already has (a build could
  // otherwise pass its events off as another's).
  job::Reply begin_job(const capture::BuildKey& caller, const job::Request& request);
  job::Reply end_job(const capture::BuildKey& caller, const job::Request& request);
  // Ends begun jobs idle for longer than `job_idle_ns` (exit code -1).
  void expire_jobs();
  // The capture ends: builds and jobs still running end with exit code -1.
  void end_all();
  uint64_t jobs_started() const { return jobs_started_; }

 private:
  struct Job;
  struct Build;
  Build& build_for(const capture::BuildKey& key);
  void count_process(Build& b, const capture::Observation& o, const capture::InBuild& where);
  void start_job(Build& b, const capture::Exec& first);
  void deliver(Build& b, const capture::Observation& o);
  void attribute_late(Job& job, const capture::Exec& exec);
  void after_exit(Build& b, const capture::Exit& x, const capture::BuildKey& key);
  attribution::Environment identity_of(const capture::Exec& exec) const;
  std::shared_ptr<Job> open_job_for(uint64_t runner, const events::Build& who) const;
  const Job* job_with_id(const std::string& id, const Job* except) const;
  void end(Job& job, int64_t exit_code, int64_t signal);
  void forget(const capture::BuildKey& key);

  enrich::Config base_;
  enrich::Pipeline::Sink sink_;
  Options options_;
  enrich::Pipeline prototype_;  // answers wants_open
  std::map<capture::BuildKey, std::unique_ptr<Build>> builds_;
  std::vector<std::shared_ptr<Job>> open_jobs_;  // begun, not ended
  uint64_t jobs_started_ = 0;
};

}  // namespace bt::agent::route
