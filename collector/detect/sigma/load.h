// Sigma rule files (YAML, one or more documents each) into the model of
// rule.h: detection rules, filters and correlation rules. A document the
// engine cannot honour completely is not loaded: it becomes a Rejection
// whose reason is one line naming the field, modifier, logsource or
// construct (never an exception: yaml-cpp's are caught in yaml_input.cpp).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "collector/detect/sigma/pipeline.h"
#include "collector/detect/sigma/rule.h"
#include "common/result.h"

namespace bt::collector::detect::sigma {

struct Rejection {
  std::string file, id, title;
  std::string reason;
};

struct RuleSet {
  std::vector<Rule> rules;
  std::vector<Filter> filters;
  std::vector<Correlation> correlations;
  std::vector<Rejection> rejected;
};

// Adds the documents of one file's text to `out` (loaded or rejected).
void load_text(std::string_view yaml, const std::string& file, const Pipeline& pipeline, RuleSet& out);
// Every *.yml and *.yaml under `dir` (recursively, in path order), then
// finish(). An Error only when the folder cannot be read.
Result<RuleSet> load_directory(const std::string& dir, const Pipeline& pipeline);
// Attaches filters to the rules they name and checks correlations against
// the loaded rules; a filter or correlation naming a rule that is not loaded
// is rejected.
void finish(RuleSet& set);

// Our fields a rule reads (its searches' and its filters'), sorted.
std::vector<std::string> fields_read(const Rule& rule);

// "30s", "5m", "1h", "7d" -> seconds; an Error otherwise.
Result<uint64_t> parse_timespan(std::string_view text);

}  // namespace bt::collector::detect::sigma
