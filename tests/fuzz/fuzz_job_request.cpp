// libFuzzer target: the daemon's job socket request parser
// (agent/route/job_protocol.h). Any local user can send these bytes. Invariants:
// no crash; a parsed request serialises and parses back to the same one;
// no variable outside the identity list survives.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "agent/route/job_protocol.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace bt::agent::job;
  auto r = parse_request(std::string_view(reinterpret_cast<const char*>(data), size));
  if (!r) return 0;
  if (bt::agent::attribution::identity_only(r->env) != r->env) std::abort();
  auto again = parse_request(to_json(*r));
  if (!again || again->op != r->op || again->id != r->id || again->status != r->status || again->env != r->env)
    std::abort();
  auto reply = parse_reply(std::string_view(reinterpret_cast<const char*>(data), size));
  if (reply && reply->message.find('\n') != std::string::npos) std::abort();
  return 0;
}
