// docs/events.md, generated from events.def (see `make docs`); a test fails
// when the committed page and the declaration disagree.
#pragma once

#include <string>

namespace bt::events {

std::string events_markdown();

}  // namespace bt::events
