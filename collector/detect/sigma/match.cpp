// Rule evaluation: see match.h.
#include "collector/detect/sigma/match.h"

#include <algorithm>

namespace bt::collector::detect::sigma {

namespace {

bool item_holds(const DetectionItem& item, const Fields& event) {
  const auto& ms = item.match.matchers;
  const auto may = [&](const Matcher& m) { return event.may_match(m); };
  // The prefilter first: nothing is copied for an item that cannot hold.
  if (item.match.all ? !std::all_of(ms.begin(), ms.end(), may) : std::none_of(ms.begin(), ms.end(), may)) return false;
  // One field kept by the event: its values as they are. Otherwise one
  // buffer per thread, reused: evaluating an item allocates nothing once
  // the buffer has grown to the event's largest field.
  thread_local std::vector<std::string> buffer;
  const std::vector<std::string>* kept = item.fields.size() == 1 ? event.values_kept(item.fields[0]) : nullptr;
  if (!kept) {
    buffer.clear();
    for (const auto& f : item.fields) event.values(f, buffer);
  }
  const std::vector<std::string>& values = kept ? *kept : buffer;
  std::vector<std::vector<std::string>> refs;  // fieldref only
  for (const auto& r : item.refs) {
    refs.emplace_back();
    event.values(r, refs.back());
  }
  const auto holds = [&](const Matcher& m) { return may(m) && matcher_holds(m, values, refs); };
  if (item.match.all) return std::all_of(ms.begin(), ms.end(), holds);
  return std::any_of(ms.begin(), ms.end(), holds);
}

bool search_holds(const Searches& s, const std::string& name, const Fields& event) {
  const auto it = s.detections.find(name);
  if (it == s.detections.end()) return false;
  for (const auto& group : it->second.any_of)
    if (std::all_of(group.begin(), group.end(), [&](const DetectionItem& i) { return item_holds(i, event); }))
      return true;
  return false;
}

bool eval(const Condition& c, const Searches& s, const Fields& event) {
  switch (c.op) {
    case Condition::Op::kRef:
      return search_holds(s, c.ref, event);
    case Condition::Op::kAnd:
      for (const auto& ch : c.children)
        if (!eval(*ch, s, event)) return false;
      return true;
    case Condition::Op::kOr:
      for (const auto& ch : c.children)
        if (eval(*ch, s, event)) return true;
      return false;
    case Condition::Op::kNot:
      return !eval(*c.children[0], s, event);
    case Condition::Op::kOf: {
      const uint64_t need = c.need == 0 ? c.of.size() : c.need;
      uint64_t held = 0;
      for (std::size_t i = 0; i < c.of.size(); ++i) {
        if (search_holds(s, c.of[i], event) && ++held >= need) return true;
        if (c.need == 0 && held != i + 1) return false;
      }
      return held >= need;
    }
  }
  return false;
}

}  // namespace

bool routes(const Rule& rule, const Fields& event) {
  const auto kind = event.kind();
  return std::find(rule.kinds.begin(), rule.kinds.end(), kind) != rule.kinds.end();
}

bool matches(const Rule& rule, const Fields& event) {
  if (!routes(rule, event) || !rule.condition) return false;
  if (!eval(*rule.condition, rule.searches, event)) return false;
  for (std::size_t i = 0; i < rule.filter_conditions.size(); ++i)
    if (!eval(*rule.filter_conditions[i], *rule.filter_searches[i], event)) return false;
  return true;
}

}  // namespace bt::collector::detect::sigma
