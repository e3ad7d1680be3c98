// Placeholder until the ECS mapping lands: an empty object.
#include "collector/format/ecs.h"

namespace bt::collector::format::ecs {

std::string event(const events::Event&) { return "{}"; }
std::string alert(const store::Alert&) { return "{}"; }

}  // namespace bt::collector::format::ecs
