# A stand-in CI runner for the daemon tests, run through a symlink that
# gives it the runner's task name (`java ... -jar agent.jar` for a Jenkins
# agent, `Runner.Worker` for GitHub Actions). It writes its pid to READY,
# waits for GO to exist, then runs COMMAND as a build step with that CI's
# environment, the way the real runner spawns steps, and exits with the
# step's status.
#
# GitHub and GitLab run several steps (stages) one after the other, a
# Jenkins agent several pipeline steps at once (executors, launched by
# durable-task): COMMAND's parts between lines "---". The GitHub runner runs the job hooks its environment names
# (ACTIONS_RUNNER_HOOK_JOB_STARTED/_COMPLETED) as `bash -e FILE` around
# the steps. FAKE_STEP_<NAME>=value in the runner's environment sets NAME
# in the job's.
#
# A step "#node CODE" is a JavaScript action: the runner's node (here
# python3 named node) runs CODE. CI github-listener is Runner.Listener,
# starting a Runner.Worker for the job; buildkite is `buildkite-agent start`
# forking `buildkite-agent bootstrap`; azure is Agent.Worker running a
# task's node, which runs the script.
#
#   <runner-name> fake_runner.py CI READY GO COMMAND [-jar agent.jar]
import os
import shlex
import subprocess
import sys
import time
import uuid

ci, ready, go, command = sys.argv[1:5]
if ci == "github-listener":
    # Runner.Listener starts one Runner.Worker per job (`spawnclient`).
    here = os.path.dirname(ready)
    worker = os.path.join(here, "Runner.Worker")
    if not os.path.exists(worker):
        os.symlink(os.path.realpath("/proc/self/exe"), worker)
    with open(ready + ".tmp", "w") as f:
        f.write(str(os.getpid()))
    os.rename(ready + ".tmp", ready)
    while not os.path.exists(go):
        time.sleep(0.02)
    sys.exit(subprocess.run([worker, os.path.abspath(__file__), "github", ready + ".worker", go, command]).returncode)
if ci == "buildkite-bootstrap":
    # `buildkite-agent bootstrap`, forked by `buildkite-agent start` with the
    # job's BUILDKITE_* environment: runs the command as the agent does.
    sys.exit(subprocess.run(["/bin/bash", "-e", "-c", command]).returncode)
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
    "buildkite": {
        "BUILDKITE": "true",
        "BUILDKITE_BUILD_ID": "0190a1b2-c3d4-4e5f-8a9b-0c1d2e3f4a5b",
        "BUILDKITE_JOB_ID": "0190a1b2-0000-4e5f-8a9b-0c1d2e3f4a5b",
        "BUILDKITE_BUILD_NUMBER": "42",
        "BUILDKITE_PIPELINE_SLUG": "app",
        "BUILDKITE_STEP_KEY": "test",
        "BUILDKITE_BUILD_URL": "https://buildkite.com/example/app/builds/42",
        "BUILDKITE_AGENT_NAME": "agent-1",
        "BUILDKITE_AGENT_ACCESS_TOKEN": "bkua_FAKEfakeFAKEfakeFAKEfakeFAKEfake0123",  # fake
    },
    "azure": {
        "TF_BUILD": "True",
        "BUILD_BUILDID": "777",
        "BUILD_BUILDNUMBER": "20261127.3",
        "BUILD_DEFINITIONNAME": "app-ci",
        "SYSTEM_JOBDISPLAYNAME": "Build",
        "SYSTEM_JOBID": "9a8b7c6d-0000-4000-8000-000000000001",
        "SYSTEM_COLLECTIONURI": "https://dev.azure.com/example/",
        "SYSTEM_TEAMPROJECT": "app",
        "AGENT_NAME": "agent-1",
        "SYSTEM_ACCESSTOKEN": "FAKEfakeAzureAccessToken0123456789",  # fake
    },
}[ci]
ENV = {**ENV, **{k[len("FAKE_STEP_"):]: v for k, v in os.environ.items() if k.startswith("FAKE_STEP_")}}
steps = command.split("\n---\n")

with open(ready + ".tmp", "w") as f:
    f.write(str(os.getpid()))
os.rename(ready + ".tmp", ready)
while not os.path.exists(go):
    time.sleep(0.02)
home = os.environ.get("HOME", "/tmp")
if ci == "gitlab":
    # The shell executor, once per stage: `su -s /bin/bash USER -c "bash -l"`
    # with the generated script on stdin; the job's variables are exported
    # by that script, so only the login shell's children have them.
    exports = "".join(f"export {k}={shlex.quote(v)}\n" for k, v in ENV.items())
    for stage in steps:
        status = subprocess.run(["su", "-s", "/bin/bash", "nobody", "-c", "bash -l"], input=(exports + stage + "\n").encode(),
                                env={"PATH": "/usr/bin:/bin", "HOME": home}).returncode
        if status:
            sys.exit(status)
    sys.exit(0)
env = {"PATH": "/usr/bin:/bin", "HOME": home, **ENV}
if ci == "github":
    # Runner.Worker: hooks as `bash -e FILE`, each step a script in _temp
    # run by `bash --noprofile --norc -e -o pipefail`; the first failing
    # step ends the job, the completed hook still runs.
    env["RUNNER_TRACKING_ID"] = "github_" + str(uuid.uuid4())
    temp = os.path.join(os.path.dirname(ready), "_temp")
    os.makedirs(temp, exist_ok=True)
    def hook(name):
        if os.environ.get(name):
            subprocess.run(["bash", "-e", os.environ[name]], env=env)
    hook("ACTIONS_RUNNER_HOOK_JOB_STARTED")
    status = 0
    for step in steps:
        if step.startswith("#node "):
            # A JavaScript action: the runner's own node runs <action>/dist/index.js.
            node = os.path.join(os.path.dirname(ready), "externals", "node20", "bin", "node")
            os.makedirs(os.path.dirname(node), exist_ok=True)
            if not os.path.exists(node):
                os.symlink(os.path.realpath("/proc/self/exe"), node)
            status = subprocess.run([node, "-c", step[len("#node "):]], env=env).returncode
            if status:
                break
            continue
        path = os.path.join(temp, str(uuid.uuid4()) + ".sh")
        with open(path, "w") as f:
            f.write(step + "\n")
        status = subprocess.run(["bash", "--noprofile", "--norc", "-e", "-o", "pipefail", path], env=env).returncode
        if status:
            break
    hook("ACTIONS_RUNNER_HOOK_JOB_COMPLETED")
    sys.exit(status)
here = os.path.dirname(ready)
if ci == "buildkite":
    # `buildkite-agent start` forks one `buildkite-agent bootstrap` per job.
    sys.exit(subprocess.run([os.path.join(here, "buildkite-agent"), os.path.abspath(__file__), "buildkite-bootstrap",
                             ready, go, command], env=env).returncode)
if ci == "azure":
    # Agent.Worker -> the task's node -> `bash --noprofile --norc <_temp>/<uuid>.sh`,
    # each process of the job marked with VSTS_PROCESS_LOOKUP_ID.
    env["VSTS_PROCESS_LOOKUP_ID"] = "vsts_" + str(uuid.uuid4())
    temp = os.path.join(here, "_temp")
    os.makedirs(temp, exist_ok=True)
    path = os.path.join(temp, str(uuid.uuid4()) + ".sh")
    with open(path, "w") as f:
        f.write(command + "\n")
    node = os.path.join(here, "externals", "node20_1", "bin", "node")
    os.makedirs(os.path.dirname(node), exist_ok=True)
    if not os.path.exists(node):
        os.symlink(os.path.realpath("/proc/self/exe"), node)
    task = f"import subprocess,sys; sys.exit(subprocess.run(['/usr/bin/bash','--noprofile','--norc',{path!r}]).returncode)"
    sys.exit(subprocess.run([node, "-c", task], env=env).returncode)
if ci == "jenkins" and len(steps) > 1:
    # Pipeline `sh` steps on one agent JVM, one executor per step, all at
    # once (a single step runs as a freestyle shell step: a direct child,
    # below). Durable-task writes
    # the step script and launches it re-parented to init (`&` in a shell
    # that exits at once), then polls for its result file. Executor i runs
    # build BUILD_NUMBER+i.
    runs = []
    for i, step in enumerate(steps):
        number = str(int(ENV["BUILD_NUMBER"]) + i)
        control = os.path.join(os.path.dirname(ready), f"ws{i}@tmp", "durable-" + uuid.uuid4().hex[:8])
        os.makedirs(control)
        script = os.path.join(control, "script.sh.copy")
        with open(script, "w") as f:
            f.write(step + "\n")
        os.chmod(script, 0o755)
        # A script with a #! line runs under its own interpreter, as durable-task does.
        interpreter = shlex.quote(script) if step.startswith("#!") else "'sh' -xe " + shlex.quote(script)
        result = os.path.join(control, "jenkins-result.txt")
        launcher = (f"cd {shlex.quote(os.path.dirname(control))} && JENKINS_SERVER_COOKIE=durable-{uuid.uuid4().hex[:12]} "
                    f"{interpreter} > {shlex.quote(control + '/jenkins-log.txt')} 2>&1; "
                    f"echo $? > {shlex.quote(result + '.tmp')}; mv {shlex.quote(result + '.tmp')} {shlex.quote(result)}")
        step_env = {**env, "BUILD_NUMBER": number, "BUILD_ID": number, "BUILD_TAG": "jenkins-app-main-" + number,
                    "EXECUTOR_NUMBER": str(i)}
        subprocess.run(["nohup", "sh", "-c", f"({launcher}) >&- 2>&- &"], env=step_env, stdout=subprocess.DEVNULL)
        runs.append(result)
    status = 0
    for result in runs:
        while not os.path.exists(result):
            time.sleep(0.02)
        status = status or int(open(result).read())
    sys.exit(status)
sys.exit(subprocess.run(["/bin/bash", "-c", command], env=env).returncode)
