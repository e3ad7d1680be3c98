# A stand-in CI runner for the daemon tests, run through a symlink that
# gives it the runner's task name (`java ... -jar agent.jar` for a Jenkins
# agent, `Runner.Worker` for GitHub Actions). It writes its pid to READY,
# waits for GO to exist, then runs COMMAND as a build step with that CI's
# environment, the way the real runner spawns steps, and exits with the
# step's status.
#
#   <runner-name> fake_runner.py CI READY GO COMMAND [-jar agent.jar]
import os
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
}[ci]

with open(ready + ".tmp", "w") as f:
    f.write(str(os.getpid()))
os.rename(ready + ".tmp", ready)
while not os.path.exists(go):
    time.sleep(0.02)
env = {"PATH": "/usr/bin:/bin", "HOME": os.environ.get("HOME", "/tmp"), **ENV}
sys.exit(subprocess.run(["/bin/bash", "-c", command], env=env).returncode)
