// CI runners: the long-lived processes whose children are builds, declared
// once. The daemon's kernel and `run --session` start a build at every
// child of a runner that starts builds (agent/route); a build that reads any
// runner's /proc/<pid>/environ or mem is after its credentials
// (agent/enrich). Users add runners this table does not know with the
// agent's `daemon.runners` (parse_runners()).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "agent/capture/observation.h"
#include "common/result.h"

namespace bt::agent::attribution {

struct RunnerRule {
  std::string ci;             // jenkins, github, gitlab, buildkite, azure, circleci, or the user's name
  std::string name;           // task name or executable file name (the kernel sees the first 15 bytes)
  std::string argument;       // "": any; else an argument after the program that is it, or a path ending in /it
  std::string cgroup;         // "": any; else a substring of /proc/<pid>/cgroup
  bool starts_builds = true;  // its children are builds (a listener's are workers)
};

// The runners buildtrail knows, listeners included.
std::span<const RunnerRule> known_runners();
// The known ones whose children are builds, and `extra`.
std::vector<RunnerRule> build_runners(std::span<const RunnerRule> extra = {});

// The task names a kernel-side matcher watches for (the task name or the
// executable's file name at exec), each with what makes a process of that
// name a runner: the name alone; else one of `arguments`, an argument
// after the program that is it or a path whose last component is it,
// which the kernel checks at exec; else, when `ask`, user space confirms
// it from /proc (match_runner(): cgroup rules, arguments with a '/' or
// longer than the kernel's key).
struct TaskName {
  std::string name;
  bool decides = false;
  std::vector<std::string> arguments;
  bool ask = false;
};
inline constexpr std::size_t kKernelArgumentMax = 63;  // BT_NAME_MAX - 1: the kernel's key
std::vector<TaskName> task_names(std::span<const RunnerRule> rules);

// "ci:name[:argument[:cgroup-substring]]", comma-separated (the agent's
// daemon.runners, `daemon --runner`). Errors name the bad spec.
Result<std::vector<RunnerRule>> parse_runners(std::string_view specs);

// What a runner is recognised by. The name is checked against both the
// task name and the executable's file name, because either may mislead:
// the task name is settable, and a runner started through a symlink or an
// interpreter has another executable.
struct ProcessFacts {
  std::string_view comm;
  std::string_view exe;
  const std::vector<std::string>& argv;
  std::function<std::string()> cgroup;  // read only when a rule asks
};

// The first rule the process matches; null when none.
const RunnerRule* match_runner(std::span<const RunnerRule> rules, const ProcessFacts& process);
// The same for live process `pid`, read from /proc; null when none or gone.
const RunnerRule* match_runner(std::span<const RunnerRule> rules, uint64_t pid);
// The one classification of a read of another process's /proc files,
// for both modes: is `target` a CI runner? From the facts the capture read
// at the open (the daemon's kernel: task name, executable, whether it
// tracks it as a runner) or from /proc (read_target(), for `run`, whose
// target is alive while the open waits). Arguments and cgroup, which some
// rules need, are read from /proc only while the same process (pid and
// start time) is alive.
bool is_runner(std::span<const RunnerRule> rules, const capture::ProcTarget& target);
// Live process `pid` (or the process of thread `pid`) as a ProcTarget,
// read from /proc; empty strings when gone.
capture::ProcTarget read_target(uint64_t pid);
// Every live process that matches (runners started before the daemon).
std::vector<std::pair<uint32_t, const RunnerRule*>> find_runners(std::span<const RunnerRule> rules);

}  // namespace bt::agent::attribution
