// The integrity checks of the CI rule pack (BT-29, BT-30 of
// docs/detection.md): the trail itself was cut, lost events, or a build
// ran without capture. Findings (chain gap, fork, replay, restart, refused
// batches) become alerts through alert_for_finding; the events through
// the rule set.
#pragma once

#include <memory>

#include "collector/detect/rule_set.h"

namespace bt::collector::detect {

// `data_dir`: the store's. A build_end's counts are checked against the
// events stored for its build (read back from there when the detector
// restarted between two build_ends of one build record); without a store
// (started with none: a benchmark) they are not.
std::unique_ptr<RuleSet> integrity_rules(const std::string& data_dir);

// The alert an integrity finding raises (one per finding).
store::Alert alert_for_finding(const store::Finding& finding, uint64_t now_ns);

// BT-29 for records an output skipped over its backlog limit
// (collector/output/): `n` alerts (ids `first`..`last`, at or above its
// severity) or `n` events (stored batches at positions `first`..`last`)
// will never reach its receiver.
enum class Skipped { kAlerts, kEvents };
store::Alert alert_for_output_loss(const std::string& output, Skipped what, uint64_t n, int64_t first, int64_t last,
                                   uint64_t now_ns);

// BT-30 over the builds still open: one that began more than
// `max_build_ns` ago with no build_end, and one whose agent has sent
// nothing for more than two heartbeat intervals. Each build raises each
// at most once (per silence: an agent heard from again and silent again
// raises again).
struct OpenBuildLimits {
  uint64_t max_build_ns = 6ull * 3600 * 1000000000;  // GitHub's job limit
  uint64_t heartbeat_ns = 30ull * 1000000000;        // the agent's default batch.heartbeat_s
};
Result<std::vector<store::Alert>> check_open_builds(store::Store& store, const OpenBuildLimits& limits,
                                                    uint64_t now_ns);

}  // namespace bt::collector::detect
