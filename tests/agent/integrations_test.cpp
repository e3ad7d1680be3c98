// The wrap-mode entry points of scripts/hooks/ (docs/integrations.md),
// installed beside the agent as a package would, and run the way each CI
// system runs them: the process tree, argv and environment its runner
// gives a job, as an unprivileged runner user. Every event of the job must
// name the CI system and the job, and no runner secret may reach the trail.
#include <doctest/doctest.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "tests/agent/capture_fixtures.h"
#include "tests/collector/collector_process.h"

using namespace bt;
using namespace bt::testing::capture;

namespace {

// Fake secrets only.
const std::string kFakeJobToken = "glcbt-64_FakeJobTokenFAKEfake123456";
const std::string kFakeAgentToken = "bkua_FAKEfakeFAKEfakeFAKEfakeFAKEfake0123";

// A job's world: the hook scripts and the agent in one folder, a runner
// user's home with a fake credential, the agent's state (its spool) under
// XDG_STATE_HOME, all the runner user's.
struct Job {
  std::string root = testing::make_temp_dir("hooks");
  std::string bin = root + "/bin";
  std::string home = root + "/home";
  std::string state = root + "/state";

  Job() {
    std::filesystem::create_directories(bin);
    std::filesystem::create_directories(home + "/.aws");
    std::filesystem::create_directories(state);
    std::filesystem::create_symlink(agent_bin(), bin + "/buildtrail-agent");
    for (const char* s : {"buildtrail-sh", "gitlab-run-exec", "buildkite-bootstrap"})
      std::filesystem::create_symlink(testing::env_or("BUILDTRAIL_SRC", ".") + "/scripts/hooks/" + s, bin + "/" + s);
    write(home + "/.aws/credentials", "[default]\naws_access_key_id = " + kFakeAwsKey + "\n");
    hand_over();
  }

  // Makes everything written so far the runner user's, as its home and
  // state are on a real runner: the agent refuses a state folder that is
  // not its user's or that others may write (common/private_dir.h).
  void hand_over() const {
    const std::string owner = ::geteuid() == 0 ? " && chown -R 65534:65534 " + root : "";
    REQUIRE(std::system(("chmod -R go-w,a+rX " + root + owner).c_str()) == 0);
  }

  static void write(const std::string& path, const std::string& text) { std::ofstream(path) << text; }

  // `command` under `env -i` with `vars`, as the runner user (nobody) when
  // the tests run as root, like a runner service.
  testing::CommandResult run(const std::string& vars, const std::string& command) const {
    const std::string user = ::geteuid() == 0 ? "setpriv --reuid=65534 --regid=65534 --clear-groups " : "";
    return testing::run_command(user + "env -i PATH=/usr/bin:/bin HOME=" + home + " XDG_STATE_HOME=" + state + " " +
                                vars + " " + command);
  }

  std::vector<events::Event> events() const {
    return testing::batch_events(state + "/buildtrail/spool", state + "/buildtrail/agent.pub");
  }
};

void wait_for_file(const std::string& path) {
  for (int i = 0; i < 600 && !std::filesystem::exists(path); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  REQUIRE_MESSAGE(std::filesystem::exists(path), path);
}

// Every event is of the job; the credential was read `reads` times; the
// secrets never appear in any event.
void check_job(const std::vector<events::Event>& evs, const std::string& ci, const std::string& id, std::size_t reads,
               const std::vector<std::string>& secrets) {
  REQUIRE_FALSE(evs.empty());
  std::size_t credential_reads = 0, execs = 0;
  for (const auto& e : evs) {
    if (e.kind() == events::Kind::agent_start || e.kind() == events::Kind::agent_stop) continue;
    INFO("event: " << events::to_json(e));
    CHECK(e.build.ci == ci);
    CHECK(e.build.id == id);
    if (e.kind() == events::Kind::process_exec) ++execs;
    if (const auto* s = std::get_if<events::SecretAccess>(&e.body); s && s->path.ends_with("/.aws/credentials"))
      ++credential_reads;
    const std::string json = events::to_json(e);
    for (const auto& secret : secrets) CHECK(json.find(secret) == std::string::npos);
  }
  CHECK(execs >= 3);
  CHECK(credential_reads == reads);
}

}  // namespace

TEST_CASE("Jenkins: the durable-task launch through the buildtrail-sh shim; the daemonised child stays") {
  Job job;
  const std::string ws = job.root + "/ws", control = ws + "@tmp/durable-5f3a2b1c";
  std::filesystem::create_directories(control);
  std::filesystem::create_directories(ws);
  // The step: reads a credential, runs a child, leaves a daemon that
  // escapes Jenkins' process reaper and reads the credential after the step.
  Job::write(control + "/script.sh.copy",
             "cat \"$HOME/.aws/credentials\" >/dev/null\n"
             "sh -c 'true step-child'\n"
             "JENKINS_NODE_COOKIE=dontKillMe nohup sh -c 'sleep 1; cat \"$HOME/.aws/credentials\" >/dev/null' "
             ">/dev/null 2>&1 &\n"
             "exit 3\n");
  job.hand_over();
  // What durable-task's agent JVM runs: the step script is re-parented to
  // init by the `&` of a shell that exits at once.
  const std::string launcher = "cd '" + ws + "' && JENKINS_SERVER_COOKIE=durable-9c1d '" + job.bin +
                               "/buildtrail-sh' -xe '" + control + "/script.sh.copy' > '" + control +
                               "/jenkins-log.txt' 2>&1; echo \\$? > '" + control + "/jenkins-result.txt.tmp'; mv '" +
                               control + "/jenkins-result.txt.tmp' '" + control + "/jenkins-result.txt'";
  auto r = job.run(
      "JENKINS_URL=https://jenkins.example.com/ BUILD_TAG=jenkins-app-main-42 JOB_NAME=app/main "
      "BUILD_NUMBER=42 NODE_NAME=linux-1 JENKINS_SECRET=" +
          kFakeGithubToken,
      "nohup sh -c \"(" + launcher + ") >&- 2>&- &\"");
  INFO(r.output);
  CHECK(r.exit_code == 0);
  wait_for_file(control + "/jenkins-result.txt");
  CHECK(slurp(control + "/jenkins-result.txt") == "3\n");
  const auto evs = job.events();
  check_job(evs, "jenkins", "jenkins-app-main-42", 2, {kFakeGithubToken});
}

TEST_CASE("GitLab custom executor: run_exec wraps each stage; the job is named by its CUSTOM_ENV_ variables") {
  Job job;
  // The stage script the runner generates: it exports the job's variables
  // itself (late binding), then runs the job's commands.
  Job::write(job.root + "/build_script.sh", "export CI_JOB_TOKEN=" + kFakeJobToken +
                                                "\n"
                                                "cat \"$HOME/.aws/credentials\" >/dev/null\n"
                                                "sh -c 'true stage-child'\n");
  job.hand_over();
  auto r = job.run(
      "CUSTOM_ENV_GITLAB_CI=true CUSTOM_ENV_CI_JOB_ID=6123456789 CUSTOM_ENV_CI_JOB_NAME=build "
      "CUSTOM_ENV_CI_PIPELINE_IID=12 CUSTOM_ENV_CI_JOB_TOKEN=" +
          kFakeJobToken,
      job.bin + "/gitlab-run-exec " + job.root + "/build_script.sh build_script");
  INFO(r.output);
  CHECK(r.exit_code == 0);
  check_job(job.events(), "gitlab", "6123456789", 1, {kFakeJobToken});
}

TEST_CASE("Buildkite: bootstrap-script wraps the job's bootstrap") {
  Job job;
  // buildkite-agent bootstrap runs the job's command with bash -e -c.
  Job::write(job.bin + "/buildkite-agent",
             "#!/bin/sh\n[ \"$1\" = bootstrap ] || exit 64\nexec /bin/bash -e -c \"$BUILDKITE_COMMAND\"\n");
  REQUIRE(std::system(("chmod a+x " + job.bin + "/buildkite-agent").c_str()) == 0);
  job.hand_over();
  auto r = job.run("PATH=" + job.bin +
                       ":/usr/bin:/bin BUILDKITE=true BUILDKITE_BUILD_ID=0190-aaaa "
                       "BUILDKITE_JOB_ID=0190-bbbb BUILDKITE_PIPELINE_SLUG=app BUILDKITE_AGENT_ACCESS_TOKEN=" +
                       kFakeAgentToken +
                       " BUILDKITE_COMMAND='cat \"$HOME/.aws/credentials\" >/dev/null; "
                       "sh -c \"true job-child\"'",
                   job.bin + "/buildkite-bootstrap");
  INFO(r.output);
  CHECK(r.exit_code == 0);
  check_job(job.events(), "buildkite", "0190-aaaa", 1, {kFakeAgentToken});
}

TEST_CASE("the hooks fail open: without the agent beside them the job runs as before") {
  Job job;
  std::filesystem::remove(job.bin + "/buildtrail-agent");
  Job::write(job.root + "/step.sh", "exit 5\n");
  job.hand_over();
  CHECK(job.run("", job.bin + "/buildtrail-sh -xe " + job.root + "/step.sh").exit_code == 5);
  CHECK(job.run("", job.bin + "/gitlab-run-exec " + job.root + "/step.sh build_script").exit_code == 5);
  CHECK(job.events().empty());
}

TEST_CASE("run --session wraps a whole runner service: each job a runner starts is a build of its own") {
  Job job;
  const std::string script = testing::env_or("BUILDTRAIL_SRC", ".") + "/tests/agent/fake_runner.py";
  for (const char* runner : {"Runner.Worker", "java"})
    std::filesystem::create_symlink("/usr/bin/python3", job.bin + "/" + runner);
  Job::write(job.root + "/go", "");
  const std::string cred = "cat \"$HOME/.aws/credentials\" >/dev/null";
  // The service: a GitHub worker running two steps and a Jenkins agent
  // running one, at once; the service itself reads the credential too.
  const std::string service = "'" + job.bin + "/Runner.Worker' " + script + " github " + job.root + "/ready-gh " +
                              job.root + "/go '" + cred +
                              "; /bin/echo GH-STEP-1\n---\n/bin/echo GH-STEP-2' & "
                              "'" +
                              job.bin + "/java' " + script + " jenkins " + job.root + "/ready-jk " + job.root +
                              "/go '" + cred + "; /bin/echo JK-STEP' -jar agent.jar -secret " + kFakeAgentToken +
                              " & "
                              "wait; /bin/echo OUTSIDE-JOBS; " +
                              cred;
  Job::write(job.root + "/service.sh", service);
  job.hand_over();
  auto r = job.run("", job.bin + "/buildtrail-agent run --session -- /bin/sh " + job.root + "/service.sh");
  INFO(r.output);
  CHECK(r.exit_code == 0);

  const auto evs = job.events();
  std::size_t starts = 0, reads = 0;
  std::map<std::string, std::string> marker_build;
  for (const auto& e : evs) {
    if (e.kind() == events::Kind::agent_start || e.kind() == events::Kind::agent_stop) continue;
    INFO("event: " << events::to_json(e));
    CHECK((e.build.ci == "github" || e.build.ci == "jenkins"));  // nothing outside jobs
    CHECK(events::to_json(e).find(kFakeAgentToken) == std::string::npos);
    if (e.kind() == events::Kind::build_start) ++starts;
    if (const auto* s = std::get_if<events::SecretAccess>(&e.body); s && s->path.ends_with("/.aws/credentials"))
      ++reads;
    if (const auto* x = std::get_if<events::ProcessExec>(&e.body))
      for (const auto& a : x->argv)
        if (a.find("-STEP") != std::string::npos || a == "OUTSIDE-JOBS") marker_build[a] = e.build.id;
  }
  CHECK(starts == 3);  // two GitHub steps, one Jenkins step
  CHECK(reads == 2);   // the jobs', not the service's
  CHECK(marker_build["GH-STEP-1"] == "5151.1");
  CHECK(marker_build["GH-STEP-2"] == "5151.1");
  CHECK(marker_build["JK-STEP"] == "jenkins-app-main-7");
  CHECK(marker_build.count("OUTSIDE-JOBS") == 0);
}
