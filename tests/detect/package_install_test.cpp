// BT-17's package installs, as command lines show them under `run` (argv as
// the build wrote it) and under the daemon (a #! script's argv as the
// kernel rewrites it: the interpreter first).
#include <doctest/doctest.h>

#include "collector/detect/package_install.h"

using bt::collector::detect::package_install;
using bt::collector::detect::runs_code;
using A = std::vector<std::string>;

TEST_CASE("package installs: the manager, through interpreters and options") {
  CHECK(package_install(A{"npm", "install"}) == "npm");
  CHECK(package_install(A{"npm", "ci"}) == "npm");
  CHECK(package_install(A{"npm", "i", "left-pad"}) == "npm");
  CHECK(package_install(A{"/usr/bin/node", "/usr/bin/npm", "install", "./left-pad-1.0.0.tgz"}) == "npm");
  CHECK(package_install(A{"node", "/usr/lib/node_modules/npm/bin/npm-cli.js", "ci"}) == "npm");
  CHECK(package_install(A{"/usr/bin/env", "node", "/usr/bin/npm", "ci"}) == "npm");
  CHECK(package_install(A{"npm", "--prefix", "web", "ci"}) == "npm");
  CHECK(package_install(A{"npm", "--no-audit", "install"}) == "npm");
  CHECK(package_install(A{"yarn"}) == "yarn");  // a bare yarn installs
  CHECK(package_install(A{"yarn", "--frozen-lockfile"}) == "yarn");
  CHECK(package_install(A{"node", "/usr/share/yarn/bin/yarn.js", "add", "x"}) == "yarn");
  CHECK(package_install(A{"pnpm", "i"}) == "pnpm");
  CHECK(package_install(A{"bun", "install"}) == "bun");
  CHECK(package_install(A{"pip", "install", "-r", "requirements.txt"}) == "pip");
  CHECK(package_install(A{"/usr/bin/python3", "-m", "pip", "install", "--no-index", "."}) == "pip");
  CHECK(package_install(A{"python3", "/usr/local/bin/pip3.11", "-q", "install", "x"}) == "pip");
  CHECK(package_install(A{"ruby", "/usr/bin/gem", "install", "rake"}) == "gem");
  CHECK(package_install(A{"env", "CI=1", "npm", "ci"}) == "npm");
}

TEST_CASE("package installs: what is not one") {
  CHECK(package_install(A{}).empty());
  CHECK(package_install(A{"npm", "run", "build"}).empty());
  CHECK(package_install(A{"npm", "test"}).empty());
  CHECK(package_install(A{"npm", "--version"}).empty());
  CHECK(package_install(A{"npm", "publish"}).empty());
  CHECK(package_install(A{"yarn", "build"}).empty());
  CHECK(package_install(A{"pip", "download", "x"}).empty());
  CHECK(package_install(A{"python3", "-m", "pytest"}).empty());
  CHECK(package_install(A{"python3", "-c", "import pip; pip install"}).empty());
  CHECK(package_install(A{"python3", "setup.py", "install"}).empty());
  CHECK(package_install(A{"node", "index.js", "install"}).empty());
  CHECK(package_install(A{"make", "install"}).empty());
  CHECK(package_install(A{"sh", "-c", "npm install"}).empty());  // the shell is not; its npm child is
  CHECK(package_install(A{"/usr/bin/curl", "install"}).empty());
  CHECK(package_install(A{"pipx", "install", "x"}).empty());
}

TEST_CASE("what runs code an install hands it: shells with -c, interpreters") {
  CHECK(runs_code("/usr/bin/dash", A{"sh", "-c", "node install.js"}));
  CHECK(runs_code("/usr/bin/bash", A{"bash", "-ec", "curl x | sh"}));
  CHECK(runs_code("/usr/bin/node", A{"node", "install.js"}));
  CHECK(runs_code("/root/.bun/bin/bun", A{"bun", "bun_environment.js"}));
  CHECK(runs_code("/usr/bin/python3.11", A{"python3", "setup.py", "egg_info"}));
  CHECK_FALSE(runs_code("/usr/bin/bash", A{"bash", "./build.sh"}));
  CHECK_FALSE(runs_code("/usr/bin/bash", A{"bash", "--norc", "./build.sh"}));
  CHECK_FALSE(runs_code("/usr/bin/gcc", A{"gcc", "-c", "x.c"}));
  CHECK_FALSE(runs_code("/usr/bin/git", A{"git", "clone", "x"}));
}
