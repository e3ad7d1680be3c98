// One line describing an event, for the `query` timeline.
#pragma once

#include <string>

#include "common/events/event.h"

namespace bt::collector::view {

// At most 120 code points, already printable.
std::string summary(const events::Event& event);

}  // namespace bt::collector::view
