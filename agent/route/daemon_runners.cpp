#include "agent/route/daemon_runners.h"

#include <dirent.h>

#include <algorithm>

#include "agent/enrich/rules/runners.h"
#include "agent/capture/proc/procfs.h"
#include "common/fs.h"

namespace bt::agent::daemon {

namespace {

std::string proc_file(uint32_t pid, const char* name) {
  std::string text;
  auto r = fs::read_file("/proc/" + std::to_string(pid) + "/" + name, 1 << 16);
  if (r) text = std::move(*r);
  return text;
}

std::string trim(std::string_view s) {
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
  return std::string(s);
}

}  // namespace

const std::vector<RunnerRule>& default_runners() {
  static const std::vector<RunnerRule> rules = [] {
    std::vector<RunnerRule> out;
    for (const auto& r : attribution::known_runners())
      if (r.starts_builds) out.push_back({std::string(r.ci), std::string(r.name), std::string(r.argument), ""});
    return out;
  }();
  return rules;
}

Result<std::vector<RunnerRule>> parse_runners(std::string_view specs) {
  std::vector<RunnerRule> out;
  while (!specs.empty()) {
    const std::size_t comma = specs.find(',');
    const std::string spec = trim(specs.substr(0, comma));
    specs = comma == std::string_view::npos ? std::string_view() : specs.substr(comma + 1);
    if (spec.empty()) continue;
    std::vector<std::string> parts;
    for (std::size_t start = 0;;) {
      const std::size_t colon = spec.find(':', start);
      parts.push_back(spec.substr(start, colon == std::string::npos ? std::string::npos : colon - start));
      if (colon == std::string::npos) break;
      start = colon + 1;
    }
    if (parts.size() < 2 || parts.size() > 4 || parts[0].empty() || parts[1].empty())
      return make_error(ErrorCode::kInvalidArgument,
                        "runner '" + spec + "': expected ci:comm[:argv-substring[:cgroup-substring]]");
    if (parts[1].size() > 15)
      return make_error(ErrorCode::kInvalidArgument,
                        "runner '" + spec + "': task names are at most 15 bytes (the kernel's comm)");
    out.push_back({parts[0], parts[1], parts.size() > 2 ? parts[2] : "", parts.size() > 3 ? parts[3] : ""});
  }
  return out;
}

std::vector<ebpf::RunnerComm> runner_comms(const std::vector<RunnerRule>& rules) {
  std::vector<ebpf::RunnerComm> out;
  for (const auto& r : rules) {
    const bool by_name = r.argv_contains.empty() && r.cgroup_contains.empty();
    auto it = std::find_if(out.begin(), out.end(), [&](const auto& c) { return c.comm == r.comm; });
    // One name with both kinds of rules: user space decides.
    if (it == out.end()) out.push_back({r.comm, by_name});
    else it->confirmed = it->confirmed && by_name;
  }
  return out;
}

std::optional<RunnerRule> match_runner(const std::vector<RunnerRule>& rules, uint32_t pid) {
  std::string comm = proc_file(pid, "comm");
  if (comm.empty()) return std::nullopt;
  if (comm.back() == '\n') comm.pop_back();
  std::string cmdline, cgroup;
  bool have_cmdline = false, have_cgroup = false;
  for (const auto& r : rules) {
    if (r.comm != comm) continue;
    if (!r.argv_contains.empty()) {
      if (!have_cmdline) cmdline = proc_file(pid, "cmdline"), have_cmdline = true;
      if (cmdline.find(r.argv_contains) == std::string::npos) continue;
    }
    if (!r.cgroup_contains.empty()) {
      if (!have_cgroup) cgroup = proc_file(pid, "cgroup"), have_cgroup = true;
      if (cgroup.find(r.cgroup_contains) == std::string::npos) continue;
    }
    return r;
  }
  return std::nullopt;
}

std::vector<std::pair<uint32_t, RunnerRule>> find_runners(const std::vector<RunnerRule>& rules) {
  std::vector<std::pair<uint32_t, RunnerRule>> out;
  DIR* dir = ::opendir("/proc");
  if (!dir) return out;
  while (const dirent* e = ::readdir(dir)) {
    char* end = nullptr;
    const unsigned long pid = std::strtoul(e->d_name, &end, 10);
    if (*end || pid == 0) continue;
    if (auto r = match_runner(rules, static_cast<uint32_t>(pid))) out.emplace_back(pid, *r);
  }
  ::closedir(dir);
  return out;
}

}  // namespace bt::agent::daemon
