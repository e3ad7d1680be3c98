// Fuzzes the event JSON reader (common/events/json.h).
//
// Invariants, any break aborts:
//  * a reused JsonLineReader (arena cleared between lines) and a fresh
//    from_json agree on every input;
//  * an event that parses re-encodes (to_json) to one line that parses back
//    to an equal event, and re-encoding that gives the same line.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "common/events/json.h"

namespace {

using namespace bt::events;

[[noreturn]] void fail(const char* what, std::string_view line) {
  std::fprintf(stderr, "fuzz_event_json: invariant broken: %s\n  line: %.*s\n", what, static_cast<int>(line.size()),
               line.data());
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  static JsonLineReader reused;  // keeps its arena across inputs, as for_each_event does

  auto event = from_json(input);
  auto again = reused.parse(input);
  if (event.ok() != again.ok()) fail("a reused reader and from_json disagree", input);
  if (!event) {
    if (event.error().message.empty()) fail("error without a message", input);
    return 0;
  }
  if (!(*again == *event)) fail("a reused reader and from_json read different events", input);

  const std::string line = to_json(*event);
  if (line.find('\n') != std::string::npos) fail("to_json wrote more than one line", line);
  auto back = from_json(line);
  if (!back) {
    std::fprintf(stderr, "fuzz_event_json: re-parse error: %s\n", back.error().message.c_str());
    fail("to_json output does not parse", line);
  }
  if (!(*back == *event)) fail("event changed in a JSON round trip", line);
  if (to_json(*back) != line) fail("encoding is not stable across a round trip", line);
  return 0;
}
