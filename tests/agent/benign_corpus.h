// The benign corpus of issue 19, shared by its `run` test
// (benign_corpus_test.cpp) and its daemon test (benign_corpus_daemon_test.cpp):
// what the job's builds fetch (a bare git repository, a wheel folder, an
// npm tarball), the build script, and the alerts of a build as text.
#pragma once

#include <doctest/doctest.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <string>

#include "tests/agent/incident_fixtures.h"

namespace bt::testing::benign {

using incidents::branch_env;
using incidents::Sensor;

// The default is 10 clean builds before a job raises anything; 3 keep the
// test to a few minutes and still make each item trusted (2 builds).
constexpr int kLearningBuilds = 3;

inline std::string bench_dir() { return env_or("BUILDTRAIL_SRC", ".") + "/../shared/bench"; }

inline bool have(const std::string& command) { return run_command("command -v " + command).exit_code == 0; }

inline void write(const std::string& path, const std::string& text) {
  std::ofstream f(path);
  f << text;
  REQUIRE(f.good());
}

// The test needs the shared bench's compile workload: without it, it exits
// 77 (meson: skipped), never passes.
inline void skip_without_bench() {
  if (run_command("test -f " + bench_dir() + "/workloads/compile.sh").exit_code == 0) return;
  std::fprintf(stderr, "SKIP: %s/workloads/compile.sh is absent (the shared bench)\n", bench_dir().c_str());
  std::_Exit(77);
}

// Everything serve can load: the pack (built in), SigmaHQ's Linux rules and
// our filters for them; baselines that learn from kLearningBuilds builds.
inline std::vector<std::string> serve_args() {
  const std::string src = env_or("BUILDTRAIL_SRC", ".");
  return {"--baseline-builds", std::to_string(kLearningBuilds),          "--rules", src + "/tests/detect/sigma-rules",
          "--rules",           src + "/collector/detect/sigmahq-filters"};
}

// What the job's builds fetch, made once outside the sensor: the project's
// bare repository, a wheel folder, an npm tarball.
struct Corpus {
  std::string root, origin, wheels, npm_tarball;
  bool pip = false, npm = false;

  explicit Corpus(const std::string& dir) : root(dir) {
    const std::string src = root + "/project";
    REQUIRE(run_command("mkdir -p " + src + " " + root + "/pypkg/hello " + root + "/npmpkg").exit_code == 0);
    write(src + "/greet.h", "int greet(char* out, unsigned n, const char* who);\n");
    write(src + "/greet.c",
          "#include <stdio.h>\n#include \"greet.h\"\n"
          "int greet(char* out, unsigned n, const char* who) { return snprintf(out, n, \"hello, %s\", who); }\n");
    write(src + "/main.c",
          "#include <stdio.h>\n#include \"greet.h\"\n"
          "int main(int argc, char** argv) { char b[64]; greet(b, sizeof b, argc > 1 ? argv[1] : \"world\"); "
          "puts(b); return 0; }\n");
    write(src + "/test_greet.c",
          "#include <string.h>\n#include \"greet.h\"\n"
          "int main(void) { char b[64]; return greet(b, sizeof b, \"ci\") == 9 && strcmp(b, \"hello, ci\") == 0 ? 0 : "
          "1; }\n");
    write(src + "/Makefile",
          "CFLAGS ?= -O2 -g -Wall\n"
          "all: greet\n"
          "greet: main.o greet.o\n\t$(CC) $(CFLAGS) -o $@ main.o greet.o\n"
          "test_greet: test_greet.o greet.o\n\t$(CC) $(CFLAGS) -o $@ test_greet.o greet.o\n"
          "check: test_greet\n\t./test_greet\n"
          ".PHONY: all check\n");
    origin = root + "/origin.git";
    const auto git = run_command(
        "cd " + src +
        " && git init -q -b main . && git add . && git -c user.name=dev -c user.email=dev@example.com commit -qm "
        "greet && git clone -q --bare . " +
        origin);
    INFO(git.output);
    REQUIRE(git.exit_code == 0);

    write(root + "/pypkg/hello/__init__.py", "def hi():\n    return 1\n");
    write(root + "/pypkg/pyproject.toml",
          "[build-system]\nrequires = [\"setuptools\"]\nbuild-backend = \"setuptools.build_meta\"\n"
          "[project]\nname = \"hello\"\nversion = \"0.1\"\n");
    wheels = root + "/wheels";
    pip = run_command("cd " + root + " && HOME=" + root +
                      " /usr/bin/python3 -m pip wheel -q --no-deps --no-build-isolation --no-index "
                      "--disable-pip-version-check -w " +
                      wheels + " ./pypkg")
              .exit_code == 0;

    write(root + "/npmpkg/package.json", "{\"name\": \"left-pad\", \"version\": \"1.0.0\", \"main\": \"index.js\"}\n");
    write(root + "/npmpkg/index.js", "module.exports = (s, n) => String(s).padStart(n);\n");
    npm_tarball = root + "/left-pad-1.0.0.tgz";
    npm = have("npm") && have("node") &&
          run_command("cd " + root + "/npmpkg && HOME=" + root + " npm pack --silent --pack-destination " + root)
                  .exit_code == 0;
  }

  // One build of the job, in an empty workspace.
  std::string script() const {
    std::string s =
        "set -euo pipefail\n"
        "mkdir -p bench\n"
        "BENCH_WORKDIR=$PWD/bench BENCH_HOME=$HOME COMPILE_JOBS=2 /bin/bash " +
        bench_dir() +
        "/workloads/compile.sh\n"
        "git clone -q file://" +
        origin +
        " app\n"
        "make -s -C app all check\n"
        "./app/greet ci >/dev/null\n";
    if (pip)
      s += "/usr/bin/python3 -m pip install -q --no-index --disable-pip-version-check --root-user-action=ignore "
           "--find-links " +
           wheels +
           " --target site hello\n"
           "PYTHONPATH=site /usr/bin/python3 -c 'import hello; assert hello.hi() == 1'\n";
    if (npm)
      s += "mkdir web && cd web && echo '{\"name\": \"web\", \"version\": \"1.0.0\", \"private\": true}' > "
           "package.json\n"
           "npm install --offline --no-audit --no-fund --no-update-notifier --loglevel=error " +
           npm_tarball +
           "\n"
           "node -e 'if (require(\"left-pad\")(\"x\", 3) !== \"  x\") process.exit(1)'\n"
           "cd ..\n";
    s += "tar czf artifact.tgz app/greet bench/compile-build/libiberty.a\n";
    return s;
  }
};

// Every alert of the build `run_id` as "rule: title: detail", one a line.
inline std::string alerts_text(const Sensor& s, const std::string& run_id) {
  const int64_t ref = s.build_ref(run_id);
  auto st = collector::store::open_sqlite(s.d.data, {true, 5000}).value();
  collector::store::AlertFilter f;
  f.build = ref;
  f.limit = 1000000;
  // Each (rule, detail) once, with how often.
  std::map<std::string, int> lines;
  const std::vector<collector::store::Alert> alerts = st->alerts(f).value();
  for (const auto& a : alerts) ++lines[a.rule_id + ": " + a.title + ": " + a.detail];
  std::string out;
  for (const auto& [line, n] : lines) out += std::to_string(n) + "x " + line + "\n";
  return out;
}

}  // namespace bt::testing::benign
