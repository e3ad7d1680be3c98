// Per-job baselines ("first seen", Elastic's "new terms"): what each job
// (CI system, repository, job) does in its clean builds of protected
// branches, and the alerts for what it has never done (BT-01, BT-02,
// BT-06, BT-10, BT-16, BT-28; docs/detection.md "Per-job baselines").
//
// Learning happens once a build ended: its items are kept in memory while
// it runs and become a store::BaselineLesson at its build_end when its
// branch is protected and it raised no high or critical alert; the lesson
// commits with the detector's alerts and cursors (Store::commit_detection).
// Evaluation happens per event, against the items trusted at that time.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "collector/detect/rule_set.h"

namespace bt::collector::detect {

struct BaselineConfig {
  // Globs (fnmatch) of the branches builds are learned from. A branch is
  // compared with any "refs/heads/" or "origin/" prefix removed.
  std::vector<std::string> protected_branches = {"main", "master"};
  uint64_t min_builds = 10;                             // clean builds of a job before it raises anything
  uint64_t trust_builds = 2;                            // clean builds an item must appear in to be trusted
  uint64_t expiry_ns = 90ull * 24 * 3600 * 1000000000;  // items unseen this long are forgotten
  // Builds being watched for learning: beyond this many, the one seen
  // least recently is dropped (it teaches nothing); so is one silent for
  // `open_build_max_ns`.
  std::size_t max_open_builds = 1000;
  uint64_t open_build_max_ns = 24ull * 3600 * 1000000000;
  std::size_t max_items_per_build = 20000;  // more distinct items than this are not learned
};

std::unique_ptr<RuleSet> baseline_rules(BaselineConfig config = {});

// Whether `branch` is one of the protected ones (the globs of `config`).
bool protected_branch(const BaselineConfig& config, std::string_view branch);

// The registrable domain of a DNS name (Public Suffix List, libpsl's
// built-in list): "files.pythonhosted.org" -> "pythonhosted.org"; empty
// when it has none (an IP address, a bare suffix).
std::string registrable_domain(std::string_view name);

}  // namespace bt::collector::detect
