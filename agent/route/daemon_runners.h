// CI runners: the long-lived processes whose children are builds. The
// kernel recognises a runner by its task name after exec; rules that also
// need an argv or cgroup match are confirmed here, from /proc.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "agent/capture/ebpf/sensor.h"
#include "common/result.h"

namespace bt::agent::daemon {

struct RunnerRule {
  std::string ci;             // jenkins, github, gitlab, ...
  std::string comm;           // task name: the program's file name, first 15 bytes
  std::string argv_contains;  // some argument contains this (empty: any)
  std::string cgroup_contains;  // /proc/<pid>/cgroup contains this (empty: any)
};

const std::vector<RunnerRule>& default_runners();

// "ci:comm[:argv-substring[:cgroup-substring]]", comma-separated (config key
// daemon.runners, flag --runner). Errors name the bad spec.
Result<std::vector<RunnerRule>> parse_runners(std::string_view specs);

// The kernel's view: task names, confirmed when the name alone decides.
std::vector<ebpf::RunnerComm> runner_comms(const std::vector<RunnerRule>& rules);

// The rule process `pid` matches, read from /proc; nullopt if none (or gone).
std::optional<RunnerRule> match_runner(const std::vector<RunnerRule>& rules, uint32_t pid);

// Runners already running (the daemon started after them).
std::vector<std::pair<uint32_t, RunnerRule>> find_runners(const std::vector<RunnerRule>& rules);

}  // namespace bt::agent::daemon
