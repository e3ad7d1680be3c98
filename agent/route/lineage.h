// Which build each process belongs to, for a capture that does not track
// builds itself: `run --session` wraps a whole CI runner service, and the
// wrap backend reports every process under it. As the daemon's kernel does
// (capture/ebpf/sensor.bpf.c), this finds the runners among them (at exec,
// by the runner rules), makes each child a runner forks the root of a
// build, and hands every observation of a build's processes to the router
// with its build. Processes outside builds -- the runner service itself --
// are not recorded.
#pragma once

#include <cstdint>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "agent/capture/observation.h"
#include "agent/enrich/rules/runners.h"
#include "agent/route/router.h"

namespace bt::agent::route {

class Lineage final : public capture::Sink {
 public:
  // `runners`: the rules of runners whose children are builds.
  Lineage(Router& router, std::vector<attribution::RunnerRule> runners);

  void on(const capture::Observation& observation) override;
  bool wants_open(std::string_view basename) const override { return router_.wants_open(basename); }
  bool wants_result(const capture::Open& open) const override { return router_.wants_result(open); }

 private:
  void on_fork(const capture::Fork& f);
  void on_runner_exec(const capture::Exec& x);

  Router& router_;
  std::vector<attribution::RunnerRule> runners_rules_;
  std::unordered_set<uint64_t> runners_;                      // live runner pids
  std::unordered_map<uint64_t, capture::BuildKey> build_of_;  // pid -> its build
};

}  // namespace bt::agent::route
