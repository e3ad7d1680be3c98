#!/usr/bin/env python3
"""Atomic Red Team under the real sensor (issue 19).

Runs the safe Linux tests listed in expectations.tsv, each as one build under
`buildtrail-agent run` delivering to a real `buildtrail-collector serve`
(the CI rule pack plus SigmaHQ's Linux rules, tests/detect/sigma-rules) on
loopback, and checks per GUID the events and rule ids the table expects.
The atomics (atomics/, MIT, LICENSE.txt) are Red Canary's, unchanged; this
runner does what Invoke-AtomicRedTeam does: `#{arg}` replaced by the input
argument (default, or the table's override), `<executor> -c COMMAND`, a
timeout, the cleanup command. Everything stays on this machine: every
argument that names an outside host points at a loopback sink (an HTTP
server, a metadata endpoint on 127.0.0.9), tests that need a tool this
machine lacks or root it does not have are reported as not run.

  run_atomics.py [--daemon] [--only GUID-PREFIX] [--keep]

--daemon: the same tests under `buildtrail-agent daemon` (the eBPF sensor:
root only, else skipped with 77), each run as a GitHub step by a stand-in
Runner.Worker (tests/agent/fake_runner.py); /tmp/bt-ebpf.lock is held
while the daemon runs (one eBPF sensor test at a time on a machine).
Environment: BUILDTRAIL_BUILD (the build folder), BUILDTRAIL_SRC.
Prints one line per GUID and a summary; exits 1 if an expectation fails.
"""
import fcntl
import http.server
import json
import os
import shlex
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time

try:
    import yaml
except ImportError:  # PyYAML missing: skipped (Meson's 77)
    print("skipped: PyYAML is not installed for", sys.executable)
    sys.exit(77)

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.environ.get("BUILDTRAIL_SRC", os.path.dirname(os.path.dirname(HERE)))
BUILD = os.environ.get("BUILDTRAIL_BUILD", os.path.join(SRC, "build"))
COLLECTOR = os.path.join(BUILD, "collector", "buildtrail-collector")
AGENT = os.path.join(BUILD, "agent", "buildtrail-agent")
ATOMICS = os.path.join(HERE, "atomics")
IMDS_ADDR = "127.0.0.9"


class Sink(http.server.BaseHTTPRequestHandler):
    """Serves the atomics' src/ files by name; takes any upload."""

    def log_message(self, *args):
        pass

    def _answer(self):
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        name = os.path.basename(self.path.split("?")[0])
        body = b"ok\n"
        for root, _, files in os.walk(ATOMICS):
            if name in files and os.path.basename(root) == "src":
                with open(os.path.join(root, name), "rb") as f:
                    body = f.read()
        if "security-credentials" in self.path:
            body = b"ci-role" if self.path.endswith("/") else b'{"AccessKeyId":"AKIAIOSFODNN7EXAMPLE"}'
        elif "api/token" in self.path:
            body = b"fake-imds-token"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_PUT = _answer


def serve(addr):
    server = http.server.ThreadingHTTPServer((addr, 0), Sink)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def fake_home(home):
    """A seeded home: credential files where the atomics look for them."""
    files = {
        ".aws/credentials": "[default]\naws_access_key_id = AKIAIOSFODNN7EXAMPLE\n"
        "aws_secret_access_key = not-a-real-secret\n",
        ".ssh/id_rsa": "-----BEGIN RSA PRIVATE KEY-----\nnot-a-real-key\n-----END RSA PRIVATE KEY-----\n",
        ".ssh/authorized_keys": "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFAKEFAKEFAKE ci@example\n",
        ".netrc": "machine github.com login ci password not-a-real-password\n",
        ".bash_history": "ls\nssh ci@build-1\nmysql -p secret\n",
        ".sh_history": "ls\n",
        ".bashrc": "# fake\n",
        ".gnupg/pubring.kbx": "fake\n",
        ".azure/msal_token_cache.json": "{}\n",
        ".config/gcloud/credentials.db": "fake\n",
        ".config/gcloud/access_tokens.db": "fake\n",
        ".oci/sessions/DEFAULT/token": "fake\n",
        "app/config.yml": "password: not-a-real-password\n",
    }
    for rel, text in files.items():
        path = os.path.join(home, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        if os.path.lexists(path):  # a test may have left a link (ln -sf /dev/null ~/.bash_history)
            os.unlink(path)
        with open(path, "w") as f:
            f.write(text)


def load_tests():
    by_guid = {}
    for technique in sorted(os.listdir(ATOMICS)):
        with open(os.path.join(ATOMICS, technique, technique + ".yaml")) as f:
            doc = yaml.safe_load(f)
        for n, test in enumerate(doc["atomic_tests"], 1):
            by_guid[test["auto_generated_guid"]] = (technique, n, test)
    return by_guid


def load_table():
    rows = []
    with open(os.path.join(HERE, "expectations.tsv")) as f:
        for line in f:
            if not line.strip() or line.startswith("#"):
                continue
            cols = line.rstrip("\n").split("\t")
            guid, label, needs, overrides, rules, events = cols[:6]
            rows.append({
                "guid": guid,
                "label": label,
                "needs": [] if needs == "-" else needs.split(","),
                "overrides": {} if overrides == "-" else dict(kv.split("=", 1) for kv in overrides.split(";")),
                "rules": [] if rules == "-" else rules.split(","),
                "events": [] if events == "-" else events.split(","),
            })
    return rows


def wait_detected(data, timeout_s=60):
    """Until the detector's cursor has passed every stored batch, twice a
    second apart (a correlation's last rule comes in the last batch)."""
    db = os.path.join(data, "buildtrail.db")  # the store (access.db beside it holds the UI's users)
    caught_up = 0
    deadline = time.time() + timeout_s
    while time.time() < deadline and caught_up < 2:
        con = sqlite3.connect("file:%s?mode=ro" % db, uri=True, timeout=5)
        last = con.execute("SELECT max(id) FROM batches").fetchone()[0]
        row = con.execute("SELECT position FROM cursors WHERE name = 'detect.batches'").fetchone()
        con.close()
        caught_up = caught_up + 1 if last is not None and row is not None and row[0] >= last else 0
        time.sleep(0.5)


def substitute(text, args):
    for k, v in args.items():
        text = text.replace("#{" + k + "}", str(v))
    return text


class DaemonMode:
    """The daemon, and a stand-in GitHub runner per test."""

    def __init__(self, root, address, token):
        self.root = root
        self.lock = open("/tmp/bt-ebpf.lock", "a")
        fcntl.flock(self.lock, fcntl.LOCK_EX)
        self.log = os.path.join(root, "daemon.log")
        self.proc = subprocess.Popen(["sh", "-c", "exec %s daemon --state-dir %s --daemon-socket %s --collector %s "
                                      "--enroll-token %s --log-level debug --metadata-endpoints %s >%s 2>&1" % (
                                          AGENT, os.path.join(root, "dstate"), os.path.join(root, "daemon.sock"),
                                          "http://" + address, token, IMDS_ADDR, self.log)])
        if not self.wait_for("sensor attached", 30):
            self.stop()
            raise RuntimeError("the daemon did not start:\n" + self.text())

    def text(self):
        try:
            with open(self.log, errors="replace") as f:
                return f.read()
        except FileNotFoundError:  # the shell has not made it yet
            return ""

    def wait_for(self, line, seconds):
        deadline = time.time() + seconds
        while time.time() < deadline:
            if line in self.text():
                return True
            if self.proc.poll() is not None:
                return False
            time.sleep(0.05)
        return False

    def run(self, i, technique, home, tmp, shell, timeout, command):
        d = os.path.join(self.root, "runner-%d" % i)
        os.makedirs(d)
        worker = os.path.join(d, "Runner.Worker")
        os.symlink("/usr/bin/python3", worker)
        ready, go = os.path.join(d, "ready"), os.path.join(d, "go")
        env = {"PATH": "/usr/bin:/bin", "HOME": home, "FAKE_STEP_GITHUB_RUN_ID": str(7000 + i),
               "FAKE_STEP_GITHUB_JOB": technique, "FAKE_STEP_GITHUB_WORKFLOW": "atomics",
               "FAKE_STEP_GITHUB_REPOSITORY": "example/atomics", "FAKE_STEP_TMPDIR": tmp}
        step = "cd %s\ntimeout -k 5 %s %s -c %s" % (shlex.quote(tmp), timeout, shell, shlex.quote(command))
        p = subprocess.Popen([worker, os.path.join(SRC, "tests", "agent", "fake_runner.py"), "github", ready, go, step,
                              "-jar", "agent.jar"], env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
        deadline = time.time() + 20
        while not os.path.exists(ready) and time.time() < deadline:
            time.sleep(0.02)
        self.wait_for("tracking runner pid %d " % p.pid, 20)
        open(go, "w").close()
        try:
            return p.wait(timeout=180)
        except subprocess.TimeoutExpired:
            p.kill()
            return p.wait()

    def stop(self):
        self.proc.terminate()
        self.proc.wait()
        fcntl.flock(self.lock, fcntl.LOCK_UN)


def main():
    daemon_mode = "--daemon" in sys.argv
    if daemon_mode and os.geteuid() != 0:
        print("skipped: the daemon (eBPF) needs root")
        return 77
    only = None
    if "--only" in sys.argv:
        only = sys.argv[sys.argv.index("--only") + 1]
    # Not under /tmp: SigmaHQ's rules on scripts and programs in /tmp would
    # fire on every build because of where the runner put the home.
    root = tempfile.mkdtemp(prefix="atomics-", dir=BUILD)
    home = os.path.join(root, "home")
    tmp = os.path.join(root, "tmp")
    os.makedirs(tmp)
    fake_home(home)
    data = os.path.join(root, "data")
    token = subprocess.run([COLLECTOR, "agents", "token", "--data", data, "--uses", "1000"], check=True,
                           capture_output=True, text=True).stdout.strip().splitlines()[-1]
    ready = os.path.join(root, "ready")
    log = open(os.path.join(root, "collector.log"), "w")
    collector = subprocess.Popen([COLLECTOR, "serve", "--listen", "127.0.0.1:0", "--data", data, "--ready-file", ready,
                                  "--rules", os.path.join(SRC, "tests", "detect", "sigma-rules")],
                                 stderr=log, stdout=log)
    for _ in range(400):
        if os.path.exists(ready) and open(ready).read().strip():
            break
        time.sleep(0.025)
    address = open(ready).read().split("\n")[0]
    sink = serve("127.0.0.1")
    imds = serve(IMDS_ADDR)
    places = {
        "home": home,
        "tmp": tmp,
        "atomics": ATOMICS,
        "http": "http://127.0.0.1:%d" % sink.server_address[1],
        "imds": "http://%s:%d" % (IMDS_ADDR, imds.server_address[1]),
    }
    tests = load_tests()
    rows = load_table()
    daemon = None
    results = []
    try:
        if daemon_mode:
            try:
                daemon = DaemonMode(root, address, token)
            except RuntimeError as e:  # no eBPF sensor here: skipped, unless CI requires it
                print(e)
                return 1 if os.environ.get("BUILDTRAIL_REQUIRE_EBPF") == "1" else 77
        for i, row in enumerate(rows):
            if only and not row["guid"].startswith(only):
                continue
            technique, n, test = tests[row["guid"]]
            missing = [t for t in row["needs"] if t != "root" and shutil.which(t) is None]
            if "root" in row["needs"] and os.geteuid() != 0:
                missing.append("root")
            if missing:
                results.append((row, "not run", "needs " + ",".join(missing), set()))
                continue
            fake_home(home)  # every test starts from the same home
            args = {k: v.get("default") for k, v in (test.get("input_arguments") or {}).items()}
            for k, v in row["overrides"].items():
                args[k] = v.format(**places)
            for k, v in list(args.items()):
                if isinstance(v, str):
                    args[k] = v.replace("PathToAtomicsFolder", ATOMICS)
            ex = test["executor"]
            shell = "/bin/bash" if ex["name"] == "bash" else "/bin/sh"
            env = {
                "PATH": "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin", "HOME": home, "TMPDIR": tmp,
                "GITHUB_ACTIONS": "true", "GITHUB_RUN_ID": str(7000 + i), "GITHUB_RUN_ATTEMPT": "1",
                "GITHUB_WORKFLOW": "atomics", "GITHUB_JOB": technique, "GITHUB_REPOSITORY": "example/atomics",
                "GITHUB_SERVER_URL": "https://github.com", "RUNNER_NAME": "runner-1",
            }
            # Pre-stage: the prerequisites this table allows (offline ones).
            if row["overrides"].get("__prereq") == "yes":
                for dep in test.get("dependencies") or []:
                    if subprocess.run([shell, "-c", substitute(dep["prereq_command"], args)], env=env, cwd=tmp,
                                      capture_output=True).returncode != 0:
                        subprocess.run([shell, "-c", substitute(dep["get_prereq_command"], args)], env=env, cwd=tmp,
                                       capture_output=True, timeout=60)
            timeout = row["overrides"].get("__timeout", "60")
            args = {k: v for k, v in args.items() if not k.startswith("__")}
            command = substitute(ex["command"], args)
            if daemon:
                code = daemon.run(i, technique, home, tmp, shell, timeout, command)
                if ex.get("cleanup_command"):
                    subprocess.run([shell, "-c", substitute(ex["cleanup_command"], args)], env=env, cwd=tmp,
                                   stdin=subprocess.DEVNULL, capture_output=True, timeout=60)
                results.append((row, "ran", "exit %d" % code, str(7000 + i) + ".1"))
                continue
            r = subprocess.run([AGENT, "run", "--state-dir", os.path.join(root, "state"), "--collector",
                                "http://" + address, "--enroll-token", token, "--batch-max-age-ms", "100",
                                "--metadata-endpoint", IMDS_ADDR, "--", "timeout", "-k", "5", timeout, shell, "-c",
                                command], env=env, cwd=tmp, stdin=subprocess.DEVNULL, capture_output=True)
            if ex.get("cleanup_command"):
                subprocess.run([shell, "-c", substitute(ex["cleanup_command"], args)], env=env, cwd=tmp,
                               stdin=subprocess.DEVNULL, capture_output=True, timeout=60)
            results.append((row, "ran", "exit %d" % r.returncode, str(7000 + i) + ".1"))
        # Every build delivered: wait for the detector, then read what it raised.
        wait_detected(data)
        alerts = json.loads("[" + ",".join(subprocess.run(
            [COLLECTOR, "alerts", "list", "--data", data, "--format", "jsonl", "--limit", "100000"], check=True,
            capture_output=True, text=True).stdout.splitlines()) + "]")
        builds = {}  # CI build id -> build record (REF, BUILD columns of `builds`)
        for line in subprocess.run([COLLECTOR, "builds", "--data", data, "--limit", "100000"], capture_output=True,
                                   text=True).stdout.splitlines()[1:]:
            cols = line.split()
            if len(cols) > 5 and cols[0].isdigit():
                builds[cols[5]] = int(cols[0])
        failures = 0
        ran = detected = by_pack = 0
        for row, state, why, build_id in results:
            label = "%s %s" % (row["label"], row["guid"])
            if state != "ran":
                print("NOT RUN   %-44s %s" % (label, why))
                continue
            ran += 1
            ref = builds.get(build_id)
            raised = sorted({a["rule_id"] for a in alerts if ref is not None and a.get("build") == ref})
            kinds = set()
            for line in subprocess.run([COLLECTOR, "query", "--data", data, "--ci-build", build_id, "--format",
                                        "jsonl"], capture_output=True, text=True).stdout.splitlines():
                e = json.loads(line)
                kinds.add(e.get("kind"))
                if e.get("kind") == "secret_access":
                    kinds.add("secret_access:" + str(e.get("data", {}).get("secret_class")))
                if e.get("kind") == "file_write":
                    kinds.add("file_write:" + str(e.get("data", {}).get("rule")))
            required = row["rules"]
            if daemon_mode and "__daemon_rules" in row["overrides"]:  # what the daemon can promise instead
                d = row["overrides"]["__daemon_rules"]
                required = [] if d == "-" else d.split(",")
            missing_rules = [x for x in required if x not in raised]
            missing_events = [x for x in row["events"] if x not in kinds]
            ok = not missing_rules and not missing_events
            detected += 1 if raised else 0
            by_pack += 1 if any(x.startswith("BT-") for x in raised) else 0
            failures += 0 if ok else 1
            print("%-9s %-44s %s  raised: %s%s%s" % (
                "ok" if ok else "FAIL", label, why, ", ".join(raised) or "-",
                ("  MISSING rules: " + ",".join(missing_rules)) if missing_rules else "",
                ("  MISSING events: " + ",".join(missing_events)) if missing_events else ""))
        print("atomics: %d in the table, %d run, %d detected (an alert on the build; %d by the CI rule pack), "
              "%d not run, %d failed" % (len(results), ran, detected, by_pack, len(results) - ran, failures))
        return 1 if failures else 0
    finally:
        if daemon:
            daemon.stop()
        collector.terminate()
        collector.wait()
        sink.shutdown()
        imds.shutdown()
        if "--keep" not in sys.argv:
            shutil.rmtree(root, ignore_errors=True)
        else:
            print("kept", root)


if __name__ == "__main__":
    sys.exit(main())
