// Formats: how an event or an alert is written for a tool outside
// buildtrail. One JSON object per record, no newline, for every format:
//   json  buildtrail's own (docs/events.md; alerts as docs/detection.md "Alert JSON")
//   ocsf  OCSF 1.8.0 (docs/ocsf.md): Process Activity, Network Activity,
//         DNS Activity, File System Activity, Detection Finding
//   ecs   Elastic Common Schema (docs/ecs.md)
// Used by the outputs (collector/output/) and by `export --format`.
#pragma once

#include <string>
#include <string_view>

#include "collector/store/store.h"
#include "common/events/event.h"
#include "common/result.h"

namespace bt::collector::format {

enum class Format { kJson, kOcsf, kEcs };  // in the order of kNames (names.h)

// "json", "ocsf" or "ecs"; anything else is a one-line error.
Result<Format> parse(std::string_view name);
std::string_view name(Format format);

// One event, or one alert, as one JSON object in `format`. Every string
// is JSON-escaped (RapidJSON), so no record can hold a raw newline.
std::string event(Format format, const events::Event& e);
// The same, given the verified line `e` was parsed from: in buildtrail's
// own JSON that line is the record (only made printable), as the agent
// signed it, which also spares encoding the event again.
std::string event(Format format, const events::Event& e, std::string_view signed_line);
std::string alert(Format format, const store::Alert& a);

}  // namespace bt::collector::format
