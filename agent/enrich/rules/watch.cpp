// The file watch list. match() runs for every file a build process opens
// for writing (the wrap backend reports them all, for exec provenance), so
// each pattern carries a literal hint every matching path contains; only
// paths containing a hint pay for the glob.
#include "agent/enrich/rules/watch.h"

#include "agent/enrich/rules/rule_file.h"

#include <algorithm>
#include <array>
#include <cctype>

namespace bt::agent::watch {

namespace {

// Order matters only between rules that could both match one path: the
// first wins.
constexpr std::string_view kDefaultRules = R"(# CI configuration in a repository
ci-config .github/workflows/*
ci-config .github/actions/**
ci-config .gitlab-ci.yml
ci-config Jenkinsfile
ci-config .buildkite/**
ci-config azure-pipelines.yml
ci-config .circleci/config.yml
git-hooks .git/hooks/*
# Shell startup files and histories
shell-rc .bashrc
shell-rc .bash_profile
shell-rc .bash_login
shell-rc .bash_logout
shell-rc .profile
shell-rc .zshrc
shell-rc .zshenv
shell-rc .zprofile
shell-rc .zlogin
shell-rc .config/fish/config.fish
shell-rc /etc/profile
shell-rc /etc/profile.d/*
shell-rc /etc/bash.bashrc
shell-rc /etc/bashrc
shell-rc /etc/environment
shell-history *_history
# Scheduled jobs and services
cron /etc/crontab
cron /etc/cron.d/*
cron /etc/cron.hourly/*
cron /etc/cron.daily/*
cron /etc/cron.weekly/*
cron /etc/cron.monthly/*
cron /var/spool/cron/**
systemd-unit /etc/systemd/system/**
systemd-unit /usr/lib/systemd/system/**
systemd-unit /lib/systemd/system/**
systemd-unit .config/systemd/user/**
# Logins, privileges, the dynamic loader
ssh-authorized-keys .ssh/authorized_keys
ssh-authorized-keys .ssh/authorized_keys2
ssh-authorized-keys .ssh/rc
ld-preload /etc/ld.so.preload
sudoers /etc/sudoers
sudoers /etc/sudoers.d/*
# Python runs the .pth files of site-packages at every start
python-pth site-packages/*.pth
python-pth dist-packages/*.pth
# CI runners' own folders, configuration and hooks
ci-runner /etc/gitlab-runner/**
ci-runner .gitlab-runner/**
ci-runner /etc/buildkite-agent/**
ci-runner buildkite-agent.cfg
ci-runner .runner
ci-runner .credentials
ci-runner actions-runner/.env
ci-runner actions-runner/.path
ci-runner /var/lib/jenkins/*.xml
ci-runner /var/lib/jenkins/init.groovy.d/*
ci-runner .jenkins/init.groovy.d/*
# The agent's own configuration and state
buildtrail /etc/buildtrail/**
buildtrail /var/lib/buildtrail/**
buildtrail .local/state/buildtrail/**
)";

using rule_file::line_error;
using rule_file::trim;
using rule_file::valid_name;

std::string pattern_problem(std::string_view glob) {
  if (glob.empty()) return "empty pattern";
  if (glob.ends_with('/')) return "pattern ends with '/'";
  if (glob.find("//") != std::string_view::npos) return "pattern has an empty component";
  if (glob.find_first_of(" \t\n") != std::string_view::npos) return "pattern has white space";
  for (std::size_t i = 0; (i = glob.find("**", i)) != std::string_view::npos; i += 2) {
    const bool starts = i == 0 || glob[i - 1] == '/';
    const bool ends = i + 2 == glob.size() || glob[i + 2] == '/';
    if (!starts || !ends) return "'**' must be a whole component";
  }
  return {};
}

bool is_glob_char(char c) { return c == '*' || c == '?' || c == '['; }

// The longest run of literal characters in `glob`: every path it matches
// contains it.
std::string literal_hint(std::string_view glob) {
  std::string_view best, run;
  std::size_t start = 0;
  for (std::size_t i = 0; i <= glob.size(); ++i) {
    if (i == glob.size() || is_glob_char(glob[i])) {
      run = glob.substr(start, i - start);
      if (run.size() > best.size()) best = run;
      if (i < glob.size() && glob[i] == '[') {
        const auto close = glob.find(']', i + 1);
        i = close == std::string_view::npos ? glob.size() : close;
      }
      start = i + 1;
    }
  }
  return std::string(best);
}

// One character against a set "[...]" starting at glob[0]; `used` gets
// the set's length. A malformed set is a literal '['.
bool class_match(std::string_view glob, char c, std::size_t* used) {
  std::size_t i = 1;
  bool negate = false;
  if (i < glob.size() && (glob[i] == '!' || glob[i] == '^')) {
    negate = true;
    ++i;
  }
  bool hit = false;
  const std::size_t first = i;
  for (; i < glob.size() && (glob[i] != ']' || i == first); ++i) {
    if (i + 2 < glob.size() && glob[i + 1] == '-' && glob[i + 2] != ']') {
      if (c >= glob[i] && c <= glob[i + 2]) hit = true;
      i += 2;
    } else if (glob[i] == c) {
      hit = true;
    }
  }
  if (i >= glob.size()) {
    *used = 1;
    return c == '[';
  }
  *used = i + 1;
  return c != '/' && hit != negate;
}

}  // namespace

bool glob_match(std::string_view glob, std::string_view text) {
  while (!glob.empty()) {
    if (glob.starts_with("**")) {
      // A whole component (pattern_problem checks): "**/" matches zero or
      // more leading components, a final "**" the rest.
      if (glob.size() == 2) return true;
      const std::string_view rest = glob.substr(3);
      for (std::size_t i = 0;; ++i) {
        if (glob_match(rest, text.substr(i))) return true;
        i = text.find('/', i);
        if (i == std::string_view::npos) return false;
      }
    }
    const char g = glob.front();
    if (g == '*') {
      const std::string_view rest = glob.substr(1);
      for (std::size_t i = 0; i <= text.size(); ++i) {
        if (glob_match(rest, text.substr(i))) return true;
        if (i < text.size() && text[i] == '/') return false;
      }
      return false;
    }
    if (text.empty()) return false;
    if (g == '?') {
      if (text.front() == '/') return false;
      glob.remove_prefix(1);
    } else if (g == '[') {
      std::size_t used = 1;
      if (!class_match(glob, text.front(), &used)) return false;
      glob.remove_prefix(used);
    } else {
      if (g != text.front()) return false;
      glob.remove_prefix(1);
    }
    text.remove_prefix(1);
  }
  return text.empty();
}

const std::vector<Rule>& default_rules() {
  // A compile-time constant covered by a test: value() cannot throw in a
  // shipped build.
  static const std::vector<Rule> rules = parse_rules(kDefaultRules).value();
  return rules;
}

Result<std::vector<Rule>> parse_rules(std::string_view text) {
  std::vector<Rule> rules;
  Status read = rule_file::for_each_line(text, [&](std::size_t number, std::string_view line) -> Status {
    const auto space = line.find_first_of(" \t");
    if (space == std::string_view::npos) return line_error(number, "expected '<name> <pattern>'");
    const std::string_view name = line.substr(0, space);
    const std::string_view pattern = trim(line.substr(space));
    if (!valid_name(name))
      return line_error(number, "bad rule name '" + std::string(name) + "' (letters, digits, '-', '_', '.')");
    if (name == "workspace") return line_error(number, "'workspace' is the workspace watch's name");
    if (std::string problem = pattern_problem(pattern); !problem.empty())
      return line_error(number, problem + " '" + std::string(pattern) + "'");
    rules.push_back(Rule{std::string(name), std::string(pattern)});
    return Ok{};
  });
  if (!read) return read.error();
  return rules;
}

Result<std::vector<std::string>> parse_workspace(std::string_view list) {
  std::vector<std::string> out;
  while (!list.empty()) {
    const auto comma = std::min(list.size(), list.find(','));
    const std::string_view item = trim(list.substr(0, comma));
    list.remove_prefix(std::min(list.size(), comma + 1));
    if (item.empty()) continue;
    const std::string what = "workspace watch '" + std::string(item) + "': ";
    if (item.starts_with('/')) return make_error(ErrorCode::kInvalidArgument, what + "relative to the workspace");
    if (item == ".." || item.starts_with("../") || item.find("/../") != std::string_view::npos || item.ends_with("/.."))
      return make_error(ErrorCode::kInvalidArgument, what + "'..' leaves the workspace");
    if (std::string problem = pattern_problem(item); !problem.empty())
      return make_error(ErrorCode::kInvalidArgument, what + problem);
    out.emplace_back(item);
  }
  return out;
}

Matcher::Matcher(std::vector<Rule> rules, std::vector<std::string> workspace_globs)
    : rules_(std::move(rules)), workspace_(std::move(workspace_globs)) {
  for (std::size_t i = 0; i < rules_.size(); ++i) {
    const std::string& p = rules_[i].pattern;
    Compiled c;
    c.rule = i;
    c.glob = p.starts_with('/') ? p : "/**/" + p;
    c.hint = literal_hint(p.starts_with('/') ? std::string_view(p) : std::string_view(p));
    compiled_.push_back(std::move(c));
  }
}

const Rule* Matcher::match(std::string_view absolute_path) const {
  if (absolute_path.empty() || absolute_path.front() != '/') return nullptr;
  for (const auto& c : compiled_) {
    if (!c.hint.empty() && absolute_path.find(c.hint) == std::string_view::npos) continue;
    if (glob_match(c.glob, absolute_path)) return &rules_[c.rule];
  }
  return nullptr;
}

bool Matcher::workspace_match(std::string_view workspace, std::string_view absolute_path) const {
  if (workspace_.empty() || workspace.empty() || workspace.front() != '/') return false;
  while (workspace.size() > 1 && workspace.ends_with('/')) workspace.remove_suffix(1);
  if (!absolute_path.starts_with(workspace)) return false;
  std::string_view rel = absolute_path.substr(workspace.size());
  if (workspace != "/") {
    if (!rel.starts_with('/')) return false;
    rel.remove_prefix(1);
  } else if (rel.starts_with('/')) {
    rel.remove_prefix(1);
  }
  if (rel.empty()) return false;
  return std::any_of(workspace_.begin(), workspace_.end(), [&](const std::string& g) { return glob_match(g, rel); });
}

std::vector<std::string> patterns(const std::vector<Rule>& rules, const std::vector<std::string>& workspace) {
  std::vector<std::string> out;
  for (const auto& r : rules) out.push_back(r.pattern);
  for (const auto& w : workspace) out.push_back(w);
  return out;
}

std::vector<markdown::Part> reference_parts() {
  std::string md = "| rule | patterns |\n| --- | --- |\n";
  std::vector<std::string_view> done;
  for (const auto& r : default_rules()) {
    if (std::find(done.begin(), done.end(), r.name) != done.end()) continue;
    done.push_back(r.name);
    std::string cell;
    for (const auto& o : default_rules())
      if (o.name == r.name) cell += (cell.empty() ? "`" : ", `") + o.pattern + "`";
    md += "| `" + r.name + "` | " + cell + " |\n";
  }
  return {{"rules", md}};
}

}  // namespace bt::agent::watch
