// Placeholder until the OCSF mapping lands: an empty object.
#include "collector/format/ocsf.h"

namespace bt::collector::format::ocsf {

std::string event(const events::Event&) { return "{}"; }
std::string alert(const store::Alert&) { return "{}"; }

}  // namespace bt::collector::format::ocsf
