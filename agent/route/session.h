// `run --session`: one wrap around a whole CI runner service, many jobs.
// The wrap backend reports every process under it; this observer finds the
// runners among them (attribution's known runners, by program and
// arguments) and makes each process a runner forks a job of its own, with
// its own enrichment pipeline, attributed from the identity variables of
// its execs' environments (until one names the job: GitLab exports CI_*
// late). Processes outside jobs -- the runner service itself -- are not
// recorded. The daemon does the same with the kernel's help
// (agent/route/builds.h).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <unordered_map>
#include <unordered_set>

#include "agent/enrich/rules/attribution.h"
#include "agent/capture/observation.h"
#include "agent/enrich/pipeline.h"

namespace bt::agent::session {

class Router : public capture::Observer {
 public:
  // `environment_of(pid)`: the identity variables of a process just exec'd.
  using EnvironmentOf = std::function<attribution::Environment(uint64_t pid)>;
  Router(enrich::Config base, enrich::Pipeline::Sink sink, EnvironmentOf environment_of);
  ~Router() override;
  // The wrap ends: jobs still running end with exit code -1.
  void end_all();
  uint64_t jobs_started() const { return jobs_started_; }

  void on_fork(const capture::Fork&) override;
  void on_exec(const capture::Exec&) override;
  void on_exit(const capture::Exit&) override;
  void on_open(const capture::Open&) override;
  void on_connect(const capture::Connect&) override;
  void on_process_access(const capture::ProcessAccess&) override;
  void on_dns(const capture::Dns&) override;
  bool wants_open(std::string_view basename) const override { return prototype_.wants_open(basename); }

 private:
  struct Job;
  enrich::Pipeline* pipeline_of(uint64_t pid) const;
  void start(Job& job, const capture::Exec& first);

  enrich::Config base_;
  enrich::Pipeline::Sink sink_;
  EnvironmentOf environment_of_;
  enrich::Pipeline prototype_;  // answers wants_open: every job has the same rules
  std::unordered_set<uint64_t> runners_;
  std::unordered_map<uint64_t, std::shared_ptr<Job>> job_of_;  // pid -> its job
  uint64_t jobs_started_ = 0;
};

}  // namespace bt::agent::session
