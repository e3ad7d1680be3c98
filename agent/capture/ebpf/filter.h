// The kernel half of the open filter: the path patterns user space cares
// about (the secret rules', agent/enrich/rules/secrets) compiled into the
// entries sensor.bpf.c looks up for every file a build opens. It is a
// superset filter on a path's last two components (parent directory name,
// basename); what passes is matched exactly in user space.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace bt::agent::ebpf {

struct NameEntry {
  std::string parent;  // empty: any parent
  std::string name;    // exact basename
  uint16_t flags = 0;  // bt_name_flags
};

struct GlobEntry {
  std::string parent;          // empty: any parent
  std::string prefix, suffix;  // literal ends of the basename glob
};

struct OpenFilter {
  std::vector<NameEntry> names;
  std::vector<GlobEntry> globs;  // at most BT_GLOBS_MAX
  bool any_name = false;         // some rule can match any basename: no filtering
};

// Compiles path globs ("/..." a whole path, else its last components;
// "!glob" exclusions are skipped: the filter is a superset), plus
// /proc/<pid>/environ, mem and maps of other processes.
OpenFilter compile_filter(const std::vector<std::string>& patterns);

// The same decision the kernel makes, for tests: may (parent, name) match?
bool filter_passes(const OpenFilter& f, const std::string& parent, const std::string& name);

}  // namespace bt::agent::ebpf
