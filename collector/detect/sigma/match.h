// Evaluates one loaded rule against one event. The event is routed first
// (the rule's kinds), then the condition tree is evaluated with
// short-circuits, each search fetching the fields it names from the
// event. Every string test is one RE2 run (modifiers.h), so the cost is
// linear in the length of the event's strings times the rule's size.
#pragma once

#include "collector/detect/sigma/fields.h"
#include "collector/detect/sigma/rule.h"

namespace bt::collector::detect::sigma {

bool routes(const Rule& rule, const Fields& event);
// routes() and the condition, and every attached filter's condition.
bool matches(const Rule& rule, const Fields& event);

}  // namespace bt::collector::detect::sigma
