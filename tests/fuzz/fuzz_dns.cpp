// Fuzzes the DNS message parser (agent/capture/dns/dns.h): it reads bytes a traced
// build sent or received. Invariants: never crashes, reads nothing outside
// the input, terminates on compression loops, and what it returns is
// bounded (names <= 253 characters + dots, at most 64 answers).
#include <cstdint>
#include <cstdlib>

#include "agent/capture/dns/dns.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto m = bt::agent::dns::parse(std::span(data, size));
  if (!m) return 0;
  if (m->name.size() > 255 || m->answers.size() > 64 || m->addresses.size() > m->answers.size()) std::abort();
  for (const auto& a : m->answers)
    if (a.size() > 255) std::abort();
  return 0;
}
