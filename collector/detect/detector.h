// The streaming detector: walks what ingest committed, in commit order,
// through the rule sets, and stores what they raise as alerts. Its place
// is a durable cursor moved in the same transaction as the alerts it
// stores, so after kill -9 it resumes there: no alert lost, none raised
// twice (docs/detection.md).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "collector/detect/integrity.h"
#include "collector/detect/rule_set.h"
#include "collector/readback/event_reader.h"
#include "collector/store/store.h"
#include "common/result.h"

namespace bt::collector::detect {

struct Progress {
  std::size_t batches = 0, events = 0, findings = 0, alerts = 0;
  uint64_t last_received_ns = 0;                                    // of the last batch taken
  std::map<std::pair<std::string, std::string>, uint64_t> by_rule;  // (rule, severity) -> alerts committed
  std::map<std::string, uint64_t> suppressed;                       // rule -> alerts a suppression kept back
  bool idle() const { return batches == 0 && findings == 0; }
};

class Detector {
 public:
  using Clock = std::function<uint64_t()>;
  // `shared`: batches the outputs of this process verified already.
  Detector(store::Store& store, std::string data_dir, std::vector<std::unique_ptr<RuleSet>> rules, Clock now,
           OpenBuildLimits limits = {}, readback::SharedBatches* shared = nullptr);

  // Takes up to `max_batches` committed batches and the integrity findings
  // recorded since the last step, and commits their alerts with the
  // cursors. Once caught up, at most every 10 s, it also checks the open
  // builds (check_open_builds). A batch that fails verification on reading is itself an
  // alert (its evidence no longer verifies) and is passed.
  Result<Progress> step(std::size_t max_batches = 64);

 private:
  Status read_cursors();
  void refresh_suppressions(uint64_t now);
  // The suppression that keeps `a` back; `e` is its event (null: none).
  const store::Suppression* suppression_of(const store::Alert& a, const events::Event* e) const;
  // Adds `a` to `alerts` unless a suppression keeps it back.
  void raise(store::Alert&& a, const events::Event* e, std::vector<store::Alert>& alerts, Progress& progress);
  store::Alert to_alert(const Hit& hit, const Sighting& s);
  std::optional<int64_t> build_of(const std::string& agent_id, const events::Build& build);

  store::Store& store_;
  readback::EventReader reader_;
  std::vector<std::unique_ptr<RuleSet>> rules_;
  Clock now_;
  OpenBuildLimits limits_;
  uint64_t open_builds_checked_ns_ = 0;
  bool cursors_read_ = false;
  int64_t batch_cursor_ = 0, finding_cursor_ = 0;
  std::map<std::string, std::optional<int64_t>> builds_;  // agent + CI ids -> record, cached
  std::vector<store::Suppression> suppressions_;          // the unexpired ones, re-read every step
  std::map<int64_t, uint64_t> suppressed_hits_;           // since the last count in the store
};

// The names of the detector's cursors in the store.
inline constexpr const char* kBatchCursor = "detect.batches";
inline constexpr const char* kFindingCursor = "detect.findings";

}  // namespace bt::collector::detect
