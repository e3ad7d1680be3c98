// The loaded Sigma model: what load.cpp builds from a rule file's YAML and
// what match.cpp evaluates. Everything here is already validated and
// compiled (regexes, CIDRs, the condition tree, the field mapping): a Rule
// that exists can be evaluated; anything the engine could not honour was
// rejected at load with its reason (load.h), never kept as a rule that
// silently never matches.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "collector/detect/sigma/condition.h"
#include "collector/detect/sigma/modifiers.h"

namespace bt::collector::detect::sigma {

struct LogSource {
  std::string product, category, service;
};

// One `field|modifiers: values` entry (or one keyword list when `fields` is
// empty). `fields` are OUR field names, after the pipeline's mapping; a
// Sigma field mapped to several of ours matches when any of them does.
struct DetectionItem {
  std::string sigma_field;          // as written in the rule, "" for keywords
  std::vector<std::string> fields;  // ours; for keywords, every field mapped for the logsource
  std::vector<std::string> refs;    // fieldref: ours, one per value (same order as values)
  ValueMatch match;                 // the compiled values and how they combine
};

// A search identifier: OR of AND-groups (a list of maps is an OR of maps, a
// map an AND of its items).
struct Detection {
  std::vector<std::vector<DetectionItem>> any_of;
};

// The parts of a rule that are evaluated on one event: shared by detection
// rules and filters.
struct Searches {
  std::map<std::string, Detection> detections;  // by identifier
  std::vector<std::string> names;               // identifiers in file order
};

struct Rule {
  std::string id, name, title, level, status, description, author, file;
  std::vector<std::string> tags, references;
  LogSource logsource;
  std::vector<std::string> kinds;                          // our event kinds the logsource routes to
  std::map<std::string, std::vector<std::string>> fields;  // the logsource's mapping: Sigma field -> ours
  Searches searches;
  std::shared_ptr<const Condition> condition;
  // Sigma filters attached to this rule (each must hold too: rule AND filter).
  std::vector<std::shared_ptr<const Condition>> filter_conditions;
  std::vector<std::shared_ptr<const Searches>> filter_searches;
};

// A Sigma filter (spec v2 "filters"): a condition AND-ed to the rules it
// names, after load (RuleSet::attach_filters).
struct Filter {
  std::string id, name, title, file;
  LogSource logsource;
  std::vector<std::string> rules;  // ids or names of the rules it applies to
  std::shared_ptr<Searches> searches;
  std::shared_ptr<const Condition> condition;
};

enum class CorrelationType { kEventCount, kValueCount, kTemporal, kTemporalOrdered };

struct CountCondition {
  enum class Op { kGt, kGte, kLt, kLte, kEq, kNeq } op = Op::kGte;
  uint64_t value = 1;
  std::string field;  // value_count: the Sigma field whose distinct values are counted
  bool holds(uint64_t n) const;
};

struct Correlation {
  std::string id, name, title, level, file;
  std::vector<std::string> tags;
  CorrelationType type = CorrelationType::kEventCount;
  std::vector<std::string> rules;                                     // ids or names of the rules it correlates
  std::vector<std::string> group_by;                                  // Sigma field names (or aliases)
  std::map<std::string, std::map<std::string, std::string>> aliases;  // alias -> rule -> field
  uint64_t timespan_s = 0;
  bool has_condition = false;  // temporal types may omit it: all rules must be seen
  CountCondition condition;
  bool generate = false;  // the referenced rules raise their own alerts too
};

std::string_view correlation_type_name(CorrelationType t);

}  // namespace bt::collector::detect::sigma
