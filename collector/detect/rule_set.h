// What the detector asks of a set of rules (the Sigma engine, the native
// integrity checks): look at one stored event, say what it raises.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "collector/store/store.h"
#include "common/events/event.h"
#include "common/result.h"

namespace bt::collector::detect {

// One stored event, in commit order, with where it is stored.
struct Sighting {
  const events::Event& event;
  store::Evidence where;
  int64_t position = 0;  // of its batch in commit order (store::CommittedBatch)
};

// What a rule raises. The detector makes it an alert with the agent, the
// build record and the time of `event` (the sighting's when null).
struct Hit {
  std::string rule_id, title, severity;
  std::vector<std::string> tags;
  std::string detail;  // one line, recorded strings escaped by the detector's readers
  // What makes this alert one for its rule: the same key twice is one
  // alert. Empty: the first evidence's place (one alert per event).
  std::string key;
  std::vector<store::Evidence> evidence;  // empty: the sighting's
  const events::Event* event = nullptr;
};

class RuleSet {
 public:
  virtual ~RuleSet() = default;
  virtual std::string_view name() const = 0;
  // Called for every stored event in commit order. State kept across
  // events (correlations) is lost when the collector restarts.
  virtual void on_event(const Sighting& sighting, std::vector<Hit>& out) = 0;

  // State a rule set keeps in the store (the per-job baselines). `start`
  // runs once before the first event, with the detector's own store
  // connection (used on the detector's thread only). `prepare_commit` runs
  // before each commit with the step's alerts and adds what the rule set
  // learned to `lessons`, committed in the same transaction as the alerts
  // and the cursors; `committed` tells whether that commit happened (when
  // not, the step's events come again).
  virtual Status start(store::Store& /*store*/) { return Ok{}; }
  virtual Status prepare_commit(const std::vector<store::Alert>& /*alerts*/,
                                std::vector<store::BaselineLesson>& /*lessons*/) {
    return Ok{};
  }
  virtual void committed(bool /*ok*/) {}
};

}  // namespace bt::collector::detect
