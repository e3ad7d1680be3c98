// Sigma correlation rules evaluated over a stream of rule matches:
// event_count, value_count, temporal and temporal_ordered, each in a
// sliding window of its timespan, per group. The group is the caller's key
// (the streaming detector passes a build id or a job) joined with the
// values of the correlation's group-by fields in the matching event. State
// is bounded: at most kMaxEntries matches kept per group and kMaxGroups
// groups per correlation (the oldest go first). A correlation that fires
// clears its group's window, so one burst raises one alert.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "collector/detect/sigma/fields.h"
#include "collector/detect/sigma/rule.h"

namespace bt::collector::detect::sigma {

struct CorrelationAlert {
  const Correlation* correlation = nullptr;
  std::string group;   // caller's key, then the group-by values, joined by '\x1f'
  uint64_t count = 0;  // events (event_count), distinct values (value_count) or rules seen (temporal)
};

class Correlator {
 public:
  static constexpr std::size_t kMaxEntries = 10000;
  static constexpr std::size_t kMaxGroups = 100000;

  // The correlations must outlive the Correlator.
  explicit Correlator(const std::vector<Correlation>& correlations);
  // `rule` matched `event` at `now_s` (seconds, non-decreasing per group).
  std::vector<CorrelationAlert> feed(const Rule& rule, const Fields& event, std::string_view key, uint64_t now_s);

 private:
  struct Entry {
    uint64_t t;
    std::size_t rule;   // index in the correlation's rules
    std::string value;  // value_count: the counted field's value
  };
  struct Window {
    std::deque<Entry> entries;
    uint64_t last = 0;
  };
  const std::vector<Correlation>& correlations_;
  std::vector<std::map<std::string, Window>> state_;  // per correlation
};

}  // namespace bt::collector::detect::sigma
