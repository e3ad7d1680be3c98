// RFC 5424 messages for the syslog output, one per record:
//
//   <PRI>1 TIMESTAMP HOSTNAME APP-NAME - MSGID [SD-ID kind="" id="" ...] MSG
//
// PRI is the configured facility and the record's severity (alerts by
// theirs, events informational, loss notice); HOSTNAME the event's host (the
// collector's for an alert); MSGID the event kind or "alert"; the
// structured data names the record (its id, agent, build, CI system,
// repository, job; an alert's rule and severity); MSG is the record in the
// output's format, one JSON object. Header fields are PRINTUSASCII (anything
// else becomes '_'); SD-PARAM values are escaped as RFC 5424 6.3.3 says
// ('"', '\' and ']' behind a backslash), after control characters and bytes
// that are not UTF-8 became \xNN text (common/text.h): no value can end
// the element, and no message can hold a raw line break that a receiver
// writing lines would split into a second record.
#pragma once

#include <string>
#include <string_view>

#include "collector/output/output.h"

namespace bt::collector::output::syslog {

struct Header {
  int facility = 16;
  std::string app_name = "buildtrail";
  std::string sd_id = "buildtrail@32473";
  std::string collector_host;  // HOSTNAME of alerts
};

std::string message(const Header& header, const Record& record);

// One SD-PARAM value, escaped (without the quotes).
std::string param_value(std::string_view value);
// RFC 3339 with microseconds, UTC: 2026-12-07T15:04:05.123456Z; "-" for 0.
std::string timestamp(uint64_t time_ns);
// RFC 6587 octet counting: "<length> <message>", appended to `out`.
void append_octet_counted(std::string& out, const std::string& message);

}  // namespace bt::collector::output::syslog
