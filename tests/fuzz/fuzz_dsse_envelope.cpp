// Fuzzes the DSSE envelope reader (collector/evidence/dsse.h): `verify`
// reads envelope files handed over by whoever holds them, so their bytes
// are outside bytes.
//
// Invariants, any break aborts: an envelope that parses re-encodes to JSON
// that parses back to the same envelope; an envelope that yields a batch
// yields the same one after that round trip; an error has a message.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "collector/evidence/dsse.h"

namespace {

using namespace bt::collector::evidence;

[[noreturn]] void fail(const char* what) {
  std::fprintf(stderr, "fuzz_dsse_envelope: invariant broken: %s\n", what);
  std::abort();
}

bool same(const Envelope& a, const Envelope& b) {
  if (a.payload_type != b.payload_type || a.payload != b.payload || a.signatures.size() != b.signatures.size())
    return false;
  for (std::size_t i = 0; i < a.signatures.size(); ++i)
    if (a.signatures[i].keyid != b.signatures[i].keyid || a.signatures[i].sig != b.signatures[i].sig) return false;
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  const std::string_view json(reinterpret_cast<const char*>(data), size);
  auto envelope = parse_envelope(json);
  if (!envelope) {
    if (envelope.error().message.empty()) fail("error without a message");
    return 0;
  }
  auto back = parse_envelope(to_json(*envelope));
  if (!back) fail("to_json output does not parse");
  if (!same(*back, *envelope)) fail("envelope changed in a JSON round trip");
  auto batch = to_batch(*envelope);
  if (batch) {
    auto again = to_batch(*back);
    if (!again || *again != *batch) fail("batch changed in a JSON round trip");
  } else if (batch.error().message.empty()) {
    fail("to_batch error without a message");
  }
  return 0;
}
