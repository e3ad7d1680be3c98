// The parts of docs/events.md generated from events.def (the field tables,
// the kinds, an example of each); the prose around them is written in the
// page itself (common/markdown.h). A test fails when the page is stale.
#pragma once

#include <vector>

#include "common/markdown.h"

namespace bt::events {

std::vector<markdown::Part> reference_parts();

}  // namespace bt::events
