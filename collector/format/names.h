// The names of the formats, header-only so the config loader (a library of
// its own, collector/config/) checks them without linking the formats.
#pragma once

#include <string_view>

namespace bt::collector::format {

inline constexpr std::string_view kNames[] = {"json", "ocsf", "ecs"};

}  // namespace bt::collector::format
