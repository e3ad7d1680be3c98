#include "agent/route/lineage.h"

#include "common/fs.h"
#include "common/log.h"

namespace bt::agent::route {

Lineage::Lineage(Router& router, std::vector<attribution::RunnerRule> runners)
    : router_(router), runners_rules_(std::move(runners)) {}

void Lineage::on(const capture::Observation& o) {
  if (const auto* fork = std::get_if<capture::Fork>(&o)) return on_fork(*fork);
  const uint64_t pid = capture::pid_of(o);
  const auto it = build_of_.find(pid);
  if (it == build_of_.end()) {
    if (const auto* exec = std::get_if<capture::Exec>(&o)) on_runner_exec(*exec);
    if (std::holds_alternative<capture::Exit>(o)) runners_.erase(pid);
    return;  // outside builds
  }
  const capture::BuildKey build = it->second;
  if (std::holds_alternative<capture::Exit>(o)) build_of_.erase(it);
  router_.on(o, {build});
}

void Lineage::on_fork(const capture::Fork& f) {
  capture::InBuild where;
  if (runners_.count(f.parent_pid)) {
    where.build = {static_cast<uint32_t>(f.child_pid), f.child_start_ns};
    where.starts_build = true;
  } else if (const auto parent = build_of_.find(f.parent_pid); parent != build_of_.end()) {
    where.build = parent->second;
  } else {
    return;  // outside builds
  }
  build_of_[f.child_pid] = where.build;
  router_.on(f, where);
}

// Outside builds: is the program (still) a runner whose children are builds?
void Lineage::on_runner_exec(const capture::Exec& x) {
  const std::string_view comm = fs::base_name(x.argv.empty() ? x.exe : x.argv[0]);
  const auto cgroup = [pid = x.pid] {
    auto text = fs::read_file("/proc/" + std::to_string(pid) + "/cgroup", 1 << 16);
    return text ? std::move(*text) : std::string();
  };
  const attribution::RunnerRule* rule = attribution::match_runner(runners_rules_, {comm, x.exe, x.argv, cgroup});
  if (!rule) {
    runners_.erase(x.pid);
    return;
  }
  if (runners_.insert(x.pid).second)
    log::info("run", "session: runner pid " + std::to_string(x.pid) + " (" + rule->ci + ")");
}

}  // namespace bt::agent::route
