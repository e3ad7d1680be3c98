// Package installs in a command line: BT-17 asks what a package install
// (npm/yarn/pnpm/bun/pip/gem) runs below it: its lifecycle scripts
// (npm's preinstall/postinstall, a source package's setup.py) are code from
// the registry, run with the build's credentials.
#pragma once

#include <string>
#include <vector>

namespace bt::collector::detect {

// The package manager when `argv` installs packages ("npm", "yarn", "pnpm",
// "bun", "pip", "gem"), else empty. Seen through the interpreters that run
// them (`node /usr/bin/npm ci`, `python3 -m pip install`, `ruby
// /usr/bin/gem install`), as the kernel rewrites a #! script's argv.
std::string package_install(const std::vector<std::string>& argv);

// True when the program `exe` runs code it is handed: a shell with -c, or an
// interpreter (node, bun, deno, python, perl, ruby, php). What BT-17's
// baseline half asks of what an install runs.
bool runs_code(const std::string& exe, const std::vector<std::string>& argv);

}  // namespace bt::collector::detect
