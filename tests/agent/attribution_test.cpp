#include <doctest/doctest.h>

#include <stdlib.h>

#include <string>

#include "agent/enrich/rules/attribution.h"
#include "agent/enrich/rules/runners.h"
#include "tests/common/test_util.h"

using namespace bt;
using namespace bt::agent::attribution;

// Every value below is invented, shaped like what each CI system sets.
namespace {

const std::string kHost = "build-host-7";

Environment base() { return {{"HOME", "/home/ci"}, {"PATH", "/usr/bin:/bin"}, {"CI", "true"}}; }

Environment with(Environment env, const Environment& more) {
  for (const auto& [k, v] : more) env[k] = v;
  return env;
}

const Environment kJenkins =
    with(base(), {
                     {"JENKINS_URL", "https://jenkins.example.com/"},
                     {"BUILD_TAG", "jenkins-team-app-main-42"},
                     {"JOB_NAME", "team/app/main"},
                     {"BUILD_NUMBER", "42"},
                     {"BUILD_URL", "https://jenkins.example.com/job/team/job/app/job/main/42/"},
                     {"GIT_URL", "https://github.com/example/app.git"},
                     {"GIT_COMMIT", "0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c"},
                     {"NODE_NAME", "linux-agent-3"},
                     {"WORKSPACE", "/var/lib/jenkins/workspace/team_app_main"},
                 });

const Environment kGithub = with(base(), {
                                             {"GITHUB_ACTIONS", "true"},
                                             {"GITHUB_WORKFLOW", "CI"},
                                             {"GITHUB_JOB", "build"},
                                             {"GITHUB_RUN_ID", "8812345678"},
                                             {"GITHUB_RUN_ATTEMPT", "2"},
                                             {"GITHUB_RUN_NUMBER", "311"},
                                             {"GITHUB_SERVER_URL", "https://github.com"},
                                             {"GITHUB_REPOSITORY", "example/app"},
                                             {"GITHUB_SHA", "a94a8fe5ccb19ba61c4c0873d391e987982fbbd3"},
                                             {"RUNNER_NAME", "GitHub Actions 12"},
                                             {"RUNNER_OS", "Linux"},
                                         });

const Environment kGitlab = with(
    base(),
    {
        {"GITLAB_CI", "true"},
        {"CI_JOB_NAME", "build:linux"},
        {"CI_JOB_ID", "6123456789"},
        {"CI_PIPELINE_IID", "1207"},
        {"CI_PIPELINE_ID", "1298765432"},
        {"CI_JOB_URL", "https://gitlab.example.com/group/app/-/jobs/6123456789"},
        {"CI_PROJECT_URL", "https://gitlab.example.com/group/app"},
        {"CI_REPOSITORY_URL", "https://gitlab-ci-token:glcbt-64_FakeJobToken1234567@gitlab.example.com/group/app.git"},
        {"CI_JOB_TOKEN", "glcbt-64_FakeJobToken1234567"},
        {"CI_COMMIT_SHA", "c0ffee0000000000000000000000000000c0ffee"},
        {"CI_RUNNER_DESCRIPTION", "shared-runner-eu-2"},
        {"CI_RUNNER_ID", "4711"},
    });

const Environment kBuildkite =
    with(base(), {
                     {"BUILDKITE", "true"},
                     {"BUILDKITE_PIPELINE_SLUG", "app"},
                     {"BUILDKITE_STEP_KEY", "test"},
                     {"BUILDKITE_LABEL", ":hammer: Test"},
                     {"BUILDKITE_BUILD_ID", "01890f1e-4b2a-4c3d-9e8f-0123456789ab"},
                     {"BUILDKITE_JOB_ID", "01890f1e-5c6d-4e7f-8a9b-ba9876543210"},
                     {"BUILDKITE_BUILD_NUMBER", "1514"},
                     {"BUILDKITE_BUILD_URL", "https://buildkite.com/example/app/builds/1514"},
                     {"BUILDKITE_REPO", "git@github.com:example/app.git"},
                     {"BUILDKITE_COMMIT", "1234567890abcdef1234567890abcdef12345678"},
                     {"BUILDKITE_AGENT_NAME", "ci-agent-i-0abc123-1"},
                 });

const Environment kAzure =
    with(base(), {
                     {"TF_BUILD", "True"},
                     {"BUILD_DEFINITIONNAME", "app-ci"},
                     {"SYSTEM_JOBDISPLAYNAME", "Build Linux"},
                     {"BUILD_BUILDID", "20567"},
                     {"BUILD_BUILDNUMBER", "20240501.3"},
                     {"SYSTEM_COLLECTIONURI", "https://dev.azure.com/example/"},
                     {"SYSTEM_TEAMPROJECT", "Main Project"},
                     {"BUILD_REPOSITORY_URI", "https://example@dev.azure.com/example/Main%20Project/_git/app"},
                     {"BUILD_SOURCEVERSION", "fedcba9876543210fedcba9876543210fedcba98"},
                     {"AGENT_NAME", "Hosted Agent"},
                 });

const Environment kCircle = with(base(), {
                                             {"CIRCLECI", "true"},
                                             {"CIRCLE_JOB", "build"},
                                             {"CIRCLE_WORKFLOW_ID", "5d7c4e0a-1b2c-4d3e-8f9a-0b1c2d3e4f5a"},
                                             {"CIRCLE_BUILD_NUM", "9876"},
                                             {"CIRCLE_BUILD_URL", "https://circleci.com/gh/example/app/9876"},
                                             {"CIRCLE_PROJECT_USERNAME", "example"},
                                             {"CIRCLE_PROJECT_REPONAME", "app"},
                                             {"CIRCLE_REPOSITORY_URL", "git@github.com:example/app.git"},
                                             {"CIRCLE_SHA1", "00112233445566778899aabbccddeeff00112233"},
                                             {"CIRCLE_NODE_INDEX", "0"},
                                         });

const Environment kTekton = with(base(), {
                                             {"TEKTON_TASK_RUN", "app-ci-run-x7k2p-build"},
                                             {"TEKTON_TASK", "golang-build"},
                                             {"TEKTON_PIPELINE_RUN", "app-ci-run-x7k2p"},
                                             {"TEKTON_PIPELINE", "app-ci"},
                                             {"TEKTON_PIPELINE_TASK", "build"},
                                             {"TEKTON_NAMESPACE", "ci"},
                                             {"TEKTON_NODE_NAME", "gke-pool-1-abcd"},
                                             {"TEKTON_DASHBOARD_URL", "https://tekton.example.com"},
                                         });

events::Build expected(const char* ci, const char* job, const char* id, const char* number, const char* url,
                       const char* repository, const char* commit, const char* runner) {
  return events::Build{ci, job, id, number, url, repository, commit, runner};
}

void check_build(const events::Build& got, const events::Build& want) {
  CHECK(got.ci == want.ci);
  CHECK(got.job == want.job);
  CHECK(got.id == want.id);
  CHECK(got.number == want.number);
  CHECK(got.url == want.url);
  CHECK(got.repository == want.repository);
  CHECK(got.commit == want.commit);
  CHECK(got.runner == want.runner);
}

}  // namespace

TEST_CASE("Jenkins") {
  check_build(from_environment(kJenkins, kHost), expected("jenkins", "team/app/main", "jenkins-team-app-main-42", "42",
                                                          "https://jenkins.example.com/job/team/job/app/job/main/42/",
                                                          "https://github.com/example/app.git",
                                                          "0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c", "linux-agent-3"));
}

TEST_CASE("GitHub Actions") {
  check_build(
      from_environment(kGithub, kHost),
      expected("github", "CI/build", "8812345678.2", "311",
               "https://github.com/example/app/actions/runs/8812345678/attempts/2", "https://github.com/example/app",
               "a94a8fe5ccb19ba61c4c0873d391e987982fbbd3", "GitHub Actions 12"));
  auto old_runner = kGithub;
  old_runner.erase("GITHUB_RUN_ATTEMPT");
  const auto b = from_environment(old_runner, kHost);
  CHECK(b.id == "8812345678");
  CHECK(b.url == "https://github.com/example/app/actions/runs/8812345678");
}

TEST_CASE("GitLab CI") {
  check_build(from_environment(kGitlab, kHost),
              expected("gitlab", "build:linux", "6123456789", "1207",
                       "https://gitlab.example.com/group/app/-/jobs/6123456789", "https://gitlab.example.com/group/app",
                       "c0ffee0000000000000000000000000000c0ffee", "shared-runner-eu-2"));
}

TEST_CASE("GitLab custom executor: the job's variables with the CUSTOM_ENV_ prefix") {
  Environment custom = base();
  for (const auto& [k, v] : kGitlab)
    if (k != "HOME" && k != "PATH" && k != "CI") custom["CUSTOM_ENV_" + k] = v;
  check_build(from_environment(custom, kHost),
              expected("gitlab", "build:linux", "6123456789", "1207",
                       "https://gitlab.example.com/group/app/-/jobs/6123456789", "https://gitlab.example.com/group/app",
                       "c0ffee0000000000000000000000000000c0ffee", "shared-runner-eu-2"));
  // The plain variables win; a prefix alone with no CI system is nothing.
  CHECK(from_environment(with(kJenkins, custom), kHost).ci == "jenkins");
  CHECK(from_environment(with(base(), {{"CUSTOM_ENV_FOO", "1"}}), kHost).ci.empty());
}

TEST_CASE("Buildkite") {
  check_build(
      from_environment(kBuildkite, kHost),
      expected("buildkite", "app/test", "01890f1e-4b2a-4c3d-9e8f-0123456789ab", "1514",
               "https://buildkite.com/example/app/builds/1514#01890f1e-5c6d-4e7f-8a9b-ba9876543210",
               "git@github.com:example/app.git", "1234567890abcdef1234567890abcdef12345678", "ci-agent-i-0abc123-1"));
}

TEST_CASE("Azure Pipelines") {
  const auto b = from_environment(kAzure, kHost);
  check_build(b, expected("azure", "app-ci/Build Linux", "20567", "20240501.3",
                          "https://dev.azure.com/example/Main%20Project/_build/results?buildId=20567",
                          b.repository.c_str(), "fedcba9876543210fedcba9876543210fedcba98", "Hosted Agent"));
  // A user name without a password is not a secret; redact may keep or drop it.
  CHECK(b.repository.find("dev.azure.com/example/Main%20Project/_git/app") != std::string::npos);
}

TEST_CASE("CircleCI: no runner name, so the host name") {
  check_build(from_environment(kCircle, kHost),
              expected("circleci", "build", "5d7c4e0a-1b2c-4d3e-8f9a-0b1c2d3e4f5a", "9876",
                       "https://circleci.com/gh/example/app/9876", "git@github.com:example/app.git",
                       "00112233445566778899aabbccddeeff00112233", kHost.c_str()));
}

TEST_CASE("Tekton: the documented downward-API variables") {
  check_build(
      from_environment(kTekton, kHost),
      expected("tekton", "app-ci/build", "ci/app-ci-run-x7k2p", "",
               "https://tekton.example.com/#/namespaces/ci/pipelineruns/app-ci-run-x7k2p", "", "", "gke-pool-1-abcd"));
  // A standalone TaskRun: the pipeline labels are absent, so the variables are empty.
  auto task_only = with(kTekton, {{"TEKTON_PIPELINE_RUN", ""}, {"TEKTON_PIPELINE", ""}, {"TEKTON_PIPELINE_TASK", ""}});
  check_build(from_environment(task_only, kHost),
              expected("tekton", "golang-build", "ci/app-ci-run-x7k2p-build", "",
                       "https://tekton.example.com/#/namespaces/ci/taskruns/app-ci-run-x7k2p-build", "", "",
                       "gke-pool-1-abcd"));
}

TEST_CASE("no CI system: an empty build block") {
  CHECK(from_environment(base(), kHost) == events::Build{});
  CHECK(from_environment({}, kHost) == events::Build{});
  // Detection needs the documented values, not just the names.
  CHECK(from_environment(with(base(), {{"GITHUB_ACTIONS", "false"}}), kHost).ci.empty());
  CHECK(from_environment(with(base(), {{"GITLAB_CI", ""}}), kHost).ci.empty());
  CHECK(from_environment(with(base(), {{"JENKINS_URL", "https://j.example.com/"}}), kHost).ci.empty());
}

TEST_CASE("generic: BUILDTRAIL_* alone") {
  const auto env = with(base(), {{"BUILDTRAIL_BUILD_ID", "nightly-2024-05-01"},
                                 {"BUILDTRAIL_JOB", "nightly"},
                                 {"BUILDTRAIL_BUILD_NUMBER", "17"},
                                 {"BUILDTRAIL_BUILD_URL", "https://builds.example.com/nightly/17"},
                                 {"BUILDTRAIL_REPOSITORY", "example/app"},
                                 {"BUILDTRAIL_COMMIT", "abc123"}});
  check_build(from_environment(env, kHost),
              expected("generic", "nightly", "nightly-2024-05-01", "17", "https://builds.example.com/nightly/17",
                       "example/app", "abc123", kHost.c_str()));
  // BUILDTRAIL_JOB without BUILDTRAIL_BUILD_ID is not a build.
  CHECK(from_environment(with(base(), {{"BUILDTRAIL_JOB", "x"}}), kHost).ci.empty());
}

TEST_CASE("precedence: the CI system names ci, explicit BUILDTRAIL_* values override its fields") {
  const auto env = with(kGithub, {{"BUILDTRAIL_BUILD_ID", "release-7"},
                                  {"BUILDTRAIL_REPOSITORY", "https://git.example.com/mirror/app"},
                                  {"BUILDTRAIL_RUNNER", "rack-4"},
                                  {"BUILDTRAIL_JOB", ""}});
  const auto b = from_environment(env, kHost);
  CHECK(b.ci == "github");
  CHECK(b.id == "release-7");
  CHECK(b.repository == "https://git.example.com/mirror/app");
  CHECK(b.runner == "rack-4");
  CHECK(b.job == "CI/build");  // empty counts as unset
  CHECK(b.commit == "a94a8fe5ccb19ba61c4c0873d391e987982fbbd3");
}

TEST_CASE("precedence between CI systems: Jenkins inside GitHub Actions is Jenkins") {
  CHECK(from_environment(with(kGithub, kJenkins), kHost).ci == "jenkins");
  CHECK(from_environment(with(kGitlab, kTekton), kHost).ci == "tekton");
  CHECK(from_environment(with(kCircle, kGithub), kHost).ci == "github");
  const auto b = from_environment(with(kGitlab, kGithub), kHost);
  CHECK(b.ci == "github");
  CHECK(b.commit == "a94a8fe5ccb19ba61c4c0873d391e987982fbbd3");  // fields from the same system
}

TEST_CASE("credentials never survive in url or repository") {
  const std::string token = "glcbt-64_FakeJobToken1234567";
  auto env = kGitlab;
  env.erase("CI_PROJECT_URL");  // falls back to CI_REPOSITORY_URL, which carries the job token
  env["CI_JOB_URL"] = "https://user:hunter2-fake@gitlab.example.com/group/app/-/jobs/6123456789";
  const auto b = from_environment(env, kHost);
  CHECK(b.repository.find(token) == std::string::npos);
  CHECK(b.repository.find("gitlab.example.com/group/app.git") != std::string::npos);
  CHECK(b.url.find("hunter2-fake") == std::string::npos);
  CHECK(b.url.find("gitlab.example.com/group/app/-/jobs/6123456789") != std::string::npos);
  for (const std::string& v : {b.ci, b.job, b.id, b.number, b.url, b.repository, b.commit, b.runner})
    CHECK(v.find(token) == std::string::npos);

  const auto g = from_environment(
      with(base(),
           {{"BUILDTRAIL_BUILD_ID", "1"}, {"BUILDTRAIL_REPOSITORY", "https://x:ghp_FakeFakeFake0000@github.com/e/a"}}),
      kHost);
  CHECK(g.repository.find("ghp_FakeFakeFake0000") == std::string::npos);
}

TEST_CASE("every value is bounded to 1024 bytes, at a character boundary") {
  std::string long_job(2000, 'j');
  std::string utf8 = std::string(1023, 'a') + "\xC3\xA9" + "tail";  // 'é' straddles byte 1024
  const auto b = from_environment(
      with(kJenkins, {{"JOB_NAME", long_job},
                      {"NODE_NAME", utf8},
                      {"BUILD_URL", "https://jenkins.example.com/" + std::string(3000, 'u')},
                      {"GIT_URL", "https://u:secret-fake-pass@example.com/" + std::string(3000, 'r')}}),
      std::string(5000, 'h'));
  CHECK(b.job.size() == 1024);
  CHECK(b.runner == std::string(1023, 'a'));
  CHECK(b.url.size() <= 1024);
  CHECK(b.repository.size() <= 1024);
  CHECK(b.repository.find("secret-fake-pass") == std::string::npos);
  CHECK(from_environment(with(base(), {{"BUILDTRAIL_BUILD_ID", "1"}}), std::string(5000, 'h')).runner.size() == 1024);
}

TEST_CASE("current_environment reads environ") {
  REQUIRE(::setenv("BT_ATTRIBUTION_TEST", "a=b", 1) == 0);
  const auto env = current_environment();
  REQUIRE(env.count("BT_ATTRIBUTION_TEST") == 1);
  CHECK(env.at("BT_ATTRIBUTION_TEST") == "a=b");
  ::unsetenv("BT_ATTRIBUTION_TEST");
}

TEST_CASE("docs/ci-attribution.md: one row per CI system with its variables") {
  const std::string md = testing::rendered_page("docs/ci-attribution.md", reference_parts);
  CHECK(md.find("| CI system | detected by | job | id | number | url | repository | commit | runner |") !=
        std::string::npos);
  for (const char* ci : {"jenkins", "github", "gitlab", "buildkite", "azure", "circleci", "tekton", "generic"})
    CHECK_MESSAGE(md.find("| `" + std::string(ci) + "` | ") != std::string::npos, ci);
  for (const char* var : {"`GITHUB_ACTIONS=true`", "`JENKINS_URL` set and `BUILD_TAG` set", "`CI_JOB_ID`",
                          "`TF_BUILD=True`", "`${GITHUB_WORKFLOW}/${GITHUB_JOB}`", "`BUILDTRAIL_BUILD_ID` set"})
    CHECK_MESSAGE(md.find(var) != std::string::npos, var);
  CHECK(md.find("explicit values\nwin") != std::string::npos);
}

TEST_CASE("CI runner processes: by task name or executable; java only as the Jenkins agent") {
  auto ci = [](std::string_view comm, std::string_view exe, const std::vector<std::string>& argv) {
    const RunnerRule* r = match_runner(known_runners(), ProcessFacts{comm, exe, argv, nullptr});
    return r ? r->ci : std::string("-");
  };
  CHECK(ci("Runner.Listener", "/home/runner/actions-runner/bin/Runner.Listener", {"bin/Runner.Listener", "run"}) ==
        "github");
  CHECK(ci("Runner.Worker", "/usr/bin/python3.11", {"Runner.Worker", "spawnclient", "115", "118"}) == "github");
  CHECK(ci("", "/home/vsts/azagent/bin/Agent.Listener", {}) == "azure");  // the task name unreadable
  CHECK(ci("Agent.Worker", "", {}) == "azure");
  CHECK(ci("gitlab-runner", "/usr/bin/gitlab-runner", {"/usr/bin/gitlab-runner", "run"}) == "gitlab");
  CHECK(ci("buildkite-agent", "/usr/bin/buildkite-agent", {"buildkite-agent", "start"}) == "buildkite");
  CHECK(ci("java", "/usr/lib/jvm/java-17-openjdk-amd64/bin/java",
           {"java", "-jar", "/home/jenkins/agent.jar", "-url", "https://jenkins.example.com/", "-name", "n"}) ==
        "jenkins");
  CHECK(ci("java", "/usr/bin/java",
           {"java", "-cp", "/usr/share/jenkins/remoting.jar", "hudson.remoting.jnlp.Main", "-headless"}) == "jenkins");
  CHECK(ci("java", "/usr/bin/java", {"java", "-jar", "app.jar"}) == "-");
  CHECK(ci("java", "/usr/bin/java", {"java", "-jar", "my-agent.jar"}) == "-");
  CHECK(ci("bash", "/usr/bin/bash", {"bash", "agent.jar"}) == "-");
  CHECK(ci("sleep", "/usr/bin/sleep", {"sleep", "30"}) == "-");
  CHECK(ci("Runner.Listene", "/usr/bin/python3", {}) == "-");
  CHECK(ci("", "", {}) == "-");
}

TEST_CASE("runner rules from the configuration: parsed, and matched like the known ones") {
  auto rules = parse_runners("bench:bash:peers/TEMPLATE.sh, teamcity:java:buildAgent , myci:my-runner,k:kaniko::pod-");
  REQUIRE(rules);
  REQUIRE(rules->size() == 4);
  CHECK((*rules)[0].argument == "peers/TEMPLATE.sh");
  CHECK((*rules)[2].argument.empty());
  CHECK((*rules)[3].cgroup == "pod-");
  for (const char* bad : {"nocomm", "a:b:c:d:e", ":java", "x:a-task-name-over-15"}) {
    auto r = parse_runners(bad);
    REQUIRE_FALSE(r);
    CHECK(r.error().message.find(std::string(bad).substr(0, 5)) != std::string::npos);
  }
  auto ci = [&](std::string_view comm, const std::vector<std::string>& argv, std::string cgroup = "") {
    const RunnerRule* r =
        match_runner(*rules, ProcessFacts{comm, "/usr/bin/" + std::string(comm), argv, [&] { return cgroup; }});
    return r ? r->ci : std::string("-");
  };
  // An argument is the rule's, or a path ending in it: one meaning for
  // every rule, the known ones included.
  CHECK(ci("bash", {"bash", "/work/shared/bench/peers/TEMPLATE.sh", "exec_storm"}) == "bench");
  CHECK(ci("bash", {"bash", "peers/TEMPLATE.sh"}) == "bench");
  CHECK(ci("bash", {"bash", "/x/mypeers/TEMPLATE.sh"}) == "-");
  CHECK(ci("bash", {"peers/TEMPLATE.sh"}) == "-");  // the program is not an argument
  CHECK(ci("my-runner", {"my-runner"}) == "myci");
  CHECK(ci("kaniko", {"kaniko"}, "0::/kubepods/pod-1234/abc") == "k");
  CHECK(ci("kaniko", {"kaniko"}, "0::/system.slice") == "-");
  const auto builds = build_runners(*rules);
  CHECK(builds.size() == 4 + 10);  // the known runners whose children are builds, and these
  for (const auto& r : builds) CHECK(r.starts_builds);
  // What the kernel watches for: a name decides alone unless a rule of it
  // needs an argument or a cgroup; arguments the kernel checks at exec,
  // and what it cannot check (a cgroup, an argument with a '/') user
  // space confirms.
  const auto names = task_names(builds);
  auto name = [&](const std::string& n) -> const TaskName& {
    for (const auto& t : names)
      if (t.name == n) return t;
    FAIL("no task name " << n);
    return names.front();
  };
  CHECK(name("Runner.Worker").decides);
  CHECK_FALSE(name("java").decides);
  CHECK(name("java").arguments == std::vector<std::string>{"agent.jar", "remoting.jar", "slave.jar",
                                                           "hudson.remoting.jnlp.Main", "hudson.remoting.Launcher",
                                                           "buildAgent"});
  CHECK_FALSE(name("java").ask);  // every java rule is checked in the kernel
  CHECK(name("my-runner").decides);
  CHECK(name("my-runner").arguments.empty());
  CHECK_FALSE(name("kaniko").decides);
  CHECK(name("kaniko").ask);
  CHECK(name("bash").arguments.empty());
  CHECK(name("bash").ask);  // peers/TEMPLATE.sh: a path, matched from /proc
  // A rule of the name alone makes the name's other rules moot.
  auto mixed = parse_runners("a:tool:x.jar,b:tool,c:tool::pod-");
  REQUIRE(mixed);
  const auto m = task_names(*mixed);
  REQUIRE(m.size() == 1);
  CHECK(m[0].decides);
  CHECK(m[0].arguments.empty());
  CHECK_FALSE(m[0].ask);
}

TEST_CASE("the branch or tag being built, as each CI system names it (per-job baselines learn from protected ones)") {
  CHECK(from_environment(with(kGithub, {{"GITHUB_REF_NAME", "main"}}), kHost).branch == "main");
  CHECK(from_environment(with(kGitlab, {{"CI_COMMIT_REF_NAME", "release/2.1"}}), kHost).branch == "release/2.1");
  CHECK(from_environment(with(kJenkins, {{"BRANCH_NAME", "main"}}), kHost).branch == "main");
  CHECK(from_environment(with(kJenkins, {{"GIT_BRANCH", "origin/master"}}), kHost).branch == "origin/master");
  CHECK(from_environment(with(kBuildkite, {{"BUILDKITE_BRANCH", "main"}}), kHost).branch == "main");
  CHECK(from_environment(with(kAzure, {{"BUILD_SOURCEBRANCHNAME", "main"}}), kHost).branch == "main");
  CHECK(from_environment(with(kCircle, {{"CIRCLE_TAG", "v1.0"}}), kHost).branch == "v1.0");
  CHECK(from_environment(with(kGithub, {{"BUILDTRAIL_BRANCH", "trunk"}, {"GITHUB_REF_NAME", "main"}}), kHost).branch ==
        "trunk");
  CHECK(from_environment(kGithub, kHost).branch.empty());
}
