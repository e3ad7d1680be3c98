// The two event decoders behind JsonLineReader, each alone. Only the tests
// that hold one to the other include this (tests/common/event_test.cpp,
// tests/fuzz/fuzz_event_json_diff.cpp); everything else uses json.h.
//
// JsonLineReader::parse is decode_fast, then decode_dom when the fast reader
// declines. That is correct as long as decode_fast only takes lines that
// decode_dom takes too, with an equal event: the differential fuzzer checks
// exactly that.
#pragma once

#include <string_view>

#include "common/events/event.h"
#include "common/result.h"

namespace bt::events::detail {

// The hand-written reader for the shape JsonLineWriter writes. True when it
// takes the line, with every field of `out` overwritten (`out` may hold a
// previous event); false when it declines -- anything outside that shape,
// every error included -- and then `out` is unspecified. Its parked bodies
// are fresh on every call, unlike a JsonLineReader's.
bool decode_fast(std::string_view line, Event& out);

// The reference: RapidJSON's DOM, then a lookup of every declared field.
// It decides every error and every odd case.
Result<Event> decode_dom(std::string_view line);

}  // namespace bt::events::detail
