# A stand-in CI runner for the daemon tests, run through a symlink that
# gives it the runner's task name (`java ... -jar agent.jar` for a Jenkins
# agent, `Runner.Worker` for GitHub Actions). It writes its pid to READY,
# waits for GO to exist, then runs COMMAND as a build step with that CI's
# environment, the way the real runner spawns steps, and exits with the
# step's status.
#
#   <runner-name> fake_runner.py CI READY GO COMMAND [-jar agent.jar]
import os
import shlex
import subprocess
import sys
import time

ci, ready, go, command = sys.argv[1:5]
ENV = {
    "jenkins": {
        "JENKINS_URL": "http://jenkins.test:8080/",
        "JOB_NAME": "app/main",
        "BUILD_NUMBER": "7",
        "BUILD_ID": "7",
        "BUILD_TAG": "jenkins-app-main-7",
        "BUILD_URL": "http://jenkins.test:8080/job/app/job/main/7/",
        "NODE_NAME": "agent-1",
        "EXECUTOR_NUMBER": "0",
    },
    "github": {
        "GITHUB_ACTIONS": "true",
        "GITHUB_RUN_ID": "5151",
        "GITHUB_RUN_ATTEMPT": "1",
        "GITHUB_RUN_NUMBER": "3",
        "GITHUB_WORKFLOW": "ci",
        "GITHUB_JOB": "build",
        "GITHUB_REPOSITORY": "example/app",
        "GITHUB_SERVER_URL": "https://github.com",
        "GITHUB_SHA": "0123456789abcdef0123456789abcdef01234567",
        "RUNNER_NAME": "runner-1",
    },
    "gitlab": {
        "GITLAB_CI": "true",
        "CI_JOB_ID": "8080",
        "CI_JOB_NAME": "build",
        "CI_PIPELINE_IID": "12",
        "CI_PROJECT_URL": "https://gitlab.example.com/group/app",
        "CI_JOB_TOKEN": "glcbt-64_FakeJobTokenFAKEfake123456",  # fake
    },
}[ci]

with open(ready + ".tmp", "w") as f:
    f.write(str(os.getpid()))
os.rename(ready + ".tmp", ready)
while not os.path.exists(go):
    time.sleep(0.02)
home = os.environ.get("HOME", "/tmp")
if ci == "gitlab":
    # The shell executor: `su -s /bin/bash USER -c "bash -l"` with the
    # generated script on stdin; the job's variables are exported by that
    # script, so only the login shell's children have them.
    script = "".join(f"export {k}={shlex.quote(v)}\n" for k, v in ENV.items()) + command + "\n"
    sys.exit(subprocess.run(["su", "-s", "/bin/bash", "nobody", "-c", "bash -l"], input=script.encode(),
                            env={"PATH": "/usr/bin:/bin", "HOME": home}).returncode)
env = {"PATH": "/usr/bin:/bin", "HOME": home, **ENV}
sys.exit(subprocess.run(["/bin/bash", "-c", command], env=env).returncode)
