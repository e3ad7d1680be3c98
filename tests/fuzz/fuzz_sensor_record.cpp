// Fuzzes the decoder of the eBPF sensor's ring-buffer records
// (agent/capture/ebpf/decode.h): the kernel writes them, but their strings
// (argv, environment, paths, DNS payloads, the names of file writes) are
// what a build chose.
// Invariants: never crashes, reads nothing outside the input, and a decoded
// observation's strings fit in it (a DNS answer's names are bounded by the
// decoder's own limits instead: compression may repeat bytes); an exec's
// standard descriptors are well formed (stdio_ok).
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <iterator>
#include <optional>
#include <string_view>

#include "agent/capture/ebpf/decode.h"
#include "agent/capture/ebpf/record.h"
#include "common/overloaded.h"

namespace {

using namespace bt::agent;

std::size_t total(const std::vector<std::string>& list) {
  std::size_t n = 0;
  for (const auto& s : list) n += s.size();
  return n;
}

// Another process's strings (a /proc open's, ptrace attach's or
// process_vm_readv's target): its executable and task name.
std::size_t target_strings(const std::optional<capture::ProcTarget>& t) {
  return t ? t->exe.size() + t->comm.size() : 0;
}

// Bytes of the record's own strings an observation holds.
std::size_t strings_of(const capture::Observation& o) {
  return std::visit(
      bt::Overloaded{
          [](const capture::Fork&) -> std::size_t { return 0; },
          [](const capture::Exec& x) -> std::size_t {
            return x.exe.size() + x.cwd.size() + total(x.argv) + (x.identity_env ? total(*x.identity_env) : 0);
          },
          [](const capture::Exit&) -> std::size_t { return 0; },
          [](const capture::Open& op) -> std::size_t { return op.path.size() + target_strings(op.target); },
          [](const capture::Connect&) -> std::size_t { return 0; },
          [](const capture::Dns&) -> std::size_t { return 0; },
          [](const capture::ProcessAccess& a) -> std::size_t { return target_strings(a.target); },
          // A relative name is joined to its folder: at most both
          // plus a '/', and each came with its NUL.
          [](const capture::FileWrite& w) -> std::size_t { return w.path.size() + w.new_path.size(); },
      },
      o);
}

// An exec's standard descriptors: a kind of events::Stdio's, an inode only
// for a pipe or socket, a remote only for a socket and no longer than
// "[IPv6]:port" or a Unix socket's unix:@ and name.
bool stdio_ok(const capture::Observation& o) {
  const auto* x = std::get_if<capture::Exec>(&o);
  if (!x) return true;
  for (const auto& s : x->stdio) {
    static constexpr std::string_view kKinds[] = {"tty", "pipe", "socket", "file", "null", "other", "closed"};
    if (std::find(std::begin(kKinds), std::end(kKinds), s.kind) == std::end(kKinds)) return false;
    if (s.inode && s.kind != "pipe" && s.kind != "socket") return false;
    const std::size_t most = s.remote.starts_with("unix:") ? 6 + BT_SUN_PATH_MAX : 47;
    if (!s.remote.empty() && (s.kind != "socket" || s.remote.size() > most)) return false;
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const ebpf::Clock clock;
  auto r = ebpf::decode(std::span(data, size), clock);
  if (!r) return 0;
  if (const auto* o = std::get_if<ebpf::Observed>(&*r); o && (strings_of(o->what) > size || !stdio_ok(o->what)))
    std::abort();
  return 0;
}
