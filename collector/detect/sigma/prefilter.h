// Cheap rejection before RE2: a rule set's string matchers each need one of
// their literals (Matcher::literals) in the value; per field of ours, one
// RE2::Set holds every literal any matcher on that field needs, so an event
// runs one Set per field it is asked for, once, and a matcher none of whose
// literals is there is false without running its own program. This is the
// "one automaton per field over all rules' literals" of the detection notes:
// without it, ~170 process_creation rules run ~200 RE2 programs per exec.
//
// Exact: a pattern that matches a value contains the literal (the longest
// run of its value without wildcards, case-folded as the pattern is). A
// value with a byte >= 0x80 bypasses the prefilter (RE2's Unicode case
// folding pairs ASCII k and s with U+212A and U+017F, which an ASCII fold
// does not see), and so does a value the Set could not run on (its DFA
// budget exhausted).
#pragma once

#include <memory>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "collector/detect/sigma/fields.h"
#include "collector/detect/sigma/rule.h"

namespace re2 {
class RE2;
}

namespace bt::collector::detect::sigma {

class Prefilter {
 public:
  // Indexes the matchers of `rules` (and their filters'): they must
  // outlive the Prefilter, and one Prefilter is built per rule set (it
  // numbers the matchers: Matcher::prefilter_slot).
  explicit Prefilter(const std::vector<Rule>& rules);
  ~Prefilter();

  struct FieldSet;
  // Per field of the matcher's item: the field's set and the matcher's
  // literal ids in it. Null when `m` has no prefilter (on some field).
  using Needs = std::vector<std::pair<const FieldSet*, std::vector<int>>>;
  const Needs* needs(const Matcher& m) const;
  static const std::string& field_of(const FieldSet& set);
  // The ids of the literals present in `value`; false when the value
  // bypasses the prefilter (then everything may match).
  bool present(const FieldSet& set, const std::string& value, std::vector<int>& out) const;

 private:
  std::unordered_map<std::string, std::unique_ptr<FieldSet>> sets_;
  std::vector<Needs> needs_;  // by Matcher::prefilter_slot
};

// An event's fields for one rule set's evaluation: each field computed once
// (every rule asks the same event for Image and CommandLine, and a field is
// built on each ask: argv joined, the parent looked up), and the
// prefilter's answer per field computed once. For one event; `inner` and
// `prefilter` must outlive it.
class CachedFields final : public Fields {
 public:
  CachedFields(const Fields& inner, const Prefilter* prefilter) : inner_(inner), prefilter_(prefilter) {}
  std::string_view kind() const override { return inner_.kind(); }
  void values(std::string_view field, std::vector<std::string>& out) const override;
  const std::vector<std::string>* values_kept(std::string_view field) const override { return &entry(field).values; }
  bool may_match(const Matcher& m) const override;
  // The ids of the literals of `set` present in this event's values of its
  // field, sorted; null when a value bypasses the prefilter.
  const std::vector<int>* present(const Prefilter::FieldSet& set) const;

 private:
  struct Entry {
    std::string name;
    const void* set = nullptr;  // the prefilter's set of this field, once looked up
    std::vector<std::string> values;
    bool hits_known = false, bypass = false;
    std::vector<int> hits;  // sorted literal ids present in some value
  };
  Entry& entry(std::string_view field) const;

  const Fields& inner_;
  const Prefilter* prefilter_;
  // Few fields per event (a rule set asks for a handful): a vector beats a map.
  mutable std::vector<Entry> cache_;
};

// The prefilter lifted from matchers to rules: which rules of a list can
// match an event at all. A rule's condition needs some of its matchers to
// hold (an item without `all` one of its matchers, with `all` any one of
// them; an AND one of its parts' needs, the smallest; an OR every part's
// needs together; `1 of` as an OR, `all of` as an AND; a NOT nothing), and
// a matcher needs one of its literals. So each rule is filed under the
// literals of its need, and an event's literals (one RE2::Set run per
// field) name the rules worth evaluating; the other ~90% of ~170
// process_creation rules are not looked at. Rules that need nothing (a
// condition of NOTs, a matcher with no literal) are always evaluated.
// Exact as the prefilter is: a rule the index leaves out does not match.
class RuleIndex {
 public:
  // `rules` and `prefilter` must outlive the index.
  RuleIndex(const std::vector<const Rule*>& rules, const Prefilter& prefilter);
  // `out[i]`: rule i of the list is worth evaluating on `fields`.
  void candidates(const CachedFields& fields, std::vector<char>& out) const;
  std::size_t always() const { return always_.size(); }

 private:
  struct SetRules {
    const Prefilter::FieldSet* set = nullptr;
    std::vector<std::vector<uint32_t>> by_literal;  // literal id -> rules needing it
    std::vector<uint32_t> any;                      // every rule filed under this set
  };
  std::size_t size_ = 0;
  std::vector<uint32_t> always_;
  std::vector<SetRules> sets_;
};

}  // namespace bt::collector::detect::sigma
