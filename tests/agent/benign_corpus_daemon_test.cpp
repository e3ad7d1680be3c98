// Issue 19's benign corpus under `buildtrail-agent daemon` (eBPF): the same
// CI job as benign_corpus_test.cpp, each build the step of a fake GitHub
// runner (fake_runner.py) the daemon tracks, delivered to the real collector
// detecting with everything it loads. Three builds of main teach the
// baseline, a pull request's build is judged: no alert on any. In the
// privileged suite (root; tests/privileged_main.cpp); exits 77 without the
// shared bench.
#include <doctest/doctest.h>

#include <chrono>
#include <sstream>

#include "tests/agent/benign_corpus.h"
#include "tests/agent/daemon_fixtures.h"

using namespace bt;
using namespace bt::testing::benign;
namespace capture = bt::testing::capture;

namespace {

// "A=1 B=2 " -> {"FAKE_STEP_A=1", "FAKE_STEP_B=2"}: the runner passes
// FAKE_STEP_* on to its step.
std::vector<std::string> step_env(const std::string& vars) {
  std::vector<std::string> out;
  std::istringstream in(vars);
  for (std::string kv; in >> kv;) out.push_back("FAKE_STEP_" + kv);
  return out;
}

std::multiset<std::string> run_build(const Sensor& s, const capture::Daemon& daemon, const std::string& run_id,
                                     const std::string& branch_vars, const std::string& script) {
  const std::string ws = s.d.root + "/ws-" + run_id;
  const std::string step = s.d.root + "/step-" + run_id + ".sh";
  REQUIRE(testing::run_command("mkdir -p " + ws).exit_code == 0);
  write(step, script);
  std::vector<std::string> env = step_env("GITHUB_RUN_ID=" + run_id + " " + branch_vars);
  env.push_back("HOME=" + s.home);
  const auto t0 = std::chrono::steady_clock::now();
  capture::FakeRunner runner(s.d.root, "Runner.Worker", "github", "cd " + ws + " && bash " + step, env, run_id);
  runner.start(daemon);
  REQUIRE(runner.wait() == 0);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const auto rules = s.rules_of(run_id);
  MESSAGE("build " << run_id << " (" << seconds << " s) raised " << rules.size() << " alerts\n"
                   << alerts_text(s, run_id));
  return rules;
}

}  // namespace

TEST_CASE("daemon: a realistic benign CI job raises no alert once its baseline is learned") {
  skip_without_bench();
  const Sensor s("benign-daemon", serve_args());
  const Corpus corpus(s.d.root + "/corpus");
  REQUIRE(corpus.pip);
  capture::Daemon daemon(s.d.root,
                         "--collector " + s.c.url("") + " --enroll-token " + s.d.token() + " --batch-max-age-ms 100");
  REQUIRE(daemon.started());
  const std::string script = corpus.script();
  for (int i = 1; i <= kLearningBuilds; ++i) {
    const std::string run_id = std::to_string(7300 + i);
    CHECK(run_build(s, daemon, run_id, branch_env("main", false), script).empty());
  }
  {
    auto st = collector::store::open_sqlite(s.d.data, {true, 5000}).value();
    const auto baselines = st->baselines(std::nullopt).value();
    REQUIRE(baselines.size() == 1);
    CHECK(baselines.front().builds == static_cast<uint64_t>(kLearningBuilds));
  }
  CHECK(run_build(s, daemon, "7400", branch_env("feature/readme", true), script).empty());
  // The baseline is live here too.
  const auto odd = run_build(s, daemon, "7401", branch_env("feature/readme", true),
                             "set -e\n/usr/bin/factor 12 >/dev/null\ncp /usr/bin/tac ./tool && ./tool </dev/null\n");
  CHECK(odd.count("BT-16") >= 1);
  CHECK(daemon.stop() == 0);
}
