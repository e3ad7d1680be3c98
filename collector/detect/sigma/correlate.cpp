// Correlation windows: see correlate.h.
#include "collector/detect/sigma/correlate.h"

#include <set>

namespace bt::collector::detect::sigma {

namespace {

// Our first value of a Sigma field (through the rule's mapping, or the
// correlation's alias for this rule), "" when absent.
std::string field_value(const Correlation& c, const Rule& rule, std::size_t ref, const std::string& sigma_field,
                        const Fields& event) {
  std::string field = sigma_field;
  const auto alias = c.aliases.find(sigma_field);
  if (alias != c.aliases.end()) {
    const auto per = alias->second.find(c.rules[ref]);
    if (per != alias->second.end()) field = per->second;
  }
  const auto it = rule.fields.find(field);
  if (it == rule.fields.end()) return {};
  std::vector<std::string> values;
  for (const auto& ours : it->second) {
    event.values(ours, values);
    if (!values.empty()) return values.front();
  }
  return {};
}

}  // namespace

Correlator::Correlator(const std::vector<Correlation>& correlations)
    : correlations_(correlations), state_(correlations.size()) {}

std::vector<CorrelationAlert> Correlator::feed(const Rule& rule, const Fields& event, std::string_view key,
                                               uint64_t now_s) {
  std::vector<CorrelationAlert> alerts;
  for (std::size_t ci = 0; ci < correlations_.size(); ++ci) {
    const Correlation& c = correlations_[ci];
    std::size_t ref = c.rules.size();
    for (std::size_t i = 0; i < c.rules.size(); ++i)
      if (!c.rules[i].empty() && (c.rules[i] == rule.id || c.rules[i] == rule.name)) ref = i;
    if (ref == c.rules.size()) continue;

    std::string group(key);
    for (const auto& g : c.group_by) group += '\x1f' + field_value(c, rule, ref, g, event);
    auto& groups = state_[ci];
    if (!groups.count(group) && groups.size() >= kMaxGroups) {
      auto oldest = groups.begin();
      for (auto it = groups.begin(); it != groups.end(); ++it)
        if (it->second.last < oldest->second.last) oldest = it;
      groups.erase(oldest);
    }
    Window& w = groups[group];
    w.last = now_s;
    const std::string value =
        c.type == CorrelationType::kValueCount ? field_value(c, rule, ref, c.condition.field, event) : std::string();
    if (c.type == CorrelationType::kValueCount && value.empty()) continue;  // nothing to count
    w.entries.push_back({now_s, ref, value});
    while (!w.entries.empty() && (w.entries.front().t + c.timespan_s < now_s || w.entries.size() > kMaxEntries))
      w.entries.pop_front();

    uint64_t count = 0;
    bool fire = false;
    switch (c.type) {
      case CorrelationType::kEventCount:
        count = w.entries.size();
        fire = c.condition.holds(count);
        break;
      case CorrelationType::kValueCount: {
        std::set<std::string> distinct;
        for (const auto& e : w.entries) distinct.insert(e.value);
        count = distinct.size();
        fire = c.condition.holds(count);
        break;
      }
      case CorrelationType::kTemporal: {
        std::set<std::size_t> seen;
        for (const auto& e : w.entries) seen.insert(e.rule);
        count = seen.size();
        fire = c.has_condition ? c.condition.holds(count) : count == c.rules.size();
        break;
      }
      case CorrelationType::kTemporalOrdered: {
        std::size_t next = 0;  // the rules in their listed order, greedily
        for (const auto& e : w.entries)
          if (next < c.rules.size() && e.rule == next) ++next;
        count = next;
        fire = c.has_condition ? c.condition.holds(count) && next == c.rules.size() : next == c.rules.size();
        break;
      }
    }
    if (fire) {
      alerts.push_back({&c, group, count});
      w.entries.clear();
    }
  }
  return alerts;
}

}  // namespace bt::collector::detect::sigma
