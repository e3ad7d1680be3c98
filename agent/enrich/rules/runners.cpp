#include "agent/enrich/rules/runners.h"

#include <dirent.h>

#include <algorithm>
#include <array>

#include "agent/capture/proc/procfs.h"
#include "common/fs.h"

namespace bt::agent::attribution {

namespace {

// Listeners hold the registration key and fork one worker per job; the
// worker holds the job's tokens and forks the steps.
const std::array<RunnerRule, 12> kKnownRunners = {{
    {"jenkins", "java", "agent.jar", "", true},
    {"jenkins", "java", "remoting.jar", "", true},
    {"jenkins", "java", "slave.jar", "", true},
    {"jenkins", "java", "hudson.remoting.jnlp.Main", "", true},
    {"jenkins", "java", "hudson.remoting.Launcher", "", true},
    {"github", "Runner.Listener", "", "", false},
    {"github", "Runner.Worker", "", "", true},
    {"azure", "Agent.Listener", "", "", false},
    {"azure", "Agent.Worker", "", "", true},
    {"gitlab", "gitlab-runner", "", "", true},
    {"buildkite", "buildkite-agent", "", "", true},
    {"circleci", "circleci-agent", "", "", true},
}};

constexpr std::size_t kTaskNameMax = 15;  // TASK_COMM_LEN - 1: what the kernel compares

std::string trim(std::string_view s) {
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
  return std::string(s);
}

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> parts;
  for (std::size_t start = 0;;) {
    const std::size_t at = s.find(sep, start);
    parts.push_back(s.substr(start, at == std::string::npos ? std::string::npos : at - start));
    if (at == std::string::npos) return parts;
    start = at + 1;
  }
}

// `arg` is `want`, or a path whose last components are `want`
// (/home/jenkins/agent.jar for agent.jar; not my-agent.jar).
bool argument_is(std::string_view arg, std::string_view want) {
  return arg == want || (arg.size() > want.size() && arg.ends_with(want) && arg[arg.size() - want.size() - 1] == '/');
}

bool has_argument(const std::vector<std::string>& argv, std::string_view want) {
  for (std::size_t i = 1; i < argv.size(); ++i)
    if (argument_is(argv[i], want)) return true;
  return false;
}

std::string proc_text(uint64_t pid, const char* file) {
  auto r = fs::read_file("/proc/" + std::to_string(pid) + "/" + file, 1 << 16);
  return r ? std::move(*r) : std::string();
}

}  // namespace

std::span<const RunnerRule> known_runners() { return kKnownRunners; }

std::vector<RunnerRule> build_runners(std::span<const RunnerRule> extra) {
  std::vector<RunnerRule> out;
  for (const auto& r : kKnownRunners)
    if (r.starts_builds) out.push_back(r);
  out.insert(out.end(), extra.begin(), extra.end());
  return out;
}

std::vector<TaskName> task_names(std::span<const RunnerRule> rules) {
  std::vector<TaskName> out;
  for (const auto& r : rules) {
    auto it = std::find_if(out.begin(), out.end(), [&](const TaskName& t) { return t.name == r.name; });
    if (it == out.end()) it = out.insert(out.end(), TaskName{r.name, false, {}, false});
    // A name with a rule of the name alone is a runner whatever its other
    // rules ask (match_runner() would find one of them).
    if (!r.cgroup.empty())
      it->ask = true;
    else if (r.argument.empty())
      it->decides = true;
    else if (r.argument.find('/') == std::string::npos && r.argument.size() <= kKernelArgumentMax)
      it->arguments.push_back(r.argument);
    else
      it->ask = true;
  }
  for (auto& t : out)
    if (t.decides) t.arguments.clear(), t.ask = false;
  return out;
}

Result<std::vector<RunnerRule>> parse_runners(std::string_view specs) {
  std::vector<RunnerRule> out;
  while (!specs.empty()) {
    const std::size_t comma = specs.find(',');
    const std::string spec = trim(specs.substr(0, comma));
    specs = comma == std::string_view::npos ? std::string_view() : specs.substr(comma + 1);
    if (spec.empty()) continue;
    const std::vector<std::string> parts = split(spec, ':');
    if (parts.size() < 2 || parts.size() > 4 || parts[0].empty() || parts[1].empty())
      return make_error(ErrorCode::kInvalidArgument,
                        "runner '" + spec + "': expected ci:name[:argument[:cgroup-substring]]");
    if (parts[1].size() > kTaskNameMax)
      return make_error(ErrorCode::kInvalidArgument,
                        "runner '" + spec + "': task names are at most 15 bytes (the kernel's comm)");
    out.push_back({parts[0], parts[1], parts.size() > 2 ? parts[2] : "", parts.size() > 3 ? parts[3] : "", true});
  }
  return out;
}

const RunnerRule* match_runner(std::span<const RunnerRule> rules, const ProcessFacts& process) {
  const std::string_view exe_name = fs::base_name(process.exe);
  std::string cgroup;
  bool have_cgroup = false;
  for (const auto& r : rules) {
    if (r.name != process.comm && r.name != exe_name) continue;
    if (!r.argument.empty() && !has_argument(process.argv, r.argument)) continue;
    if (!r.cgroup.empty()) {
      if (!have_cgroup) cgroup = process.cgroup ? process.cgroup() : std::string(), have_cgroup = true;
      if (cgroup.find(r.cgroup) == std::string::npos) continue;
    }
    return &r;
  }
  return nullptr;
}

const RunnerRule* match_runner(std::span<const RunnerRule> rules, uint64_t pid) {
  std::string comm = proc_text(pid, "comm");
  if (!comm.empty() && comm.back() == '\n') comm.pop_back();
  const std::string exe = procfs::read_link("/proc/" + std::to_string(pid) + "/exe");
  if (comm.empty() && exe.empty()) return nullptr;  // gone
  const std::string_view exe_name = fs::base_name(exe);
  const bool named = std::any_of(rules.begin(), rules.end(),
                                 [&](const RunnerRule& r) { return r.name == comm || r.name == exe_name; });
  if (!named) return nullptr;  // most processes: no need to read their arguments
  const std::vector<std::string> argv = procfs::cmdline(static_cast<pid_t>(pid));
  return match_runner(rules, ProcessFacts{comm, exe, argv, [pid] { return proc_text(pid, "cgroup"); }});
}

bool is_runner(std::span<const RunnerRule> rules, const capture::ProcTarget& target) {
  if (target.runner) return true;  // the capture confirmed it when it began tracking it
  const std::string_view exe_name = fs::base_name(target.exe);
  const bool named = std::any_of(rules.begin(), rules.end(),
                                 [&](const RunnerRule& r) { return r.name == target.comm || r.name == exe_name; });
  if (!named) return false;
  // The same process, still alive: its arguments and cgroup are its own.
  const bool alive = procfs::start_time_ns(static_cast<pid_t>(target.pid)) == target.start_ns;
  const std::vector<std::string> argv =
      alive ? procfs::cmdline(static_cast<pid_t>(target.pid)) : std::vector<std::string>{};
  const uint64_t pid = target.pid;
  return match_runner(rules, ProcessFacts{target.comm, target.exe, argv, [pid, alive] {
                                            return alive ? proc_text(pid, "cgroup") : std::string();
                                          }}) != nullptr;
}

capture::ProcTarget read_target(uint64_t pid) {
  capture::ProcTarget t;
  // A thread's process: its leader has the facts a runner is known by.
  procfs::TaskIds ids;
  if (procfs::task_ids(static_cast<pid_t>(pid), &ids) && ids.tgid > 0) pid = static_cast<uint64_t>(ids.tgid);
  t.pid = pid;
  t.start_ns = procfs::start_time_ns(static_cast<pid_t>(pid));
  t.comm = proc_text(pid, "comm");
  if (!t.comm.empty() && t.comm.back() == '\n') t.comm.pop_back();
  t.exe = procfs::read_link("/proc/" + std::to_string(pid) + "/exe");
  return t;
}

std::vector<std::pair<uint32_t, const RunnerRule*>> find_runners(std::span<const RunnerRule> rules) {
  std::vector<std::pair<uint32_t, const RunnerRule*>> out;
  DIR* dir = ::opendir("/proc");
  if (!dir) return out;
  while (const dirent* e = ::readdir(dir)) {
    char* end = nullptr;
    const unsigned long pid = std::strtoul(e->d_name, &end, 10);
    if (*end || pid == 0) continue;
    if (const RunnerRule* r = match_runner(rules, pid)) out.emplace_back(static_cast<uint32_t>(pid), r);
  }
  ::closedir(dir);
  return out;
}

}  // namespace bt::agent::attribution
