// Fuzzes what HTTP receivers answer the outputs (collector/output/
// answers.h): a Splunk HEC event answer and ack answer, an OTLP partial
// success in JSON and protobuf. The first byte picks the parser, the rest
// is the body.
//
// Invariants, any break aborts: an answer that is not a JSON object says
// so and carries no code and no ackId; an ack is only found in an object
// of acks.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "collector/output/answers.h"

namespace {

[[noreturn]] void fail(const char* what) {
  std::fprintf(stderr, "fuzz_receiver_answers: invariant broken: %s\n", what);
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  using namespace bt::collector::output;
  const std::string_view body(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 4) {
    case 0: {
      const HecAnswer a = parse_hec_answer(body);
      if (!a.parsed && (a.code != -1 || a.has_ack || !a.text.empty())) fail("an unparsed answer with fields");
      break;
    }
    case 1:
      if (hec_acked(body, 7) && body.find("acks") == std::string_view::npos) fail("an ack without acks");
      break;
    case 2:
    case 3: {
      const OtlpAnswer a = parse_otlp_answer(body, data[0] % 4 == 2);
      if (body.empty() && (a.rejected != 0 || !a.message.empty())) fail("an empty answer rejected records");
      break;
    }
  }
  return 0;
}
