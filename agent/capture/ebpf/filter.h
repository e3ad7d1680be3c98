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

// The kernel's watch filter for write-opens (agent/enrich/rules/watch): a
// superset on a path's basename and its BT_WATCH_DEPTH nearest folders.
struct WatchFilter {
  std::vector<std::string> names;  // exact basenames
  std::vector<GlobEntry> globs;    // basename literal ends, under a parent of that name if given; at most BT_GLOBS_MAX
  struct Dir {
    std::string name;
    uint8_t deepest = 0;  // how many levels below it a match may be (BT_WATCH_DEPTH: any)
  };
  std::vector<Dir> dirs;
  bool any = false;  // some pattern can match any path: every write-open passes
};

// Compiles watch patterns ("/..." a whole path, else its last components;
// "**" any number of components) and workspace globs.
WatchFilter compile_watch_filter(const std::vector<std::string>& patterns);

// The kernel's decision for an absolute path, for tests.
bool watch_passes(const WatchFilter& f, const std::string& path);

}  // namespace bt::agent::ebpf
