// Times as the command line reads and shows them: --since and --ttl values
// in, RFC 3339 stamps and short durations out. Always UTC, so output never
// depends on the local time zone.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/result.h"

namespace bt::collector::view {

// A duration: one or more <integer><unit> with unit s, m, h or d ("90s",
// "30m", "2h", "7d", "1h30m"). Zero and overflow are errors.
Result<uint64_t> parse_duration(std::string_view text);

// An RFC 3339 time, "2026-11-27T10:00:00Z", optionally with a fraction of a
// second and a numeric offset instead of Z; a bare date means its midnight
// UTC. Returns ns since the Unix epoch.
Result<uint64_t> parse_rfc3339(std::string_view text);

// The --since forms: an RFC 3339 time, a duration meaning "that long before
// now_ns", or an integer count of ns since the epoch.
Result<uint64_t> parse_since(std::string_view text, uint64_t now_ns);

std::string format_rfc3339(uint64_t ns);     // 2026-11-27T10:30:00Z
std::string format_rfc3339_ms(uint64_t ns);  // 2026-11-27T10:30:00.123Z
std::string format_clock_ms(uint64_t ns);    // 10:30:00.123 (UTC)
std::string format_date(uint64_t ns);        // 2026-11-27 (UTC)
std::string format_duration(uint64_t ns);    // 850ms, 1.520s, 3m04s, 2h05m, 3d04h

}  // namespace bt::collector::view
