// The file watch list: which paths a build must not change unnoticed (CI
// configuration, shell startup files, cron, systemd units, SSH keys allowed
// in, the dynamic loader's preload list, sudoers, Python .pth files, the CI
// runners' and the agent's own files), plus the opt-in workspace watch:
// globs relative to the build's workspace, of files that existed before
// the build began (source tampering, SUNSPOT-style). A write, rename,
// unlink or chmod +x of a matching path is a `file_write` event. The
// default rules are written in the rules-file format and parsed by
// parse_rules(), like the secret rules, and generate docs/file-watch.md.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/markdown.h"
#include "common/result.h"

namespace bt::agent::watch {

struct Rule {
  std::string name;     // e.g. "ci-config"
  std::string pattern;  // glob; "/..." the whole absolute path, otherwise the path's last
                        // components; "**" matches any number of components
};

// The built-in rules (documented in docs/file-watch.md).
const std::vector<Rule>& default_rules();

// Rules from text, one per line: "<name> <pattern>"; '#' comments. Errors
// name the line.
Result<std::vector<Rule>> parse_rules(std::string_view text);

// Workspace globs from a comma-separated list ("src/**,*.go"): relative to
// the workspace, never absolute, no "..".
Result<std::vector<std::string>> parse_workspace(std::string_view list);

// `text` against `glob`: `*` and `?` match within one component, `**` any
// number of whole components (also none), `[...]` a character set.
bool glob_match(std::string_view glob, std::string_view text);

class Matcher {
 public:
  Matcher(std::vector<Rule> rules, std::vector<std::string> workspace_globs);
  // The rule matching `absolute_path`, or null. The workspace globs are
  // tried by workspace_match().
  const Rule* match(std::string_view absolute_path) const;
  // Whether `absolute_path` lies under `workspace` and matches a
  // workspace glob.
  bool workspace_match(std::string_view workspace, std::string_view absolute_path) const;
  bool has_workspace() const { return !workspace_.empty(); }
  const std::vector<Rule>& rules() const { return rules_; }

 private:
  struct Compiled {
    std::size_t rule = 0;
    std::string glob;  // absolute, or "**/" + relative
    std::string hint;  // a literal part every match contains (the prefilter), may be empty
  };
  std::vector<Rule> rules_;
  std::vector<Compiled> compiled_;
  std::vector<std::string> workspace_;
};

// Every pattern the kernel's prefilter must pass: the rules' and the
// workspace globs' (relative to any folder).
std::vector<std::string> patterns(const std::vector<Rule>& rules, const std::vector<std::string>& workspace);

// The parts of docs/file-watch.md generated from default_rules().
std::vector<markdown::Part> reference_parts();

}  // namespace bt::agent::watch
