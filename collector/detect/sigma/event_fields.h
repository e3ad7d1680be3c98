// The adapter from our events (common/events) to the engine's Fields.
//
// Field names are the JSON paths of the event as `export` writes it
// (`process.exe`, `build.id`, `data.argv`, `data.stdin_fd.kind`,
// `data.files.sha256`, `data.counts.process_exec`): derived from events.def
// by its field visitors, so a field added there is matchable without an edit
// here. Empty strings are absent, as in the JSON. Beside them, values the
// JSON does not hold as such, under `derived.`:
//   derived.command_line         argv joined by single spaces (Sysmon for Linux)
//   derived.user                 the uid as a decimal string (the collector has no agent's passwd)
//   derived.hashes               SHA256=<exe_sha256>
//   derived.initiated            "true" for net_connect (every connect is outbound)
//   derived.destination_is_ipv6  "true" / "false" from data.daddr
//   derived.parent_exe, derived.parent_command_line, derived.parent_user
//                                the parent's, from the ParentLookup when one is given
//   derived.stdin_peer_exe, derived.stdout_peer_exe
//                                the exe of the process at the other end of the pipe on
//                                stdin / stdout (data.*_fd.peer_key), from the same lookup
//   derived.written_by_exe       the exe of the process that wrote the program earlier in
//                                the build (data.written_by), from the same lookup
//   derived.package_install      the package manager (npm, yarn, pnpm, bun, pip, gem) whose
//                                install the process runs under: its parent's or an
//                                ancestor's (ProcessInfo.package_install of the parent)
//
// ParentImage and its kin: a process_exec names its parent by
// process.parent_key only. The streaming detector keeps a process table
// (key -> exe, argv, uid from earlier process_execs of the build) and hands
// it in as a ParentLookup; without one the parent fields are absent, so a
// rule that tests them does not match (`rules check` marks the rules that
// read them).
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "collector/detect/sigma/fields.h"
#include "common/events/event.h"

namespace bt::collector::detect::sigma {

struct ProcessInfo {
  std::string exe;
  std::vector<std::string> argv;
  uint64_t uid = 0;
  // The package manager whose install this process is or runs under
  // (detect/package_install.h): its own, else its parent's.
  std::string package_install;
};
using ParentLookup = std::function<std::optional<ProcessInfo>(std::string_view process_key)>;

class EventFields final : public Fields {
 public:
  explicit EventFields(const events::Event& event, ParentLookup parents = {});
  std::string_view kind() const override;
  void values(std::string_view field, std::vector<std::string>& out) const override;

 private:
  const events::Event& event_;
  ParentLookup parents_;
};

// Every field name EventFields answers for events of `kind` (the envelope's,
// the kind's body fields, the derived ones that apply), and for any kind.
std::vector<std::string> event_field_names(events::Kind kind);
std::vector<std::string> all_event_field_names();

}  // namespace bt::collector::detect::sigma
