// ECS mapping of events and alerts; see format.h. (Being written.)
#pragma once

#include <string>

#include "collector/store/store.h"
#include "common/events/event.h"

namespace bt::collector::format::ecs {

std::string event(const events::Event& e);
std::string alert(const store::Alert& a);

}  // namespace bt::collector::format::ecs
