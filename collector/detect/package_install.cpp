// package_install: see package_install.h.
#include "collector/detect/package_install.h"

#include <string_view>

namespace bt::collector::detect {

namespace {

std::string_view base_name(std::string_view path) {
  const auto slash = path.rfind('/');
  return slash == std::string_view::npos ? path : path.substr(slash + 1);
}

// "npm-cli.js" -> "npm", "pnpm.cjs" -> "pnpm", "pip3.11" -> "pip".
std::string_view manager_of(std::string_view word) {
  std::string_view n = base_name(word);
  for (std::string_view ext : {".js", ".cjs", ".mjs"})
    if (n.size() > ext.size() && n.ends_with(ext)) n.remove_suffix(ext.size());
  if (n.ends_with("-cli")) n.remove_suffix(4);
  if (n.starts_with("pip") && n.find_first_not_of("0123456789.", 3) == std::string_view::npos) return "pip";
  for (std::string_view m : {"npm", "yarn", "pnpm", "bun", "gem"})
    if (n == m) return m;
  return {};
}

bool interpreter(std::string_view word) {
  const std::string_view n = base_name(word);
  return n == "node" || n == "nodejs" || n == "env" || n.starts_with("python") || n.starts_with("ruby");
}

// The subcommands that install, per manager. A bare `yarn` installs too.
bool installs(std::string_view manager, std::string_view sub) {
  if (manager == "npm") return sub == "install" || sub == "i" || sub == "ci" || sub == "add" || sub == "install-test";
  if (manager == "yarn") return sub.empty() || sub == "install" || sub == "add";
  if (manager == "pnpm" || manager == "bun") return sub == "install" || sub == "i" || sub == "add";
  return sub == "install";  // pip, gem
}

}  // namespace

std::string package_install(const std::vector<std::string>& argv) {
  std::size_t i = 0;
  std::string_view manager;
  // Past the interpreters and their options to the program they run.
  for (; i < argv.size() && manager.empty(); ++i) {
    const std::string_view a = argv[i];
    if (a == "-m" && i + 1 < argv.size()) {  // python3 -m pip
      manager = manager_of(argv[++i]);
      if (manager != "pip") return {};
      continue;
    }
    if (i > 0 && (a.starts_with('-') || a.find('=') != std::string_view::npos)) continue;  // options, env's NAME=value
    manager = manager_of(a);
    if (manager.empty() && !interpreter(a)) return {};
  }
  if (manager.empty()) return {};
  // The subcommand is the first word that is not an option, or the next one
  // when that word may be an option's value (`npm --prefix web ci`).
  bool after_option = false;
  for (; i < argv.size(); ++i) {
    const std::string_view a = argv[i];
    if (a.starts_with('-')) {
      after_option = a.find('=') == std::string_view::npos;
      continue;
    }
    if (installs(manager, a)) return std::string(manager);
    if (!after_option) return {};
    after_option = false;
  }
  return installs(manager, {}) ? std::string(manager) : std::string();
}

bool runs_code(const std::string& exe, const std::vector<std::string>& argv) {
  const std::string_view n = base_name(exe);
  for (std::string_view shell : {"sh", "bash", "dash", "zsh", "ksh", "ash", "mksh"})
    if (n == shell) {
      // -c, alone or among single-letter options (`sh -ec`).
      for (std::size_t i = 1; i < argv.size(); ++i) {
        const std::string_view a = argv[i];
        if (!a.starts_with('-') || a.starts_with("--")) continue;
        if (a.find('c') != std::string_view::npos) return true;
      }
      return false;
    }
  for (std::string_view interpreter : {"node", "nodejs", "bun", "deno", "perl", "ruby", "php"})
    if (n == interpreter) return true;
  return n.starts_with("python");
}

}  // namespace bt::collector::detect
