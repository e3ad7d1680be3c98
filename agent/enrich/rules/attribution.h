// Build attribution: which CI build a wrapped command belongs to, read from
// the environment the CI system gives its build steps. One declarative
// table per CI system (the variables behind each field of the build block)
// drives detection, the build block and the docs table.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "common/events/event.h"
#include "common/markdown.h"

namespace bt::agent::attribution {

using Environment = std::map<std::string, std::string>;

// Adds one "NAME=value" entry (of an environ block or the kernel's record);
// an entry without a name is skipped.
void add_variable(Environment& env, std::string_view entry);

// The current process's environment.
Environment current_environment();

// The build block for `env`; `ci` is empty when no CI system is recognised
// (and no BUILDTRAIL_BUILD_ID is set). URLs and repositories have their
// credentials removed. `hostname` fills `runner` when the CI system names none.
events::Build from_environment(const Environment& env, const std::string& hostname);

// Every variable from_environment() reads: what the daemon lets out of the
// kernel from a build's environment (never a secret: the table names no
// token variable).
std::vector<std::string> identity_variables();

// `all` cut to identity_variables(): what may leave the process it came from.
Environment identity_only(const Environment& all);

// The identity variables of process `pid`'s environment as it was at its
// exec (/proc/<pid>/environ, read once and cut at once); empty if gone.
// Only where the kernel cannot send them: a process older than the daemon,
// or one `run --session` stopped at its exec.
Environment identity_environment_of(uint64_t pid);

// The parts of docs/ci-attribution.md generated from the table.
std::vector<markdown::Part> reference_parts();

}  // namespace bt::agent::attribution
