#include "agent/enrich/rules/runners.h"

#include <array>

namespace bt::agent::attribution {

namespace {

// Listeners hold the registration key and fork one worker per job; the
// worker holds the job's tokens and forks the steps.
constexpr std::array<KnownRunner, 12> kKnownRunners = {{
    {"jenkins", "java", "agent.jar", true},
    {"jenkins", "java", "remoting.jar", true},
    {"jenkins", "java", "slave.jar", true},
    {"jenkins", "java", "hudson.remoting.jnlp.Main", true},
    {"jenkins", "java", "hudson.remoting.Launcher", true},
    {"github", "Runner.Listener", "", false},
    {"github", "Runner.Worker", "", true},
    {"azure", "Agent.Listener", "", false},
    {"azure", "Agent.Worker", "", true},
    {"gitlab", "gitlab-runner", "", true},
    {"buildkite", "buildkite-agent", "", true},
    {"circleci", "circleci-agent", "", true},
}};

std::string_view file_name(std::string_view path) {
  const auto slash = path.rfind('/');
  return slash == std::string_view::npos ? path : path.substr(slash + 1);
}

}  // namespace

std::span<const KnownRunner> known_runners() { return kKnownRunners; }

const KnownRunner* match_known_runner(std::string_view comm, std::string_view exe,
                                      const std::vector<std::string>& argv) {
  const std::string_view exe_name = file_name(exe);
  for (const auto& r : kKnownRunners) {
    if (r.name != comm && r.name != exe_name) continue;
    if (r.argument.empty()) return &r;
    for (std::size_t i = 1; i < argv.size(); ++i)
      if (file_name(argv[i]) == r.argument) return &r;
  }
  return nullptr;
}

}  // namespace bt::agent::attribution
