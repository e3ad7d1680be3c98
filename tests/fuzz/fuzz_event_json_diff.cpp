// Differential fuzzer of the event JSON codec (common/events/json.cpp): the
// hand-written fast reader against the reference, RapidJSON's DOM decode,
// each run alone through common/events/json_detail.h; and the hand-written
// encoder against RapidJSON's Writer (tests/common/json_reference.h).
//
// Invariants, any break aborts:
//  * whenever the fast reader takes a line, the DOM takes it too and reads
//    an equal event (declining is always allowed: the DOM then decides);
//  * JsonLineReader's result is the DOM's, the same event or the same error,
//    also with one reader and one Event reused across the lines of the input
//    (split at '\n', as for_each_event reads a batch);
//  * both readers give the DOM's event also when decoding into an event of
//    the same kind with every field set (nothing stale survives);
//  * an event the DOM reads is encoded by to_json to the bytes RapidJSON's
//    Writer makes of it, and the fast reader takes that line back to an
//    equal event, unless it holds a \u escape (a control character), which
//    the fast reader leaves to the DOM by design.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "common/events/json.h"
#include "common/events/json_detail.h"
#include "tests/common/json_reference.h"

namespace {

using namespace bt::events;

[[noreturn]] void fail(const char* what, std::string_view line, std::string_view more = {}) {
  std::fprintf(stderr, "fuzz_event_json_diff: invariant broken: %s\n  line: %.*s\n", what,
               static_cast<int>(line.size()), line.data());
  if (!more.empty()) std::fprintf(stderr, "  %.*s\n", static_cast<int>(more.size()), more.data());
  std::abort();
}

// Whether an encoded line holds a \u escape (the encoder writes no other
// backslash than an escape's).
bool has_u_escape(std::string_view line) {
  for (std::size_t i = 0; i + 1 < line.size(); ++i) {
    if (line[i] != '\\') continue;
    if (line[i + 1] == 'u') return true;
    ++i;
  }
  return false;
}

void check_fast(std::string_view line, Event& fast, const bt::Result<Event>& dom) {
  if (!detail::decode_fast(line, fast)) return;
  if (!dom) fail("the fast reader took a line the DOM refuses", line, dom.error().message);
  if (!(fast == dom.value())) fail("the fast reader and the DOM read different events", line);
}

void check_reader(JsonLineReader& reader, std::string_view line, Event& out, const bt::Result<Event>& dom) {
  const bt::Status s = reader.parse_into(line, out);
  if (s.ok() != dom.ok()) fail("JsonLineReader and the DOM disagree on success", line);
  if (dom && !(out == dom.value())) fail("JsonLineReader and the DOM read different events", line);
  if (!dom && (s.error().code != dom.error().code || s.error().message != dom.error().message))
    fail("JsonLineReader and the DOM give different errors", line, s.error().message + " / " + dom.error().message);
}

void check_line(std::string_view line, JsonLineReader& reader, Event& reused, Event& fast_reused) {
  const auto dom = detail::decode_dom(line);
  if (!dom && dom.error().message.empty()) fail("a DOM error without a message", line);

  Event fresh;
  check_fast(line, fresh, dom);
  check_fast(line, fast_reused, dom);  // still holding the previous line's event
  check_reader(reader, line, reused, dom);
  if (!dom) return;
  // Into an event of the same kind with every field set: whatever the line
  // leaves out must be reset, not kept.
  const Kind kind = dom.value().kind();
  Event stale = bt::testing::stale_event(kind);
  check_fast(line, stale, dom);
  stale = bt::testing::stale_event(kind);
  check_reader(reader, line, stale, dom);

  const std::string encoded = to_json(dom.value());
  const std::string reference = bt::testing::reference_json(dom.value());
  if (encoded != reference) fail("to_json differs from RapidJSON's Writer", encoded, reference);
  if (!has_u_escape(encoded)) {
    Event back;
    if (!detail::decode_fast(encoded, back)) fail("the fast reader declined a line the encoder wrote", encoded);
    if (!(back == dom.value())) fail("the event changed through to_json and the fast reader", encoded);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  // Fresh per input, so a crash reproduces from its input file alone.
  JsonLineReader reader;
  Event reused, fast_reused;
  check_line(input, reader, reused, fast_reused);
  if (input.find('\n') == std::string_view::npos) return 0;
  for (std::size_t start = 0; start <= input.size();) {
    std::size_t end = input.find('\n', start);
    if (end == std::string_view::npos) end = input.size();
    check_line(input.substr(start, end - start), reader, reused, fast_reused);
    start = end + 1;
  }
  return 0;
}
