// The detector as `serve` runs it: one thread with its own store
// connection, stepping through what ingest commits (every 200 ms when
// idle), stopped before the store closes.
#pragma once

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "collector/detect/baseline/baseline.h"
#include "collector/detect/detector.h"
#include "collector/detect/sigma/load.h"
#include "collector/metrics/metrics.h"
#include "collector/store/store.h"

namespace bt::collector::detect {

class Service {
 public:
  // `rules` (builtin_rule_sets) over the store at `data_dir`.
  static Result<std::unique_ptr<Service>> start(const std::string& data_dir, const store::Options& options,
                                                std::vector<std::unique_ptr<RuleSet>> rules,
                                                const OpenBuildLimits& limits, metrics::Metrics& metrics,
                                                readback::SharedBatches* shared = nullptr);
  ~Service();
  // Finishes the step under way; what is left is taken at the next start.
  void stop();

 private:
  Service(std::unique_ptr<store::Store> store, const std::string& data_dir, std::vector<std::unique_ptr<RuleSet>> rules,
          const OpenBuildLimits& limits, metrics::Metrics& metrics, readback::SharedBatches* shared);
  void run();

  std::unique_ptr<store::Store> store_;
  Detector detector_;
  metrics::Metrics& metrics_;
  std::mutex mu_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::thread thread_;
};

// The rule sets the collector runs: the integrity checks, the Sigma rules
// (the pack and `sigma`'s extra folders) and the per-job baselines.
using RuleSets = std::vector<std::unique_ptr<RuleSet>>;
// `data_dir`: the store's, for the checks that read stored events back.
RuleSets builtin_rule_sets(const std::string& data_dir, sigma::RuleSet sigma, BaselineConfig baseline = {});

}  // namespace bt::collector::detect
