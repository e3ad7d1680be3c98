// The field mapping, read from a pySigma processing pipeline YAML
// (buildtrail-pipeline.yml beside this file; `sigma convert -p` takes the
// same file). The subset read: `name`, `priority`, and transformations of
// type `field_name_mapping` (Sigma field -> our field, or a list of ours),
// `add_condition` (only `kind: <event kind>`: the routing of a logsource to
// our events) and `rule_failure` (a logsource refused with a message), each
// with `rule_conditions` of type `logsource` (product/category/service;
// `rule_cond_op: and|or`). Anything else in a transformation, a mapping
// target that is not one of our fields (event_fields.h), a kind that is not
// ours, or a Sigma field mapped twice for the same logsource conditions,
// refuses the whole pipeline with a message.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "collector/detect/sigma/rule.h"
#include "common/result.h"

namespace bt::collector::detect::sigma {

struct Transformation {
  enum class Type { kFieldNameMapping, kAddCondition, kRuleFailure } type = Type::kFieldNameMapping;
  std::string id;
  std::map<std::string, std::vector<std::string>> mapping;  // field_name_mapping
  std::string kind;                                         // add_condition
  std::string message;                                      // rule_failure
  std::vector<LogSource> conditions;                        // logsource conditions ("" = any)
  bool any = false;                                         // rule_cond_op: or
  bool applies(const LogSource& ls) const;
};

struct Pipeline {
  std::string name;
  int priority = 0;
  std::vector<Transformation> transformations;
};

// What a logsource resolves to.
struct Routing {
  std::vector<std::string> kinds;                          // our event kinds
  std::map<std::string, std::vector<std::string>> fields;  // Sigma field -> ours
};

Result<Pipeline> parse_pipeline(std::string_view yaml);
Result<Pipeline> load_pipeline(const std::string& path);
// The pipeline shipped with the engine (buildtrail-pipeline.yml, compiled in).
const Pipeline& builtin_pipeline();
// The error names the logsource, or carries the rule_failure's message.
Result<Routing> route(const Pipeline& p, const LogSource& ls);

std::string describe(const LogSource& ls);

}  // namespace bt::collector::detect::sigma
