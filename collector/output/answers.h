// What HTTP receivers answer, parsed: bytes from the network, so each
// parser here takes any input (tests/fuzz: fuzz_receiver_answers) and
// never more than the fields the outputs act on.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace bt::collector::output {

// A Splunk HEC answer to /services/collector/event: {"text":…,"code":N,
// "ackId":N}. `parsed` is false when the body is not a JSON object (a
// proxy's HTML page, say).
struct HecAnswer {
  bool parsed = false;
  int code = -1;
  std::string text;  // as sent: escape before showing it
  bool has_ack = false;
  uint64_t ack_id = 0;
};
HecAnswer parse_hec_answer(std::string_view body);

// Whether an answer of /services/collector/ack ({"acks":{"7":true}})
// says the events of `ack_id` were indexed.
bool hec_acked(std::string_view body, uint64_t ack_id);

// An OTLP ExportLogsServiceResponse's partial success, in the protobuf or
// JSON encoding. `rejected` is 0 when the body says none (or is empty, as
// OTLP allows, or is not such a response).
struct OtlpAnswer {
  int64_t rejected = 0;
  std::string message;  // as sent: escape before showing it
};
OtlpAnswer parse_otlp_answer(std::string_view body, bool json);

}  // namespace bt::collector::output
