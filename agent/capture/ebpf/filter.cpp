#include "agent/capture/ebpf/filter.h"

#include "agent/capture/ebpf/record.h"

namespace bt::agent::ebpf {

namespace {

bool has_glob(const std::string& s) { return s.find_first_of("*?[") != std::string::npos; }

// The kernel compares fixed-size, NUL-terminated copies: longer names are
// truncated the same way on both sides.
std::string fit(const std::string& s, std::size_t size) { return s.substr(0, size - 1); }

// The last two components of a pattern (parent may be empty: any).
void split(const std::string& pattern, std::string* parent, std::string* name) {
  const std::size_t slash = pattern.rfind('/');
  *name = slash == std::string::npos ? pattern : pattern.substr(slash + 1);
  *parent = "";
  if (slash == std::string::npos || slash == 0) return;
  const std::size_t before = pattern.rfind('/', slash - 1);
  *parent = pattern.substr(before == std::string::npos ? 0 : before + 1,
                           slash - (before == std::string::npos ? 0 : before + 1));
  if (has_glob(*parent)) parent->clear();
}

GlobEntry glob_entry(const std::string& parent, const std::string& name) {
  GlobEntry g;
  g.parent = fit(parent, BT_PARENT_MAX);
  const std::size_t first = name.find_first_of("*?[");
  const std::size_t last = name.find_last_of("*?]");
  g.prefix = name.substr(0, std::min<std::size_t>(first, BT_GLOB_PART - 1));
  g.suffix = last + 1 < name.size() ? name.substr(last + 1) : "";
  if (g.suffix.size() > BT_GLOB_PART - 1) g.suffix = g.suffix.substr(g.suffix.size() - (BT_GLOB_PART - 1));
  return g;
}

}  // namespace

OpenFilter compile_filter(const std::vector<std::string>& patterns) {
  OpenFilter f;
  for (const char* proc : {"environ", "mem", "maps"}) f.names.push_back({"", proc, BT_NAME_PROC});
  for (const auto& pattern : patterns) {
    if (pattern.empty() || pattern[0] == '!') continue;
    std::string parent, name;
    split(pattern, &parent, &name);
    if (!has_glob(name)) {
      f.names.push_back({fit(parent, BT_PARENT_MAX), fit(name, BT_NAME_MAX), BT_NAME_SECRET});
      continue;
    }
    GlobEntry g = glob_entry(parent, name);
    if (g.parent.empty() && g.prefix.empty() && g.suffix.empty())
      f.any_name = true;
    else if (f.globs.size() < BT_GLOBS_MAX)
      f.globs.push_back(std::move(g));
    else
      f.any_name = true;  // too many globs to check in the kernel: let everything through
  }
  return f;
}

bool filter_passes(const OpenFilter& f, const std::string& parent_in, const std::string& name_in) {
  if (f.any_name) return true;
  const std::string parent = fit(parent_in, BT_PARENT_MAX), name = fit(name_in, BT_NAME_MAX);
  for (const auto& n : f.names)
    if (n.name == name && (n.parent.empty() || n.parent == parent)) return true;
  for (const auto& g : f.globs)
    if ((g.parent.empty() || g.parent == parent) && name.size() >= g.prefix.size() + g.suffix.size() &&
        name.starts_with(g.prefix) && name.ends_with(g.suffix))
      return true;
  return false;
}

namespace {

std::vector<std::string> components(const std::string& pattern) {
  std::vector<std::string> out;
  std::size_t pos = 0;
  while (pos <= pattern.size()) {
    const std::size_t slash = std::min(pattern.find('/', pos), pattern.size());
    if (slash > pos) out.push_back(pattern.substr(pos, slash - pos));
    pos = slash + 1;
  }
  return out;
}

}  // namespace

WatchFilter compile_watch_filter(const std::vector<std::string>& patterns) {
  WatchFilter f;
  for (const auto& pattern : patterns) {
    const std::vector<std::string> parts = components(pattern);
    if (parts.empty()) continue;
    const std::string& base = parts.back();
    if (!has_glob(base)) {
      f.names.push_back(fit(base, BT_NAME_MAX));
      continue;
    }
    if (base != "**") {
      const std::string parent = parts.size() > 1 && !has_glob(parts[parts.size() - 2]) ? parts[parts.size() - 2] : "";
      GlobEntry g = glob_entry(parent, base);
      if (!g.prefix.empty() || !g.suffix.empty()) {
        if (f.globs.size() < BT_GLOBS_MAX) {
          f.globs.push_back(std::move(g));
          continue;
        }
        f.any = true;  // too many globs to check in the kernel
        continue;
      }
    }
    // A basename any name may match: the nearest literal folder above it
    // decides, within the levels between them (any, past a "**").
    std::size_t levels = 0;
    bool unbounded = false, found = false;
    for (std::size_t i = parts.size(); i-- > 0;) {
      if (i + 1 < parts.size() && !has_glob(parts[i])) {
        f.dirs.push_back({fit(parts[i], BT_NAME_MAX),
                          static_cast<uint8_t>(unbounded || levels > BT_WATCH_DEPTH ? BT_WATCH_DEPTH : levels)});
        found = true;
        break;
      }
      if (parts[i] == "**") unbounded = true;
      ++levels;
    }
    if (!found) f.any = true;
  }
  return f;
}

bool watch_passes(const WatchFilter& f, const std::string& path) {
  if (f.any) return true;
  const std::vector<std::string> parts = components(path);
  if (parts.empty()) return false;
  const std::string name = fit(parts.back(), BT_NAME_MAX);
  for (const auto& n : f.names)
    if (n == name) return true;
  const std::string parent = parts.size() > 1 ? fit(parts[parts.size() - 2], BT_PARENT_MAX) : "";
  for (const auto& g : f.globs)
    if (name.size() >= g.prefix.size() + g.suffix.size() && name.starts_with(g.prefix) && name.ends_with(g.suffix) &&
        (g.parent.empty() || g.parent == parent))
      return true;
  for (std::size_t level = 1; level <= BT_WATCH_DEPTH && level < parts.size(); ++level) {
    const std::string dir = fit(parts[parts.size() - 1 - level], BT_NAME_MAX);
    for (const auto& d : f.dirs)
      if (d.name == dir && level <= d.deepest) return true;
  }
  return false;
}

}  // namespace bt::agent::ebpf
