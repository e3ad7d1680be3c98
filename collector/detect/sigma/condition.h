// A Sigma condition expression parsed into a tree: identifiers, `and`,
// `or`, `not`, parentheses, `1 of X*`, `all of X*`, `N of X*`, `1 of
// them`, `all of them` (spec v2: `not` binds tighter than `and`, `and`
// tighter than `or`; `them` leaves out identifiers starting with `_`).
// Patterns are expanded against the rule's identifiers at parse time, so an
// identifier or pattern that names nothing is an error, as is nesting past
// kMaxConditionDepth and the obsolete v1 aggregations (`| count() ...`).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace bt::collector::detect::sigma {

inline constexpr int kMaxConditionDepth = 64;
inline constexpr std::size_t kMaxConditionBytes = 16 * 1024;

struct Condition {
  enum class Op { kRef, kAnd, kOr, kNot, kOf } op = Op::kRef;
  std::string ref;                                         // kRef
  std::vector<std::shared_ptr<const Condition>> children;  // kAnd, kOr, kNot (one)
  std::vector<std::string> of;                             // kOf: the identifiers the pattern named
  uint64_t need = 1;                                       // kOf: how many must hold; 0 means all
};

Result<std::shared_ptr<const Condition>> parse_condition(std::string_view text,
                                                         const std::vector<std::string>& identifiers);

// `pattern` with `*` wildcards (case-sensitive, linear) against `name`.
bool identifier_matches(std::string_view pattern, std::string_view name);

}  // namespace bt::collector::detect::sigma
