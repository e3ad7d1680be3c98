// Issue 19's benign corpus: a realistic CI job, run under the real
// `buildtrail-agent run` and delivered to the real collector detecting with
// everything it can load (the CI rule pack, SigmaHQ's Linux rules, the
// per-job baselines, the integrity checks), raises no alert once its
// baseline is learned.
//
// Each build of the job does what a C project's CI does: the shared bench's
// compile workload (autotools configure + make -j2 of GNU libiberty), a git
// clone over file:// of a local bare repository and its build and tests,
// a pip install from a local wheel folder, an npm install of a local tarball
// (when npm is installed), and a tar of the artifacts. Three builds of
// `main` teach the baseline, a pull request's build is judged, and a last
// build that runs tools the job never ran shows the baseline is live.
//
// Without ../shared/bench (BUILDTRAIL_SRC/../shared/bench) the test exits 77,
// which meson reports as skipped.
#include <doctest/doctest.h>

#include <chrono>

#include "tests/agent/benign_corpus.h"

using namespace bt;
using namespace bt::testing::incidents;
using namespace bt::testing::benign;

namespace {

struct Built {
  std::multiset<std::string> rules;
  double seconds = 0;
};

Built run_build(const Sensor& s, const std::string& run_id, const std::string& env, const std::string& script) {
  const std::string ws = s.d.root + "/ws-" + run_id;  // a fresh workspace each build, as on ephemeral runners
  REQUIRE(testing::run_command("mkdir -p " + ws).exit_code == 0);
  const auto t0 = std::chrono::steady_clock::now();
  const auto r = s.build(run_id, script, "--watch-workspace 'src/**'", ws, env);
  Built b;
  b.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  b.rules = s.rules_of(run_id);
  MESSAGE("build " << run_id << " (" << b.seconds << " s) raised " << b.rules.size() << " alerts\n"
                   << alerts_text(s, run_id));
  return b;
}

}  // namespace

TEST_CASE("a realistic benign CI job raises no alert once its baseline is learned") {
  skip_without_bench();
  Sensor s("benign", serve_args());
  const Corpus corpus(s.d.root + "/corpus");
  if (!corpus.pip) MESSAGE("the pip install is left out: /usr/bin/python3 cannot build a wheel offline");
  if (!corpus.npm) MESSAGE("the npm install is left out: npm is not installed");
  REQUIRE(corpus.pip);
  const std::string script = corpus.script();

  // Learning: builds of main. The baseline is silent until it has learned
  // from kLearningBuilds builds; nothing else may raise either.
  for (int i = 1; i <= kLearningBuilds; ++i) {
    const std::string run_id = std::to_string(7100 + i);
    const Built b = run_build(s, run_id, branch_env("main", false), script);
    INFO("learning build " << run_id << " raised:\n" << alerts_text(s, run_id));
    CHECK(b.rules.empty());
  }
  {
    auto st = collector::store::open_sqlite(s.d.data, {true, 5000}).value();
    const auto baselines = st->baselines(std::nullopt).value();
    REQUIRE(baselines.size() == 1);
    CHECK(baselines.front().key.job == "ci/build");
    CHECK(baselines.front().builds == static_cast<uint64_t>(kLearningBuilds));
    MESSAGE("baseline: " << baselines.front().items.size() << " items");
  }

  // Judged: the same job on a pull request's branch (every branch is judged).
  const Built judged = run_build(s, "7200", branch_env("feature/readme", true), script);
  INFO("the judged build raised:\n" << alerts_text(s, "7200"));
  CHECK(judged.rules.empty());

  // The baseline is live: a tool the job never ran, and an executable a
  // tool the job never built with wrote, each raise BT-16.
  const Built odd = run_build(s, "7201", branch_env("feature/readme", true),
                              "set -e\n/usr/bin/factor 12 >/dev/null\ncp /usr/bin/tac ./tool && ./tool </dev/null\n");
  const std::string text = alerts_text(s, "7201");
  INFO(text);
  CHECK(odd.rules.count("BT-16") >= 1);
  CHECK(text.find("/usr/bin/factor") != std::string::npos);
  CHECK(text.find("/tool") != std::string::npos);
}
