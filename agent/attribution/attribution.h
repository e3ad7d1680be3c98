// Build attribution: which CI build a wrapped command belongs to, read from
// the environment the CI system gives its build steps. One declarative
// table per CI system (the variables behind each field of the build block)
// drives detection, the build block and the docs table.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "common/events/event.h"

namespace bt::agent::attribution {

using Environment = std::map<std::string, std::string>;

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

// docs/ci-attribution.md, generated from the table.
std::string reference_markdown();

}  // namespace bt::agent::attribution
