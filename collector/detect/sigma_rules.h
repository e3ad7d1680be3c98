// The Sigma rules as one of the detector's rule sets: the CI rule pack
// (pack.h) and any rule folders given (`serve --rules DIR`), evaluated on
// every stored event through the engine of sigma/, with a process table
// per build so ParentImage and its kin have values, and the correlation
// rules grouped by build.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "collector/detect/rule_set.h"
#include "collector/detect/sigma/load.h"
#include "common/result.h"

namespace bt::collector::detect {

// The pack, then every folder of `dirs`. Rejected rules are in the set's
// `rejected` (the caller says so); an Error when a folder cannot be read.
Result<sigma::RuleSet> load_sigma_rules(const std::vector<std::string>& dirs);

std::unique_ptr<RuleSet> sigma_rule_set(sigma::RuleSet rules);

}  // namespace bt::collector::detect
