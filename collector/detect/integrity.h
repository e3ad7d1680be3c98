// The integrity checks of the CI rule pack (BT-29, BT-30 of
// docs/detection.md): the trail itself was cut, lost events, or a build
// ran without capture. Findings (chain gap, fork, replay, restart, refused
// batches) become alerts through alert_for_finding; the events through
// the rule set.
#pragma once

#include <memory>

#include "collector/detect/rule_set.h"

namespace bt::collector::detect {

std::unique_ptr<RuleSet> integrity_rules();

// The alert an integrity finding raises (one per finding).
store::Alert alert_for_finding(const store::Finding& finding, uint64_t now_ns);

}  // namespace bt::collector::detect
