// One realistic example event per kind. They illustrate docs/events.md (the
// generator prints them), seed the round-trip tests and the fuzz corpus.
#pragma once

#include "common/events/event.h"

namespace bt::events {

Event example_event(Kind kind);

}  // namespace bt::events
