// Fuzzes the decoder of the eBPF sensor's ring-buffer records
// (agent/capture/ebpf/decode.h): the kernel writes them, but their strings (argv,
// environment, paths, DNS payloads) are what a build chose. Invariants:
// never crashes, reads nothing outside the input, and a decoded record's
// parts fit in it.
#include <cstdint>
#include <cstdlib>

#include "agent/capture/ebpf/decode.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto r = bt::agent::ebpf::decode(std::span(data, size));
  if (!r) return 0;
  std::size_t strings = r->exe.size() + r->cwd.size() + r->path.size() + r->payload.size();
  for (const auto& a : r->argv) strings += a.size();
  for (const auto& e : r->env) strings += e.size();
  if (strings > size) std::abort();
  return 0;
}
