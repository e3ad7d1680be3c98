// The CI runner programs buildtrail knows, declared once: the daemon starts
// a build at every child of a runner that starts builds, and a build that
// reads any runner's /proc/<pid>/environ or mem is after its credentials.
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace bt::agent::attribution {

struct KnownRunner {
  std::string_view ci;        // jenkins, github, gitlab, buildkite, azure, circleci
  std::string_view name;      // task name or executable file name
  std::string_view argument;  // "" or an argument it must have, by file name
                              // (java ... -jar /x/agent.jar) or whole
  bool starts_builds;         // its children are builds (a listener's are workers)
};

std::span<const KnownRunner> known_runners();

// The known runner a process is, from its task name, its executable's path
// and its arguments; null when none. The name is checked both ways because
// either may mislead: the task name is settable, and a runner started
// through a symlink or an interpreter has another executable.
const KnownRunner* match_known_runner(std::string_view comm, std::string_view exe,
                                      const std::vector<std::string>& argv);

}  // namespace bt::agent::attribution
