// `buildtrail-agent daemon` end to end, for real: the daemon loads its BPF
// programs into this kernel, fake CI runners (the real runner's task name
// and argv, see fake_runner.py) start builds, and the events go to the real
// collector over loopback HTTP. In the privileged suite: skipped without
// root (tests/privileged_main.cpp); with BUILDTRAIL_REQUIRE_EBPF=1 (CI)
// anything missing is a failure, not a skip.
#include <doctest/doctest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "agent/capture/ebpf/decode.h"
#include "agent/capture/ebpf/filter.h"
#include "agent/capture/ebpf/sensor.h"
#include "agent/enrich/rules/attribution.h"
#include "agent/enrich/rules/runners.h"
#include "agent/enrich/rules/secrets.h"
#include "common/clock.h"
#include "tests/agent/capture_fixtures.h"
#include "tests/agent/daemon_fixtures.h"
#include "tests/collector/collector_process.h"

using namespace bt;
using namespace bt::testing::capture;

namespace {

// IDs of the loaded BPF programs named like the sensor's (bt_*).
// Ids of the loaded programs named bt_*; with `owner`, only those that
// process holds a descriptor of (its fdinfo names the program): another
// daemon may load and unload its own meanwhile.
std::set<std::string> sensor_programs(pid_t owner = 0) {
  std::set<std::string> held;
  if (owner) {
    const std::string dir = "/proc/" + std::to_string(owner) + "/fdinfo";
    for (const auto& entry : std::filesystem::directory_iterator(dir)) {
      std::ifstream in(entry.path());
      for (std::string line; std::getline(in, line);)
        if (line.rfind("prog_id:", 0) == 0) held.insert(std::to_string(std::stoull(line.substr(8))));
    }
  }
  std::set<std::string> ids;
  std::istringstream in(testing::run_command("bpftool prog show").output);
  for (std::string line; std::getline(in, line);) {
    if (line.find(" name bt_") == std::string::npos) continue;
    const std::string id = line.substr(0, line.find(':'));
    if (!owner || held.count(id)) ids.insert(id);
  }
  return ids;
}

std::map<std::string, std::vector<events::Event>> by_build(const std::vector<events::Event>& evs) {
  std::map<std::string, std::vector<events::Event>> out;
  for (const auto& e : evs)
    if (!e.build.ci.empty()) out[e.build.ci].push_back(e);
  return out;
}

bool has_argv(const std::vector<events::Event>& evs, const std::string& word) {
  for (const auto* x : bodies<events::ProcessExec>(evs))
    for (const auto& a : x->argv)
      if (a.find(word) != std::string::npos) return true;
  return false;
}

// Every capture a build step can do, in one script: execs, a secret file
// by absolute and relative path, TCP, DNS, an upload, another process's
// environment and memory, a process that renames itself and one that
// re-parents to init.
std::string build_script(const std::string& home, int tcp_port, const std::string& artifact) {
  const std::string port = std::to_string(tcp_port);
  return "#!/bin/bash\n/bin/echo --token " + kFakeGithubToken +
         " >/dev/null; "
         "cat " +
         home +
         "/.aws/credentials >/dev/null; "
         "cd " +
         home +
         "/.aws && cat credentials >/dev/null; cd /; "
         "(exec 3<>/dev/tcp/127.0.0.1/" +
         port +
         ") ; "
         "/usr/bin/python3 -c \"import socket,struct; u=socket.socket(socket.AF_INET,socket.SOCK_DGRAM); "
         "u.sendto(struct.pack('>HHHHHH',5,0x0100,1,0,0,0)+b'\\x08registry\\x04test\\x00\\x00\\x01\\x00\\x01',"
         "('127.0.0.77',53)); u.recvfrom(512); "
         "c=socket.socket(socket.AF_INET,socket.SOCK_DGRAM); c.connect(('127.0.0.77',53)); "
         "c.send(struct.pack('>HHHHHH',6,0x0100,1,0,0,0)+b'\\x06mirror\\x04test\\x00\\x00\\x01\\x00\\x01'); "
         "import os; os.read(c.fileno(),512)\"; "
         "curl -s -m 1 -H Expect: -T " +
         artifact + " http://127.0.0.1:" + port +
         "/up/a.txt >/dev/null || true; "
         "/bin/sleep 3 & cat /proc/$!/environ >/dev/null; kill $!; "
         "/usr/bin/python3 -c \"import ctypes,os,time\n"
         "libc=ctypes.CDLL(None)\n"
         "buf=ctypes.create_string_buffer(b'12345678')\n"
         "pid=os.fork()\n"
         "if pid==0:\n  time.sleep(3); os._exit(0)\n"
         "class V(ctypes.Structure): _fields_=[('b',ctypes.c_void_p),('n',ctypes.c_size_t)]\n"
         "dst=ctypes.create_string_buffer(8)\n"
         "assert "
         "libc.process_vm_readv(pid,ctypes.byref(V(ctypes.addressof(dst),8)),1,ctypes.byref(V(ctypes.addressof(buf),8))"
         ",1,0)==8\n"
         "assert libc.ptrace(16,pid,0,0)==0\n"
         "os.waitpid(pid,0); libc.ptrace(17,pid,0,0); os.kill(pid,9); os.waitpid(pid,0)\"; "
         "/usr/bin/python3 -c \"import ctypes; ctypes.CDLL(None).prctl(15,b'innocent',0,0,0); "
         "open('" +
         home +
         "/.docker/config.json').read()\"; "
         "(setsid /bin/sh -c 'sleep 1; cat " +
         home +
         "/.npmrc >/dev/null' &) ; "
         "exit 3";
}

void make_home(const std::string& home) {
  REQUIRE(testing::run_command("mkdir -p " + home + "/.aws " + home +
                               "/.docker && printf '[default]\\naws_access_key_id = " + kFakeAwsKey + "\\n' > " + home +
                               "/.aws/credentials && echo '{}' > " + home +
                               "/.docker/config.json && echo 'registry=http://127.0.0.1/' > " + home + "/.npmrc")
              .exit_code == 0);
}

}  // namespace

TEST_CASE("daemon: two concurrent builds on one host, every event kind, attributed; nothing outside builds") {
  testing::CollectorData d("daemon");
  testing::CollectorProcess c(d.data);
  REQUIRE(c.running());
  DnsServer dns;
  Listener registry;
  const std::string artifact = d.root + "/artifact.txt";
  REQUIRE(testing::run_command("printf 'hello\\n' > " + artifact).exit_code == 0);
  for (const char* who : {"jenkins", "github", "outside"}) make_home(d.root + "/home-" + who);

  Daemon daemon(d.root, "--collector " + c.url("") + " --enroll-token " + d.token() + " --batch-max-age-ms 100");
  REQUIRE(daemon.started());
  FakeRunner jenkins(d.root, "java", "jenkins", build_script(d.root + "/home-jenkins", registry.port, artifact));
  FakeRunner github(d.root, "Runner.Worker", "github", build_script(d.root + "/home-github", registry.port, artifact));
  jenkins.start(daemon);
  github.start(daemon);
  // The same work outside any build, while both builds run: not recorded.
  {
    std::ofstream f(d.root + "/outside.sh");
    f << build_script(d.root + "/home-outside", registry.port, artifact);
  }
  const auto outside = testing::run_command("/bin/echo OUTSIDE-BUILDS; /bin/bash " + d.root + "/outside.sh");
  CHECK_MESSAGE(outside.exit_code == 3, outside.output);
  CHECK(jenkins.wait() == 3);
  CHECK(github.wait() == 3);
  // The re-parented reader runs on after its build ended.
  const auto orphan_done = [&](const std::string& who) {
    return slurp(daemon.events).find("\"path\":\"" + d.root + "/home-" + who + "/.npmrc\"") != std::string::npos;
  };
  CHECK(wait_until([&] { return orphan_done("jenkins") && orphan_done("github"); }, 15000));
  CHECK(daemon.stop() == 0);

  const auto evs = read_events(daemon.events);
  const std::string raw = slurp(daemon.events);
  CHECK(raw.find(kFakeGithubToken) == std::string::npos);
  CHECK(raw.find(kFakeAwsKey) == std::string::npos);
  CHECK(raw.find("home-outside") == std::string::npos);
  CHECK_FALSE(has_argv(evs, "OUTSIDE-BUILDS"));
  CHECK(bodies<events::Loss>(evs).empty());

  const auto builds = by_build(evs);
  REQUIRE(builds.count("jenkins") == 1);
  REQUIRE(builds.count("github") == 1);
  CHECK(builds.at("jenkins").front().build.id == "jenkins-app-main-7");
  CHECK(builds.at("github").front().build.id.find("5151") != std::string::npos);
  for (const auto& entry : builds) {
    const std::string ci = entry.first;  // not a structured binding: INFO captures it
    const auto& list = entry.second;
    INFO("build " << ci);
    const std::string home = d.root + "/home-" + ci;
    std::set<std::string> ids;
    for (const auto& e : list) ids.insert(e.build.id);
    CHECK(ids.size() == 1);  // concurrent builds never mix
    REQUIRE(bodies<events::BuildStart>(list).size() == 1);
    CHECK(bodies<events::BuildStart>(list)[0]->mode == "daemon");
    REQUIRE(bodies<events::BuildEnd>(list).size() == 1);
    CHECK(bodies<events::BuildEnd>(list)[0]->exit_code == 3);

    bool echo = false;
    for (const auto* x : bodies<events::ProcessExec>(list))
      if (!x->argv.empty() && x->argv[0] == "/bin/echo") {
        echo = true;
        REQUIRE(x->argv.size() == 3);
        CHECK(x->argv[2].rfind("[REDACTED:", 0) == 0);
        CHECK_FALSE(x->exe_sha256.empty());
      }
    CHECK(echo);
    CHECK_FALSE(bodies<events::ProcessExit>(list).empty());

    std::multiset<std::string> secrets;
    for (const auto* s : bodies<events::SecretAccess>(list)) {
      secrets.insert(s->access + " " + (s->path.rfind(home, 0) == 0 ? s->path.substr(home.size()) : s->rule));
      if (s->access == "proc_environ" || s->access == "ptrace_attach" || s->access == "process_vm_readv")
        CHECK(s->secret_class == "process_memory");
    }
    INFO("secret accesses: " << [&] {
      std::string t;
      for (const auto& s : secrets) t += s + "; ";
      return t;
    }());
    CHECK(secrets.count("open_read /.aws/credentials") == 2);     // absolute and relative
    CHECK(secrets.count("open_read /.docker/config.json") == 1);  // by a renamed process
    CHECK(secrets.count("open_read /.npmrc") == 1);               // by an orphan
    CHECK(secrets.count("proc_environ proc-environ") == 1);
    CHECK(secrets.count("process_vm_readv process-vm-readv") == 1);
    CHECK(secrets.count("ptrace_attach ptrace-attach") == 1);

    const auto connects = bodies<events::NetConnect>(list);
    bool tcp = false;
    for (const auto* n : connects)
      if (n->protocol == "tcp" && n->daddr == "127.0.0.1" && n->dport == static_cast<uint64_t>(registry.port))
        tcp = true;
    CHECK(tcp);
    // An unconnected socket's recvfrom (glibc's shape), and read() on a
    // socket connected to port 53 (Go's).
    const auto dns_queries = bodies<events::DnsQuery>(list);
    REQUIRE(dns_queries.size() == 2);
    CHECK(dns_queries[0]->name == "registry.test");
    CHECK(dns_queries[1]->name == "mirror.test");
    for (const auto* q : dns_queries) {
      CHECK(q->server == "127.0.0.77");
      CHECK(q->answers == std::vector<std::string>{"127.0.0.1"});
    }
    const auto uploads = bodies<events::ArtifactUpload>(list);
    REQUIRE(uploads.size() == 1);
    CHECK(uploads[0]->tool == "curl");
    REQUIRE(uploads[0]->files.size() == 1);
    CHECK(uploads[0]->files[0].sha256 == "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03");
  }

  // Delivered, signed and chained, to the real collector.
  const auto listed =
      testing::run_command(testing::build_path("collector/buildtrail-collector") + " builds --data " + d.data);
  INFO(listed.output);
  CHECK(listed.output.find("jenkins-app-main-7") != std::string::npos);
  CHECK(listed.output.find("5151") != std::string::npos);
}

TEST_CASE("daemon: completeness on the shared workloads (exec_storm vs strace -f; file_storm's 147 secrets)") {
  const std::string bench = shared_bench();
  const std::string root = testing::make_temp_dir("daemon-storms");
  const std::string work = root + "/work";
  REQUIRE(testing::run_command(bench + "/workloads/_fakehome.sh " + root + "/home").exit_code == 0);
  const std::string exec_storm = "mkdir -p " + work + " && EXEC_STORM_ITER=25 BENCH_WORKDIR=" + work + " /bin/bash " +
                                 bench + "/workloads/exec_storm.sh";
  REQUIRE(testing::run_command(
              "env -i PATH=/usr/bin:/bin strace -f -qq -xx -v -s 65536 -e trace=execve -e signal=none -o " + root +
              "/strace.log /bin/bash -c '" + exec_storm + "'")
              .exit_code == 0);
  REQUIRE(testing::run_command("rm -rf " + work).exit_code == 0);
  const std::string file_storm = std::string(kSmallFileStorm) + " BENCH_WORKDIR=" + root + " BENCH_HOME=" + root +
                                 "/home /bin/bash " + bench + "/workloads/file_storm.sh";

  Daemon daemon(root, "");
  REQUIRE(daemon.started());
  {
    FakeRunner runner(root, "java", "jenkins", exec_storm);
    runner.start(daemon);
    CHECK(runner.wait() == 0);
  }
  {
    FakeRunner runner(root + "/2", "java", "jenkins", file_storm);
    runner.start(daemon);
    CHECK(runner.wait() == 0);
  }
  ::usleep(500000);
  CHECK(daemon.stop() == 0);
  const auto evs = read_events(daemon.events);
  CHECK(bodies<events::Loss>(evs).empty());
  CHECK_FALSE(daemon.logged("lost in the kernel"));

  // Builds are told apart by their first process: the first is exec_storm.
  std::map<std::string, std::vector<const events::Event*>> per_build;
  std::vector<std::string> order;
  for (const auto& e : evs) {
    if (e.kind() == events::Kind::build_start) order.push_back(e.process.key + e.build.id + std::to_string(e.time_ns));
    if (!order.empty()) per_build[order.back()].push_back(&e);
  }
  REQUIRE(order.size() == 2);

  const auto theirs = strace_execs(root + "/strace.log");
  CHECK(theirs.size() > 25 * 12);
  check_same_execs(exec_set(per_build[order[0]]), theirs);

  check_file_storm_secrets(per_build[order[1]], root + "/home");
}

TEST_CASE("daemon: what the ring buffer cannot hold is counted and reported as loss") {
  testing::CollectorData d("daemon-loss");
  testing::CollectorProcess c(d.data);
  REQUIRE(c.running());
  const std::string root = d.root;
  Daemon daemon(root,
                "--ring-kb 4 --collector " + c.url("") + " --enroll-token " + d.token() + " --batch-max-age-ms 100");
  REQUIRE(daemon.started());
  FakeRunner runner(root, "Runner.Worker", "github", "for i in $(seq 300); do /bin/true $i; done");
  runner.wait_registered(daemon);
  // The reader stopped: the build's records overflow the 4 KiB ring.
  REQUIRE(::kill(daemon.pid, SIGSTOP) == 0);
  runner.go_on();
  CHECK(runner.wait() == 0);
  REQUIRE(::kill(daemon.pid, SIGCONT) == 0);
  CHECK(wait_until([&] { return daemon.logged("lost in the kernel (ring_full)"); }, 10000));
  CHECK(daemon.stop() == 0);
  // Loss is reported in-band, in the signed batches the collector archived.
  const auto evs = testing::archived_events(d.data, root + "/state/agent.pub");
  uint64_t ring_full = 0;
  for (const auto* l : bodies<events::Loss>(evs))
    for (const auto& [reason, n] : l->counts)
      if (reason == "ring_full") ring_full += n;
  CHECK(ring_full > 0);
  // What the ring held still arrived, and recording went on.
  std::size_t execs = bodies<events::ProcessExec>(evs).size();
  CHECK(execs > 0);
  CHECK(execs < 301);
  MESSAGE("ring_full " << ring_full << ", execs recorded " << execs);
}

TEST_CASE("daemon: refuses clearly without BTF or root; drops capabilities; detaches on SIGTERM") {
  const std::string root = testing::make_temp_dir("daemon-ops");
  const auto no_btf =
      testing::run_command(agent_bin() + " daemon --state-dir " + root + "/s1 --btf-file " + root + "/no-such-btf");
  CHECK(no_btf.exit_code == 1);
  CHECK(no_btf.output.find("no BTF") != std::string::npos);
  CHECK(no_btf.output.find("buildtrail-agent run") != std::string::npos);
  CHECK(std::count(no_btf.output.begin(), no_btf.output.end(), '\n') == 1);
  REQUIRE(testing::run_command("mkdir -p " + root + "/user && chown 65534:65534 " + root + "/user").exit_code == 0);
  const auto user = testing::run_command("setpriv --reuid=65534 --regid=65534 --clear-groups " + agent_bin() +
                                         " daemon --state-dir " + root + "/user/state");
  CHECK(user.exit_code == 1);
  CHECK(user.output.find("must start as root") != std::string::npos);

  Daemon daemon(root, "");
  REQUIRE(daemon.started());
  const std::set<std::string> ours = sensor_programs(daemon.pid);
  // fork, exec, exit, cgroup rmdir and one program per system call of interest (11, and 9 that
  // change files: rename*, unlink*, chmod, fchmod, fchmodat, truncate)
  CHECK(ours.size() == 24);
  CHECK(daemon.logged("system calls by per-call tracepoints"));
  const std::string status = slurp("/proc/" + std::to_string(daemon.pid) + "/status");
  const auto cap = status.find("CapEff:");
  REQUIRE(cap != std::string::npos);
  // CAP_DAC_READ_SEARCH (2) and CAP_SYS_PTRACE (19) only.
  CHECK(std::stoull(status.substr(cap + 7, status.find('\n', cap) - cap - 7), nullptr, 16) == 0x80004ull);
  CHECK(status.find("NoNewPrivs:\t1") != std::string::npos);
  CHECK(daemon.stop() == 0);
  CHECK(daemon.logged("detached from the kernel"));
  // The kernel frees detached programs shortly after (RCU).
  CHECK(wait_until(
      [&] {
        const auto now = sensor_programs();
        for (const auto& id : ours)
          if (now.count(id)) return false;
        return true;
      },
      10000));
}

namespace {

// One build under `sensor`: a "runner" child of ours, registered, forks a
// process that execs `argv` with `envp`; returns the build's records.
std::vector<agent::ebpf::Observed> one_build(agent::ebpf::Sensor& sensor, const std::vector<std::string>& argv,
                                             const std::vector<std::string>& envp) {
  std::vector<char*> args, env;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  for (const auto& e : envp) env.push_back(const_cast<char*>(e.c_str()));
  args.push_back(nullptr);
  env.push_back(nullptr);
  int go[2];
  REQUIRE(::pipe(go) == 0);
  const pid_t runner = ::fork();
  REQUIRE(runner >= 0);
  if (runner == 0) {
    char c;
    if (::read(go[0], &c, 1) != 1) ::_exit(1);
    const pid_t build = ::fork();
    if (build == 0) {
      ::execve(args[0], args.data(), env.data());
      ::_exit(127);
    }
    int st;
    ::waitpid(build, &st, 0);
    ::_exit(0);
  }
  REQUIRE(sensor.add_runner(static_cast<uint32_t>(runner)).ok());
  REQUIRE(::write(go[1], "g", 1) == 1);
  ::close(go[0]);
  ::close(go[1]);
  int st;
  ::waitpid(runner, &st, 0);
  std::vector<agent::ebpf::Observed> records;
  const agent::ebpf::Clock clock;
  for (int i = 0; i < 10; ++i)
    REQUIRE(sensor
                .poll(100,
                      [&](std::span<const uint8_t> bytes) {
                        auto r = agent::ebpf::decode(bytes, clock);
                        const auto* o = r ? std::get_if<agent::ebpf::Observed>(&*r) : nullptr;
                        if (o && o->where.build.root_pid != 0) records.push_back(*o);
                      })
                .ok());
  return records;
}

// The kinds of observation (their index in capture::Observation) a build
// that opens a credential-named file and connects over TCP gets, with
// system calls hooked either way.
std::set<std::size_t> sensor_sees(bool raw_sys_exit, const std::string& dir, int port) {
  agent::ebpf::Options o;
  o.raw_sys_exit = raw_sys_exit;
  o.filter = agent::ebpf::compile_filter(agent::secrets::patterns(agent::secrets::default_rules()));
  auto sensor = agent::ebpf::Sensor::start(o);
  REQUIRE_MESSAGE(sensor.ok(), (sensor ? "" : sensor.error().message));
  CHECK((*sensor)->per_syscall() == !raw_sys_exit);
  std::set<std::size_t> kinds;
  const std::string script = "cat " + dir + "/.npmrc >/dev/null; exec 3<>/dev/tcp/127.0.0.1/" + std::to_string(port);
  for (const auto& r : one_build(**sensor, {"/bin/bash", "-c", script}, {"PATH=/usr/bin:/bin"}))
    kinds.insert(r.what.index());
  return kinds;
}

}  // namespace

TEST_CASE("sensor: system calls by per-call tracepoints, and by the raw sys_exit where those are missing") {
  const std::string dir = testing::make_temp_dir("sensor-calls");
  REQUIRE(testing::run_command("printf 'registry=x\\n' > " + dir + "/.npmrc").exit_code == 0);
  Listener l;
  for (bool raw : {false, true}) {
    INFO("raw sys_exit: " << raw);
    const auto kinds = sensor_sees(raw, dir, l.port);
    CHECK(kinds.count(agent::capture::Observation(agent::capture::Exec{}).index()));
    CHECK(kinds.count(agent::capture::Observation(agent::capture::Open{}).index()));
    CHECK(kinds.count(agent::capture::Observation(agent::capture::Connect{}).index()));
  }
}

TEST_CASE("sensor: only the identity variables of a build's environment leave the kernel") {
  agent::ebpf::Options o;
  o.env_allow = agent::attribution::identity_variables();
  auto sensor = agent::ebpf::Sensor::start(o);
  REQUIRE_MESSAGE(sensor.ok(), (sensor ? "" : sensor.error().message));
  // A build: /bin/true with a CI job's environment, secrets among its
  // identity variables (fake ones).
  const std::string long_value(2000, 'x');
  const auto records = one_build(**sensor, {"/bin/true"},
                                 {"JENKINS_URL=https://jenkins.example.com/", "JENKINS_SECRET=" + kFakeGithubToken,
                                  "BUILD_TAG=jenkins-app-7", "AWS_SECRET_ACCESS_KEY=" + kFakeAwsKey,
                                  "CI_REPOSITORY_URL=https://gitlab-ci-token:glcbt-FAKE@gitlab.example.com/a.git",
                                  "JOB_NAME=" + long_value, "CUSTOM_ENV_CI_JOB_ID=99", "BUILD_NUMBER=7"});
  std::vector<std::string> env;
  bool seen = false;
  for (const auto& r : records)
    if (const auto* x = std::get_if<agent::capture::Exec>(&r.what); x && x->identity_env && x->exe == "/usr/bin/true") {
      env = *x->identity_env;
      seen = true;
    }
  REQUIRE(seen);
  CHECK(env == std::vector<std::string>{"JENKINS_URL=https://jenkins.example.com/", "BUILD_TAG=jenkins-app-7",
                                        "CUSTOM_ENV_CI_JOB_ID=99", "BUILD_NUMBER=7"});
}

TEST_CASE("daemon: a GitLab shell job, whose script exports CI_*, is attributed from its first child on") {
  const std::string root = testing::make_temp_dir("daemon-gitlab");
  REQUIRE(testing::run_command("mkdir -p " + root + "/.aws && printf '[default]\\n' > " + root +
                               "/.aws/credentials && chmod -R a+rX " + root)
              .exit_code == 0);
  Daemon daemon(root, "");
  REQUIRE(daemon.started());
  FakeRunner gitlab(root, "gitlab-runner", "gitlab",
                    "cat " + root + "/.aws/credentials >/dev/null; /bin/sh -c 'true LATE-CHILD'");
  gitlab.start(daemon);
  CHECK(gitlab.wait() == 0);
  CHECK(daemon.stop() == 0);
  const auto evs = read_events(daemon.events);
  CHECK(slurp(daemon.events).find("glcbt-64_FakeJobToken") == std::string::npos);
  const events::Event* child = nullptr;
  const events::Event* read = nullptr;
  for (const auto& e : evs) {
    if (const auto* x = std::get_if<events::ProcessExec>(&e.body))
      if (std::find(x->argv.begin(), x->argv.end(), "true LATE-CHILD") != x->argv.end()) child = &e;
    if (const auto* s = std::get_if<events::SecretAccess>(&e.body); s && s->path == root + "/.aws/credentials")
      read = &e;
  }
  REQUIRE(child != nullptr);
  REQUIRE(read != nullptr);
  // build_start waited for the name, and so did the login shell's events.
  const auto starts = bodies<events::BuildStart>(evs);
  REQUIRE(starts.size() == 1);
  for (const auto& e : evs) CHECK(e.build.id == "8080");
  for (const events::Event* e : {child, read}) {
    CHECK(e->build.ci == "gitlab");
    CHECK(e->build.id == "8080");
    CHECK(e->build.job == "build");
  }
}

TEST_CASE("daemon: a `podman exec -e GITHUB_RUN_ID=...` into a container the job started joins the job") {
  if (testing::run_command("command -v podman && command -v runc && test -x /bin/busybox").exit_code != 0) {
    if (testing::env_or("BUILDTRAIL_REQUIRE_EBPF", "") == "1")
      FAIL("podman, runc or busybox-static missing (make deps)");
    MESSAGE("skipped: podman, runc or busybox-static missing");
    return;
  }
  const std::string root = testing::make_temp_dir("daemon-podman");
  const std::string rootfs = root + "/rootfs";
  REQUIRE(testing::run_command("mkdir -p " + rootfs + "/bin " + rootfs + "/root/.aws && cp /bin/busybox " + rootfs +
                               "/bin/ && for c in sh sleep cat echo; do ln -s busybox " + rootfs +
                               "/bin/$c; done && printf '[default]\\n' > " + rootfs + "/root/.aws/credentials")
              .exit_code == 0);
  // runc: Debian's crun refuses this CI's hybrid cgroup layout. The
  // ulimits: podman's defaults are above what a CI sandbox may grant.
  const std::string podman = "podman --runtime runc ";
  const std::string ours = "bt-job-" + std::to_string(::getpid()), other = "bt-other-" + std::to_string(::getpid());
  const auto run_container = [&](const std::string& name) {
    return podman + "run -d --name " + name +
           " --network none --ulimit nofile=1024:1024 --ulimit nproc=1024:1024 --rootfs " + rootfs +
           " /bin/sleep 120 >/dev/null";
  };
  struct Cleanup {
    std::string command;
    ~Cleanup() { testing::run_command(command); }
  } cleanup{podman + "rm -f -t 0 " + ours + " " + other + " >/dev/null 2>&1"};

  Daemon daemon(root, "");
  REQUIRE(daemon.started());
  // The job starts a container and its step ends; the container stays.
  FakeRunner github(root, "Runner.Worker", "github", run_container(ours));
  github.start(daemon);
  REQUIRE(github.wait() == 0);
  // A container no job started, and a process outside any job.
  REQUIRE(testing::run_command(run_container(other)).exit_code == 0);
  // Steps of a GitHub container job are `docker exec -e GITHUB_...` from
  // the runner: no lineage to the job, only the container and environment.
  const auto in_job = testing::run_command(
      podman +
      "exec -e GITHUB_ACTIONS=true -e GITHUB_RUN_ID=5151 -e GITHUB_JOB=build -e GITHUB_REPOSITORY=example/app " + ours +
      " /bin/sh -c 'cat /root/.aws/credentials >/dev/null; /bin/echo IN-JOB-CONTAINER'");
  REQUIRE_MESSAGE(in_job.exit_code == 0, in_job.output);
  REQUIRE(testing::run_command(podman + "exec " + other + " /bin/echo IN-OTHER-CONTAINER").exit_code == 0);
  REQUIRE(testing::run_command("/bin/echo ON-HOST-OUTSIDE-ANY-JOB").exit_code == 0);
  testing::run_command(cleanup.command);
  ::usleep(300000);
  CHECK(daemon.stop() == 0);

  const auto evs = read_events(daemon.events);
  const events::Event* exec = nullptr;
  const events::Event* read = nullptr;
  for (const auto& e : evs) {
    if (const auto* x = std::get_if<events::ProcessExec>(&e.body))
      if (std::find(x->argv.begin(), x->argv.end(), "IN-JOB-CONTAINER") != x->argv.end()) exec = &e;
    if (const auto* s = std::get_if<events::SecretAccess>(&e.body); s && s->path.ends_with("root/.aws/credentials"))
      read = &e;
  }
  REQUIRE_MESSAGE(exec != nullptr, slurp(daemon.events));
  REQUIRE(read != nullptr);
  for (const events::Event* e : {exec, read}) {
    CHECK(e->build.ci == "github");
    CHECK(e->build.id == "5151.1");     // run id and attempt
    CHECK(e->build.job == "ci/build");  // workflow and job
  }
  const std::string all = slurp(daemon.events);
  CHECK(all.find("IN-OTHER-CONTAINER") == std::string::npos);
  CHECK(all.find("ON-HOST-OUTSIDE-ANY-JOB") == std::string::npos);
}

namespace {

// ROOT/.aws/credentials, a fake one; returns its path.
std::string fake_credential(const std::string& root) {
  const std::string cred = root + "/.aws/credentials";
  REQUIRE(testing::run_command("mkdir -p " + root + "/.aws && printf '[default]\\n' > " + cred).exit_code == 0);
  return cred;
}

// The hook scripts installed the way docs/integrations.md says: beside the
// agent. Returns the folder.
std::string install_hooks(const std::string& root) {
  const std::string dir = root + "/hooks";
  const std::string src = testing::env_or("BUILDTRAIL_SRC", ".") + "/scripts/hooks/";
  REQUIRE(
      testing::run_command("mkdir -p " + dir + " && ln -sf " + agent_bin() + " " + dir +
                           "/buildtrail-agent && for h in buildtrail-job github-job-started github-job-completed; do "
                           "ln -sf " +
                           src + "$h " + dir + "/$h; done")
          .exit_code == 0);
  return dir;
}

std::vector<const events::Event*> of_build(const std::vector<events::Event>& evs, const std::string& id) {
  std::vector<const events::Event*> out;
  for (const auto& e : evs)
    if (e.build.id == id) out.push_back(&e);
  return out;
}

template <typename Body>
std::size_t count_of(const std::vector<const events::Event*>& evs) {
  return static_cast<std::size_t>(std::count_if(
      evs.begin(), evs.end(), [](const events::Event* e) { return std::holds_alternative<Body>(e->body); }));
}

bool exec_mentions(const events::Event* e, const std::string& word) {
  const auto* x = std::get_if<events::ProcessExec>(&e->body);
  if (!x) return false;
  for (const auto& a : x->argv)
    if (a.find(word) != std::string::npos) return true;
  return false;
}

}  // namespace

TEST_CASE("daemon: GitHub job hooks make a job's steps one build; two concurrent jobs never mix") {
  const std::string root = testing::make_temp_dir("daemon-jobs");
  const std::string cred = fake_credential(root);
  Daemon daemon(root, "");
  REQUIRE(daemon.started());
  const std::string hooks = install_hooks(root);

  // Two jobs at once, each: started hook, two steps (the second leaves a
  // process that drops RUNNER_TRACKING_ID and outlives the job), completed hook.
  std::vector<std::unique_ptr<FakeRunner>> workers;
  for (const std::string id : {"5151", "6262"}) {
    const std::string steps = "/bin/echo STEP1-" + id + "; cat " + cred +
                              " >/dev/null; cat /proc/$PPID/environ >/dev/null; " + hooks +
                              "/buildtrail-job begin --id forged-" + id +
                              "\n---\n"
                              "/bin/echo STEP2-" +
                              id + "; (unset RUNNER_TRACKING_ID; setsid /bin/sh -c 'sleep 1; /bin/echo LATE-" + id +
                              "; cat " + cred + " >/dev/null' &)";
    workers.push_back(std::make_unique<FakeRunner>(
        root, "Runner.Worker", "github", steps,
        std::vector<std::string>{"FAKE_STEP_GITHUB_RUN_ID=" + id, "FAKE_STEP_BUILDTRAIL_DAEMON_SOCKET=" + daemon.socket,
                                 "ACTIONS_RUNNER_HOOK_JOB_STARTED=" + hooks + "/github-job-started",
                                 "ACTIONS_RUNNER_HOOK_JOB_COMPLETED=" + hooks + "/github-job-completed"},
        id));
  }
  for (auto& w : workers) w->wait_registered(daemon);
  for (auto& w : workers) w->go_on();
  for (auto& w : workers) CHECK(w->wait() == 0);
  CHECK(wait_until([&] { return testing::run_command("pgrep -f 'LATE[-]'").exit_code != 0; }, 15000));

  // Outside any build: a clear one-line refusal. No daemon: hooks fail open.
  const auto outside = testing::run_command(agent_bin() + " job begin --daemon-socket " + daemon.socket);
  CHECK(outside.exit_code == 1);
  CHECK(outside.output.find("is not in a build this daemon records") != std::string::npos);
  CHECK(std::count(outside.output.begin(), outside.output.end(), '\n') == 1);
  const auto absent =
      testing::run_command("BUILDTRAIL_DAEMON_SOCKET=" + root + "/none.sock " + hooks + "/buildtrail-job begin");
  CHECK(absent.exit_code == 0);
  CHECK(absent.output.find("no daemon at " + root + "/none.sock") != std::string::npos);
  // Garbage on the socket: an error reply, and the daemon goes on.
  const auto garbage = testing::run_command(
      "printf 'not json\\n' | python3 -c \"import socket,sys; s=socket.socket(socket.AF_UNIX); "
      "s.connect('" +
      daemon.socket +
      "'); s.sendall(sys.stdin.buffer.read()); "
      "print(s.makefile().readline())\"");
  CHECK(garbage.output.find("\"ok\":false") != std::string::npos);
  CHECK(garbage.output.find("not a JSON object") != std::string::npos);
  CHECK(daemon.stop() == 0);

  const auto evs = read_events(daemon.events);
  for (const std::string id : {"5151", "6262"}) {
    const std::string other = id == "5151" ? "6262" : "5151";
    const auto job = of_build(evs, id + ".1");
    INFO("job " << id);
    // One build record from the started hook to the completed hook, for
    // both steps and the hooks (without hooks: one per step).
    CHECK(count_of<events::BuildStart>(job) == 1);
    CHECK(count_of<events::BuildEnd>(job) == 1);
    for (const std::string marker : {"STEP1-", "STEP2-", "LATE-"})
      CHECK_MESSAGE(
          std::any_of(job.begin(), job.end(), [&](const events::Event* e) { return exec_mentions(e, marker + id); }),
          marker);
    CHECK(std::none_of(job.begin(), job.end(), [&](const events::Event* e) {
      return exec_mentions(e, "STEP1-" + other) || exec_mentions(e, "STEP2-" + other) ||
             exec_mentions(e, "LATE-" + other);
    }));
    // Step 1's credential and its runner's environment (where the job's
    // tokens are), and the process that outlived the job. (Under `make
    // asan` the hooks' agent adds ptrace attaches: LeakSanitizer's exit
    // check stops its threads that way.)
    std::multiset<std::string> rules;
    for (const auto* e : job)
      if (const auto* x = std::get_if<events::SecretAccess>(&e->body); x && x->rule != "ptrace-attach")
        rules.insert(x->rule);
    CHECK(rules.size() == 3);
    CHECK(rules.count("ci-runner-environ") == 1);
  }
  CHECK(daemon.logged("job github ci/build 5151.1 begun"));
  CHECK(daemon.logged("job github ci/build 6262.1 ended"));
  // A step cannot move its events under another name.
  CHECK(daemon.logged("`job begin` does not rename it"));
  for (const auto& e : read_events(daemon.events)) CHECK(!e.build.id.starts_with("forged-"));
  for (const auto& e : evs) CHECK(!e.build.ci.empty());
}

TEST_CASE("daemon: GitLab's pre_build_script begins a job its later stages join; without `job end` it ends when idle") {
  const std::string root = testing::make_temp_dir("daemon-gitlab-hooks");
  Daemon daemon(root, "--job-idle 1");
  REQUIRE(daemon.started());
  const std::string hooks = install_hooks(root);
  REQUIRE(testing::run_command("chmod -R a+rX " + root).exit_code == 0);
  // prepare, then the script stage (pre_build_script first; the job fails,
  // so post_build_script is skipped), then after_script.
  FakeRunner gitlab(root, "gitlab-runner", "gitlab",
                    "/bin/echo STAGE-PREPARE\n---\n" + hooks +
                        "/buildtrail-job begin\n/bin/echo STAGE-SCRIPT\n---\n"
                        "/bin/echo STAGE-AFTER",
                    {"FAKE_STEP_BUILDTRAIL_DAEMON_SOCKET=" + daemon.socket});
  gitlab.start(daemon);
  CHECK(gitlab.wait() == 0);
  CHECK(wait_until([&] { return daemon.logged("ended: no process of it left, and no `job end`"); }, 15000));
  CHECK(daemon.stop() == 0);

  const auto evs = read_events(daemon.events);
  const auto job = of_build(evs, "8080");
  // The prepare stage is a build of its own; the script and after_script
  // stages are one job, ended by idleness with an unknown status. Each
  // build_start waited for its stage's CI_* variables, so it is named.
  CHECK(bodies<events::BuildStart>(evs).size() == 2);
  CHECK(count_of<events::BuildStart>(job) == 2);
  const auto ends = bodies<events::BuildEnd>(evs);
  REQUIRE(ends.size() == 2);
  CHECK(ends[0]->exit_code == 0);
  CHECK(ends[1]->exit_code == -1);
  for (const std::string marker : {"STAGE-PREPARE", "STAGE-SCRIPT", "STAGE-AFTER"})
    CHECK_MESSAGE(std::any_of(job.begin(), job.end(), [&](const events::Event* e) { return exec_mentions(e, marker); }),
                  marker);
  CHECK(daemon.logged("job begin from pid"));
}

TEST_CASE(
    "daemon: one Jenkins agent, two executors at once: re-parented durable-task steps and their dontKillMe daemons "
    "never mix") {
  const std::string root = testing::make_temp_dir("daemon-executors");
  const std::string cred = fake_credential(root);
  Daemon daemon(root, "");
  REQUIRE(daemon.started());
  // Each step: a marker, a child, and a process that escapes Jenkins'
  // reaper and reads the credential after its step ended.
  std::string steps;
  for (const std::string n : {"0", "1"}) {
    if (!steps.empty()) steps += "\n---\n";
    steps += "/bin/echo EXECUTOR-" + n + "\nsh -c '/bin/true CHILD-" + n +
             "'\n"
             "JENKINS_NODE_COOKIE=dontKillMe nohup sh -c 'sleep 1; /bin/echo DAEMON-" +
             n + "; cat " + cred + " >/dev/null' >/dev/null 2>&1 &\nsleep 0.5\nexit " +
             std::to_string(3 + std::stoi(n));
  }
  FakeRunner jenkins(root, "java", "jenkins", steps);
  jenkins.start(daemon);
  CHECK(jenkins.wait() == 3);  // the first executor's step status, from its result file
  CHECK(wait_until([&] { return testing::run_command("pgrep -f 'DAEMON[-]'").exit_code != 0; }, 15000));
  ::usleep(300000);
  CHECK(daemon.stop() == 0);

  const auto evs = read_events(daemon.events);
  for (const std::string n : {"0", "1"}) {
    const std::string other = n == "0" ? "1" : "0";
    const std::string tag = "jenkins-app-main-" + std::to_string(7 + std::stoi(n));
    const auto build = of_build(evs, tag);
    INFO(tag);
    for (const std::string marker : {"EXECUTOR-", "CHILD-", "DAEMON-"})
      CHECK_MESSAGE(
          std::any_of(build.begin(), build.end(), [&](const events::Event* e) { return exec_mentions(e, marker + n); }),
          marker);
    CHECK(std::none_of(build.begin(), build.end(), [&](const events::Event* e) {
      return exec_mentions(e, "EXECUTOR-" + other) || exec_mentions(e, "CHILD-" + other) ||
             exec_mentions(e, "DAEMON-" + other);
    }));
    CHECK(count_of<events::SecretAccess>(build) == 1);  // by the daemonised process, after the step
    CHECK(count_of<events::BuildStart>(build) == 1);
    // The step's own status is in its `sh -xe` process's exit (the build's
    // first process is durable-task's launcher, which exits at once).
    CHECK(std::any_of(build.begin(), build.end(), [&](const events::Event* e) {
      const auto* x = std::get_if<events::ProcessExit>(&e->body);
      return x && x->exit_code == 3 + std::stoi(n);
    }));
  }
  for (const auto& e : evs) CHECK(e.build.ci == "jenkins");
}

TEST_CASE(
    "daemon: Azure's Agent.Worker -> node -> bash, Buildkite's start -> bootstrap, GitHub's Listener -> Worker -> node "
    "action") {
  const std::string root = testing::make_temp_dir("daemon-trees");
  const std::string cred = fake_credential(root);
  Daemon daemon(root, "");
  REQUIRE(daemon.started());
  FakeRunner azure(root, "Agent.Worker", "azure", "/bin/echo AZURE-STEP; cat " + cred + " >/dev/null");
  FakeRunner buildkite(root, "buildkite-agent", "buildkite", "/bin/echo BUILDKITE-STEP; cat " + cred + " >/dev/null");
  FakeRunner listener(
      root, "Runner.Listener", "github-listener",
      "/bin/echo GITHUB-STEP\n---\n#node import os; os.system('/bin/echo GITHUB-ACTION; cat " + cred + " >/dev/null')");
  azure.start(daemon);
  buildkite.start(daemon);
  listener.go_on();  // the listener starts no builds; its worker is found by name at exec
  CHECK(azure.wait() == 0);
  CHECK(buildkite.wait() == 0);
  CHECK(listener.wait() == 0);
  ::usleep(300000);
  CHECK(daemon.stop() == 0);

  const auto evs = read_events(daemon.events);
  const std::string all = slurp(daemon.events);
  CHECK(all.find("bkua_FAKEfake") == std::string::npos);
  CHECK(all.find("FAKEfakeAzureAccessToken") == std::string::npos);
  struct Want {
    std::string marker, ci, id, job;
  };
  for (const Want& w :
       {Want{"AZURE-STEP", "azure", "777", "app-ci/Build"},
        Want{"BUILDKITE-STEP", "buildkite", "0190a1b2-c3d4-4e5f-8a9b-0c1d2e3f4a5b", "app/test"},
        Want{"GITHUB-STEP", "github", "5151.1", "ci/build"}, Want{"GITHUB-ACTION", "github", "5151.1", "ci/build"}}) {
    INFO(w.marker);
    const events::Event* exec = nullptr;
    for (const auto& e : evs)
      if (exec_mentions(&e, w.marker)) exec = &e;
    REQUIRE(exec != nullptr);
    CHECK(exec->build.ci == w.ci);
    CHECK(exec->build.id == w.id);
    CHECK(exec->build.job == w.job);
  }
  // Each job's credential read, attributed to its job.
  std::multiset<std::string> readers;
  for (const auto& e : evs)
    if (std::holds_alternative<events::SecretAccess>(e.body)) readers.insert(e.build.ci);
  CHECK(readers == std::multiset<std::string>{"azure", "buildkite", "github"});
  // The action's node is the runner's own, under the worker.
  CHECK(std::any_of(evs.begin(), evs.end(), [](const events::Event& e) {
    return std::holds_alternative<events::ProcessExec>(e.body) && e.process.exe.ends_with("python3.11") &&
           e.build.ci == "github" && exec_mentions(&e, "GITHUB-ACTION");
  }));
}

namespace {

// A runner that forks its first build step at once, as an ephemeral agent
// handed a job at start does: dash named `fastrunner` (its task name;
// /usr/bin/dash its executable) with `jar` among its arguments runs
// `/bin/echo MARKER-EARLY` first thing, then after a second
// `/bin/echo MARKER-LATE`. Returns the argv[1] of the steps' execs the
// sensor put in a build, and in *early_us how long after the runner's
// start its first step exec'd. Runners the kernel asks about are confirmed
// from /proc as the daemon does (match_runner, add_runner).
std::set<std::string> fast_runner_steps(const std::vector<agent::ebpf::RunnerComm>& comms, const std::string& dir,
                                        const std::string& marker, const std::string& jar, uint64_t* early_us) {
  agent::ebpf::Options o;
  o.runner_comms = comms;
  auto sensor = agent::ebpf::Sensor::start(o);
  REQUIRE_MESSAGE(sensor.ok(), (sensor ? "" : sensor.error().message));
  const auto rules = agent::attribution::parse_runners("test:fastrunner:agent.jar,test:dash:agent.jar").value();
  const std::string exe = dir + "/fastrunner";
  REQUIRE(testing::run_command("ln -sf /bin/dash " + exe).exit_code == 0);
  const std::string script = "/bin/echo " + marker + "-EARLY; sleep 1; /bin/echo " + marker + "-LATE; exit 0";
  const uint64_t started = clock::now_ns();
  const pid_t runner = ::fork();
  REQUIRE(runner >= 0);
  if (runner == 0) {
    ::execl(exe.c_str(), "fastrunner", "-c", script.c_str(), jar.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  std::set<std::string> steps;
  const agent::ebpf::Clock clock;
  const agent::ebpf::Sensor::RecordHandler on_record = [&](std::span<const uint8_t> bytes) {
    auto r = agent::ebpf::decode(bytes, clock);
    if (!r) return;
    if (const auto* x = std::get_if<agent::ebpf::RunnerExec>(&*r)) {
      if (!x->confirmed && agent::attribution::match_runner(rules, x->pid)) CHECK((*sensor)->add_runner(x->pid).ok());
    } else if (const auto* b = std::get_if<agent::ebpf::Observed>(&*r); b && b->where.build.root_pid != 0) {
      const auto* e = std::get_if<agent::capture::Exec>(&b->what);
      if (e && e->argv.size() == 2 && e->argv[1].starts_with(marker)) {
        steps.insert(e->argv[1]);
        if (e->argv[1].ends_with("-EARLY") && early_us) *early_us = (e->time_ns - started) / 1000;
      }
    }
  };
  int status = 0;
  for (int i = 0; i < 50 && ::waitpid(runner, &status, WNOHANG) == 0; ++i)
    REQUIRE((*sensor)->poll(100, on_record).ok());
  REQUIRE((*sensor)->poll(100, on_record).ok());
  CHECK(WIFEXITED(status));
  return steps;
}

}  // namespace

TEST_CASE("sensor: a runner forking a build step within a millisecond of its exec is recognised in the kernel") {
  using agent::ebpf::RunnerComm;
  const std::string dir = testing::make_temp_dir("sensor-fast-runner");
  const std::set<std::string> both{"K-EARLY", "K-LATE"};
  uint64_t early_us = 0;
  // By task name and argument (a Jenkins agent: java ... agent.jar), a
  // path ending in it included: both steps, the first from its fork on.
  CHECK(fast_runner_steps({RunnerComm{"fastrunner", false, {"agent.jar"}, false}}, dir, "K", "/opt/ci/agent.jar",
                          &early_us) == both);
  MESSAGE("the first step exec'd " << early_us << " us after the runner was forked");
  // By the executable's file name (dash), the task name being another.
  CHECK(fast_runner_steps({RunnerComm{"dash", false, {"agent.jar"}, false}}, dir, "K", "agent.jar", nullptr) == both);
  // Another argument (or only a name ending like it) is not the runner.
  CHECK(fast_runner_steps({RunnerComm{"fastrunner", false, {"agent.jar"}, false}}, dir, "N", "/opt/ci/my-agent.jar",
                          nullptr)
            .empty());
  // The path before: user space confirms the runner from /proc after the
  // ring is read, too late for the step forked at once; the later one is
  // attributed. (Rules with a cgroup still go this way.)
  CHECK(fast_runner_steps({RunnerComm{"fastrunner", false, {}, true}}, dir, "U", "/opt/ci/agent.jar", nullptr) ==
        std::set<std::string>{"U-LATE"});
}

TEST_CASE("daemon: a build step a runner forks at once is attributed (runner matched by argument in the kernel)") {
  const std::string root = testing::make_temp_dir("daemon-fast-runner");
  Daemon daemon(root, "--runner jenkins:fastrunner:agent.jar");
  REQUIRE(daemon.started());
  const auto run = testing::run_command(
      "ln -sf /bin/dash " + root + "/fastrunner && env -i PATH=/usr/bin:/bin JENKINS_URL=http://jenkins.test:8080/ " +
      "JOB_NAME=fast BUILD_NUMBER=1 BUILD_TAG=jenkins-fast-1 " + root +
      "/fastrunner -c '/bin/echo FAST-STEP; exit 0' " + root + "/agent.jar");
  REQUIRE(run.exit_code == 0);
  ::usleep(300000);
  CHECK(daemon.stop() == 0);
  CHECK(daemon.logged("(matched in the kernel)"));
  const auto evs = read_events(daemon.events);
  const events::Event* step = nullptr;
  for (const auto& e : evs)
    if (exec_mentions(&e, "FAST-STEP")) step = &e;
  REQUIRE_MESSAGE(step != nullptr, slurp(daemon.log));
  CHECK(step->build.ci == "jenkins");
  CHECK(step->build.id == "jenkins-fast-1");
  CHECK(count_of<events::BuildStart>(of_build(evs, "jenkins-fast-1")) == 1);
}

TEST_CASE("daemon: stdio at exec, a payload piped into a shell and a shell on a TCP socket, as `run` records them") {
  const std::string root = testing::make_temp_dir("daemon-stdio");
  Listener peer;
  UnixListener unix_peer(root + "/peer.sock");
  const std::string script = stdio_script(root, peer.port);
  Daemon daemon(root, "--runner jenkins:fastrunner:agent.jar");
  REQUIRE(daemon.started());
  const auto run = testing::run_command("ln -sf /bin/dash " + root + "/fastrunner && env -i PATH=/usr/bin:/bin " +
                                        "JENKINS_URL=http://jenkins.test:8080/ BUILD_TAG=jenkins-stdio-1 " + root +
                                        "/fastrunner -c '" + script + "; exit 0' " + root + "/agent.jar");
  INFO(run.output);
  REQUIRE(run.exit_code == 0);
  ::usleep(300000);
  CHECK(daemon.stop() == 0);
  std::vector<events::Event> build;
  for (auto& e : read_events(daemon.events))
    if (e.build.id == "jenkins-stdio-1") build.push_back(std::move(e));
  check_stdio_events(build, peer.port, root);
}

// Issue 18/7: a build step reading its runner's memory or environment (the
// tj-actions/changed-files theft) is `ci-runner-mem` / `ci-runner-environ`
// with the runner's executable in both modes, whether it opens its /proc
// files or reads its memory by process_vm_readv or ptrace attach
// (wrap_helper reach). The daemon decodes records after the fact, when a
// runner may be gone: the kernel reads the target at the call and both
// modes classify those facts the same way.
TEST_CASE("daemon and run classify reads of a runner's memory and environment alike") {
  const std::string root = testing::make_temp_dir("daemon-parity");
  const std::string helper = testing::env_or("BUILDTRAIL_WRAP_HELPER", "");
  REQUIRE(!helper.empty());
  Daemon daemon(root, "");
  REQUIRE(daemon.started());
  // A runner standing by (never started), read by a step under each mode.
  FakeRunner standing(root + "/standing", "Runner.Worker", "github", "/bin/true", {}, "-standing");
  const std::string target = std::to_string(standing.pid);
  const auto reads_of = [&](const std::string& pid) {
    return "cat /proc/" + pid + "/environ >/dev/null; exec 3</proc/" + pid + "/mem; exec 3<&-; " + helper + " reach " +
           pid;
  };
  const std::string reads = reads_of(target) + "; cat /proc/" + target + "/maps >/dev/null";
  // Under the daemon the step also reads its own runner, which exits at
  // once after the step: gone before its records are decoded.
  FakeRunner runner(root, "Runner.Worker", "github", reads + "; " + reads_of("$PPID"));
  const std::string runner_pid = std::to_string(runner.pid);
  runner.start(daemon);
  CHECK(runner.wait() == 0);
  CHECK(wait_until([&] { return slurp(daemon.events).find("\"build_end\"") != std::string::npos; }, 15000));
  CHECK(daemon.stop() == 0);

  const std::string run_events = root + "/run.jsonl";
  const auto wrapped = testing::run_command(agent_bin() + " run --state-dir " + root + "/run-state --events-out " +
                                            run_events + " -- /bin/bash -c '" + reads + "'");
  REQUIRE_MESSAGE(wrapped.exit_code == 0, wrapped.output);

  const std::string python = std::filesystem::canonical("/usr/bin/python3").string();
  const auto accesses = [&](const std::string& file, const std::string& pid) {
    std::string out;  // one line per access
    const auto evs = read_events(file);
    for (const auto* s : bodies<events::SecretAccess>(evs))
      if (std::to_string(s->target_pid) == pid)
        out += s->rule + " " + s->secret_class + " " + s->access + " " + s->path + " " + s->target_exe + "\n";
    return out;
  };
  const auto by_daemon = accesses(daemon.events, target);
  const auto by_run = accesses(run_events, target);
  const auto runner_reads = [&](const std::string& pid) {
    const std::string proc = "/proc/" + pid;
    return "ci-runner-environ ci_runner proc_environ " + proc + "/environ " + python + "\n" +
           "ci-runner-mem ci_runner proc_mem " + proc + "/mem " + python + "\n" +
           "ci-runner-mem ci_runner process_vm_readv " + proc + " " + python + "\n" +
           "ci-runner-mem ci_runner ptrace_attach " + proc + " " + python + "\n";
  };
  const std::string expected =
      runner_reads(target) + "proc-maps process_memory proc_maps /proc/" + target + "/maps " + python + "\n";
  CHECK(by_daemon == expected);
  CHECK(by_run == expected);
  CHECK(accesses(daemon.events, runner_pid) == runner_reads(runner_pid));
}

// Issue 18/5: failed attempts. The wrap helper's refused-opens (a missing
// credential file, a readable one, then that file and the helper's memory
// refused to a child that became nobody), and a relative open of a missing
// credential file: each a secret_access with the errno the step saw.
TEST_CASE("daemon: failed credential opens and refused reads of another process are secret accesses with the errno") {
  const std::string root = testing::make_temp_dir("daemon-refused");
  REQUIRE(testing::run_command("mkdir -p " + root + "/home/.aws " + root + "/rel/.aws " + root +
                               "/locked/.aws && echo x > " + root + "/home/.aws/credentials && chmod 600 " + root +
                               "/home/.aws/credentials && echo x > " + root + "/locked/.aws/credentials")
              .exit_code == 0);
  Daemon daemon(root, "");
  REQUIRE(daemon.started());
  const std::string helper = testing::env_or("BUILDTRAIL_WRAP_HELPER", "");
  REQUIRE(!helper.empty());
  const std::string attempts = root + "/attempts";
  FakeRunner runner(root, "Runner.Worker", "github",
                    helper + " refused-opens " + root + " >" + attempts + "; cd " + root +
                        "/rel/.aws && { cat credentials 2>/dev/null || true; } && { cat " + root +
                        "/rel/no-such-file-at-all 2>/dev/null || true; }");
  runner.start(daemon);
  CHECK(runner.wait() == 0);
  CHECK(wait_until([&] { return slurp(daemon.events).find("\"build_end\"") != std::string::npos; }, 15000));
  CHECK(daemon.stop() == 0);
  std::string expected;
  {
    std::istringstream lines(slurp(attempts));
    for (std::string line; std::getline(lines, line);) {
      const std::size_t space = line.rfind(' ');
      REQUIRE(space != std::string::npos);
      const bool proc = line.starts_with("/proc/");
      expected += std::string(proc ? "proc-mem" : "aws-credentials") + " " + line + "\n";
    }
  }
  expected += "aws-credentials " + root + "/rel/.aws/credentials " + std::to_string(-ENOENT) + "\n";
  std::string seen;
  const auto evs = read_events(daemon.events);
  for (const auto* s : bodies<events::SecretAccess>(evs))
    seen += s->rule + " " + s->path + " " + std::to_string(s->result) + "\n";
  CHECK(seen == expected);
  CHECK(expected.find(" " + std::to_string(-ENOENT) + "\n") != std::string::npos);
  CHECK(expected.find(" 0\n") != std::string::npos);
  CHECK(expected.find(" " + std::to_string(-EACCES) + "\n") != std::string::npos);
}

// Issue 18/6: the daemon's metadata access carries the destination, the
// name the build resolved (from its DNS answers, as net_connect's
// dns_name) and the endpoint that matched, here one configured by name.
TEST_CASE("daemon: a metadata endpoint given by name is found by the name the build resolved") {
  DnsServer dns;  // answers 127.0.0.1 to every name
  Listener imds;
  const std::string root = testing::make_temp_dir("daemon-imds-name");
  {
    std::ofstream f(root + "/imds.py");
    f << resolve_and_connect_py("imds.build.test", imds.port);
  }
  REQUIRE(testing::run_command("chmod -R a+rX " + root).exit_code == 0);
  Daemon daemon(root, "--metadata-endpoints IMDS.build.test");
  REQUIRE(daemon.started());
  FakeRunner runner(root, "Runner.Worker", "github", "/usr/bin/python3 " + root + "/imds.py");
  runner.start(daemon);
  CHECK(runner.wait() == 0);
  CHECK(wait_until([&] { return slurp(daemon.events).find("\"build_end\"") != std::string::npos; }, 15000));
  CHECK(daemon.stop() == 0);
  const auto evs = read_events(daemon.events);
  const auto accesses = bodies<events::SecretAccess>(evs);
  REQUIRE(accesses.size() == 1);
  const auto* s = accesses[0];
  CHECK(s->rule == "cloud-metadata");
  CHECK(s->access == "metadata_connect");
  CHECK(s->dest_ip == "127.0.0.1");
  CHECK(s->dest_port == static_cast<uint64_t>(imds.port));
  CHECK(s->dest_name == "imds.build.test");
  CHECK(s->endpoint == "IMDS.build.test");
}

TEST_CASE("daemon: file writes on the watch list, hashed at close; FIFOs not opened; written_by on an exec") {
  const std::string root = testing::make_temp_dir("daemon-files");
  const std::string ws = root + "/ws";
  REQUIRE(testing::run_command("mkdir -p " + ws + " && echo 'export A=1' > " + root + "/.bashrc && mkfifo " + root +
                               "/.profile && echo 'int x;' > " + ws + "/src.c")
              .exit_code == 0);
  Daemon daemon(root, "--watch-workspace '*.c'");
  REQUIRE(daemon.started());
  const std::string script = "cd " + ws +
                             " && mkdir -p .github/workflows && printf 'on: push\\n' > .github/workflows/ci.yml"
                             " && echo 'alias ls=rm' >> " +
                             root +
                             "/.bashrc && echo 'int y;' > src.c && echo 'int z;' > new.c && echo 'int w;' > new.c"
                             " && cp /bin/true payload.tmp && mv payload.tmp payload && chmod +x payload && ./payload"
                             " && exec 3<>" +
                             root +
                             "/.profile && exec 3>&- && echo x > .github/workflows/tmp.yml"
                             " && mv .github/workflows/tmp.yml .github/workflows/old.yml"
                             " && rm .github/workflows/old.yml && printf 'exit 0\\n' > drop.sh && sh drop.sh"
                             " && /bin/true FILES-DONE";
  // The workspace is the folder the build starts in: the runner's here.
  const std::string test_cwd = std::filesystem::current_path();
  std::filesystem::current_path(ws);
  FakeRunner jenkins(root, "java", "jenkins", script);
  std::filesystem::current_path(test_cwd);
  jenkins.start(daemon);
  CHECK(jenkins.wait() == 0);
  CHECK(daemon.stop() == 0);
  const auto evs = read_events(daemon.events);
  REQUIRE(has_argv(evs, "FILES-DONE"));
  // In the order they happened (a write is reported once its writer
  // exited, with the time of its open).
  std::vector<std::pair<uint64_t, std::string>> timed;
  std::string ci_sha, bashrc_type, fifo_type, fifo_sha = "unset";
  for (const auto& e : evs) {
    const auto* w = std::get_if<events::FileWrite>(&e.body);
    if (!w) continue;
    timed.emplace_back(
        e.time_ns, w->operation + " " + w->path + (w->new_path.empty() ? "" : " -> " + w->new_path) + " " + w->rule);
    if (w->path == ws + "/.github/workflows/ci.yml" && w->operation == "create") ci_sha = w->sha256;
    if (w->path == root + "/.bashrc") bashrc_type = w->file_type;
    if (w->path == root + "/.profile") {
      fifo_type = w->file_type;
      fifo_sha = w->sha256;
    }
  }
  std::stable_sort(timed.begin(), timed.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<std::string> seen;
  std::string listed;
  for (const auto& [t, line] : timed) {
    seen.push_back(line);
    listed += line + "\n";
  }
  INFO(listed);
  INFO(slurp(daemon.log));
  CHECK(seen == std::vector<std::string>{
                    "create " + ws + "/.github/workflows/ci.yml ci-config",
                    "write " + root + "/.bashrc shell-rc",
                    "truncate " + ws + "/src.c workspace",  // existed before the build; new.c is the build's own
                    "write " + root + "/.profile shell-rc",
                    "create " + ws + "/.github/workflows/tmp.yml ci-config",
                    "rename " + ws + "/.github/workflows/tmp.yml -> " + ws + "/.github/workflows/old.yml ci-config",
                    "unlink " + ws + "/.github/workflows/old.yml ci-config",
                });
  // printf 'on: push\n' | sha256sum
  CHECK(ci_sha == "b602f7ad4316adfd9f3e5ca998773702a5db1a1f1599a14516f40101665fb6d2");
  CHECK(bashrc_type == "regular");
  CHECK(fifo_type == "fifo");
  CHECK(fifo_sha.empty());
  // The payload's exec names the cp that wrote it.
  std::string cp_key, written_by, shell_key, script_by = "unset";
  for (const auto& e : evs)
    if (const auto* x = std::get_if<events::ProcessExec>(&e.body)) {
      if (!x->argv.empty() && x->argv[0] == "cp") cp_key = e.process.key;
      if (!x->argv.empty() && x->argv.back().find("FILES-DONE") != std::string::npos) shell_key = e.process.key;
      if (x->argv == std::vector<std::string>{"sh", "drop.sh"}) script_by = x->written_by;
      if (e.process.exe == ws + "/payload") written_by = x->written_by;
      if (!x->argv.empty() && x->argv[0] == "/bin/true") CHECK(x->written_by.empty());
    }
  CHECK_FALSE(cp_key.empty());
  CHECK(written_by == cp_key);
  // An interpreter's script: from the kernel's map, looked up by the agent.
  CHECK_FALSE(shell_key.empty());
  CHECK(script_by == shell_key);
}

// Issue 18/4: the daemon reads a process's CPU times and peak RSS in the
// kernel at its exit (the thread group's, not its children's).
TEST_CASE("daemon: process_exit carries the process's own CPU times and peak RSS") {
  const std::string root = testing::make_temp_dir("daemon-usage");
  {
    std::ofstream f(root + "/burn.py");
    f << kBurnPy;
  }
  REQUIRE(testing::run_command("chmod -R a+rX " + root).exit_code == 0);
  Daemon daemon(root, "");
  REQUIRE(daemon.started());
  FakeRunner runner(root, "Runner.Worker", "github", "/usr/bin/python3 " + root + "/burn.py");
  runner.start(daemon);
  CHECK(runner.wait() == 0);
  CHECK(wait_until([&] { return slurp(daemon.events).find("\"build_end\"") != std::string::npos; }, 15000));
  CHECK(daemon.stop() == 0);
  const auto evs = read_events(daemon.events);
  check_burn_exits(burn_exits(evs));
}

// Issue 18/7: one scripted build under `run` and under `daemon`, compared
// kind by kind and field by field. What legitimately differs is set
// aside: times, pids, host and agent id; process keys (pid and start time)
// are replaced by the argv of the process's first exec, so a tree compares
// by shape; a pipe's or socket's inode; CPU times and peak RSS (the two
// modes measure them differently, see process_exit). build_start and
// build_end differ by design (mode, command; the daemon's build also holds
// the runner's own step shell), and so do events of the step's ancestors.
namespace {

// The parity script: execs, a pipeline in a subshell (its members' parent
// is the subshell, which never execs), a credential read, a metadata
// endpoint connected by name (a DNS lookup first), an upload, a watched
// file write and a read of a runner's memory.
std::string parity_script(const std::string& root, int upload_port, pid_t runner) {
  const std::string mem = "/proc/" + std::to_string(runner) + "/mem";
  return "/bin/echo PARITY-START\n"
         "( /bin/echo hello | /usr/bin/tr a-z A-Z | /bin/cat >/dev/null )\n"
         "/bin/cat $HOME/.aws/credentials >/dev/null\n"
         "/usr/bin/python3 " +
         root +
         "/imds.py\n"
         "/usr/bin/curl -s -m 1 -H Expect: -T " +
         root + "/artifact.txt http://127.0.0.1:" + std::to_string(upload_port) +
         "/up/a.txt >/dev/null || true\n"
         // An artifact the build makes, then uploads: its writer is named (BT-27).
         "/usr/bin/tr a-y A-Y <" +
         root + "/artifact.txt >built.txt\n" +
         "/usr/bin/curl -s -m 1 -H Expect: -T built.txt http://127.0.0.1:" + std::to_string(upload_port) +
         "/up/b.txt >/dev/null || true\n"
         "mkdir -p .github/workflows && printf 'on: push\\n' > .github/workflows/ci.yml\n"
         "exec 3<" +
         mem +
         "; exec 3<&-\n"
         // Opened by the forked child before it execs tr: still the shell.
         "/usr/bin/tr a b </proc/" +
         std::to_string(runner) +
         "/environ | /bin/cat >/dev/null\n"
         "/bin/echo PARITY-END\n";
}

// The GitHub variables fake_runner.py gives its steps, for `run`.
const char* kGithubStepEnv =
    "GITHUB_ACTIONS=true GITHUB_RUN_ID=5151 GITHUB_RUN_ATTEMPT=1 GITHUB_RUN_NUMBER=3 GITHUB_WORKFLOW=ci "
    "GITHUB_JOB=build GITHUB_REPOSITORY=example/app GITHUB_SERVER_URL=https://github.com "
    "GITHUB_SHA=0123456789abcdef0123456789abcdef01234567 RUNNER_NAME=runner-1";

// The events of the subtree rooted at the exec of `root_argv`, each as its
// JSON line with what legitimately differs between modes cleared, sorted;
// then the pipes between its processes.
std::vector<std::string> normalized_trail(const std::vector<events::Event>& evs,
                                          const std::vector<std::string>& root_argv) {
  std::map<std::string, std::string> parent, name;
  std::string root;
  std::map<std::string, int> seen_names;
  for (const auto& e : evs) {
    if (!e.process.key.empty() && !e.process.parent_key.empty()) parent.emplace(e.process.key, e.process.parent_key);
    const auto* x = std::get_if<events::ProcessExec>(&e.body);
    if (!x || name.count(e.process.key)) continue;
    if (root.empty() && x->argv == root_argv) root = e.process.key;
    std::string n;
    for (const auto& a : x->argv) n += (n.empty() ? "" : " ") + a;
    const int k = seen_names[n]++;
    name[e.process.key] = k ? n + " #" + std::to_string(k + 1) : n;
  }
  REQUIRE_MESSAGE(!root.empty(), "no exec of the parity script");
  const auto in_subtree = [&](std::string key) {
    for (int hops = 0; hops < 64 && !key.empty(); ++hops) {
      if (key == root) return true;
      auto it = parent.find(key);
      if (it == parent.end()) return false;
      key = it->second;
    }
    return false;
  };
  // A process that never exec'd (the subshell) is named after its first
  // named child.
  std::map<std::string, std::string> unnamed;
  for (const auto& e : evs)
    if (!name.count(e.process.parent_key) && name.count(e.process.key) && !e.process.parent_key.empty()) {
      auto& n = unnamed[e.process.parent_key];
      const std::string candidate = "parent of (" + name[e.process.key] + ")";
      if (n.empty() || candidate < n) n = candidate;
    }
  const auto canon = [&](const std::string& key) -> std::string {
    if (key.empty()) return "";
    if (auto it = name.find(key); it != name.end()) return it->second;
    if (auto it = unnamed.find(key); it != unnamed.end()) return it->second;
    return "unknown";
  };
  std::set<std::string> pipes;
  // A pipe's peer is known to the member that execs second, whichever
  // that is (a race in either mode): pipes compare as unordered pairs.
  const auto clear_stdio = [&](const std::string& me, events::Stdio& s) {
    if (!s.peer_key.empty()) {
      const auto a = canon(me), b = canon(s.peer_key);
      pipes.insert(std::min(a, b) + " | " + std::max(a, b));
    }
    s.inode = 0;
    s.peer_key.clear();
  };
  std::vector<std::string> out;
  for (events::Event e : evs) {
    if (!in_subtree(e.process.key)) continue;
    if (std::holds_alternative<events::BuildStart>(e.body) || std::holds_alternative<events::BuildEnd>(e.body))
      continue;
    e.time_ns = 0;
    e.host.clear();
    e.agent_id.clear();
    e.process.pid = e.process.ppid = 0;
    if (auto* x = std::get_if<events::ProcessExec>(&e.body)) {
      clear_stdio(e.process.key, x->stdin_fd);
      clear_stdio(e.process.key, x->stdout_fd);
      clear_stdio(e.process.key, x->stderr_fd);
      x->written_by = canon(x->written_by);
    }
    if (auto* u = std::get_if<events::ArtifactUpload>(&e.body))
      for (auto& f : u->files) f.written_by = canon(f.written_by);
    if (auto* x = std::get_if<events::ProcessExit>(&e.body))
      x->duration_ns = x->user_ns = x->system_ns = x->peak_rss_bytes = 0;
    // The script's own parent is the runner's step shell or the agent.
    e.process.parent_key = e.process.key == root ? "" : canon(e.process.parent_key);
    e.process.key = canon(e.process.key);
    out.push_back(events::to_json(e));
  }
  for (const auto& p : pipes) out.push_back("pipe " + p);
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

TEST_CASE("daemon and run: one scripted build gives the same trail, kind by kind and field by field") {
  DnsServer dns;  // answers 127.0.0.1 to every name
  Listener imds, upload;
  const std::string root = testing::make_temp_dir("parity");
  const std::string home = root + "/home", ws = root + "/ws";
  make_home(home);
  REQUIRE(testing::run_command("mkdir -p " + ws + " && echo artifact > " + root + "/artifact.txt").exit_code == 0);
  {
    std::ofstream f(root + "/imds.py");
    f << resolve_and_connect_py("imds.build.test", imds.port);
  }
  FakeRunner standing(root + "/standing", "Runner.Worker", "github", "/bin/true", {}, "-standing");
  {
    std::ofstream f(root + "/parity.sh");
    f << parity_script(root, upload.port, standing.pid);
  }
  REQUIRE(testing::run_command("chmod -R a+rX " + root).exit_code == 0);
  const std::vector<std::string> root_argv{"/bin/bash", root + "/parity.sh"};
  const std::string flags = "--metadata-endpoints imds.build.test";

  Daemon daemon(root, flags);
  REQUIRE(daemon.started());
  const std::string test_cwd = std::filesystem::current_path();
  std::filesystem::current_path(ws);
  FakeRunner runner(root, "Runner.Worker", "github", "/bin/bash " + root + "/parity.sh", {"HOME=" + home});
  std::filesystem::current_path(test_cwd);
  runner.start(daemon);
  CHECK(runner.wait() == 0);
  CHECK(wait_until([&] { return slurp(daemon.events).find("\"build_end\"") != std::string::npos; }, 15000));
  CHECK(daemon.stop() == 0);
  const auto by_daemon = normalized_trail(read_events(daemon.events), root_argv);
  // Every part of the script is in the trail being compared.
  const auto has = [&](const std::string& text) {
    return std::any_of(by_daemon.begin(), by_daemon.end(),
                       [&](const std::string& l) { return l.find(text) != std::string::npos; });
  };
  for (const char* kind : {"process_exec", "process_exit", "net_connect", "dns_query", "artifact_upload", "file_write"})
    CHECK_MESSAGE(has("{\"kind\":\"" + std::string(kind) + "\""), kind);
  CHECK(has("\"parent_key\":\"parent of (/bin/cat)\""));  // the pipeline's subshell
  CHECK(has("\"rule\":\"aws-credentials\""));
  CHECK(has("\"rule\":\"ci-runner-mem\""));
  // Opened by a child that has not exec'd yet: the shell's program, its parent the script.
  CHECK(has("\"key\":\"/usr/bin/tr a b\",\"parent_key\":\"/bin/bash " + root +
            "/parity.sh\",\"exe\":\"/usr/bin/bash\",\"uid\":0},\"data\":{\"rule\":\"ci-runner-environ\""));
  CHECK(has("\"dest_name\":\"imds.build.test\""));
  CHECK(has("pipe /bin/echo hello | /usr/bin/tr a-z A-Z"));
  // The artifact the build wrote names its writer: the shell that redirected tr's output.
  CHECK(has("\"path\":\"" + ws + "/built.txt\",\"size\":9,\"sha256\":\""));
  CHECK(has("\"written_by\":\"/usr/bin/tr a-y A-Y\"}]"));

  for (const std::string tree : {"detached", "ptrace"}) {
    CAPTURE(tree);
    // The same starting point for `run`: its write creates the file again.
    REQUIRE(testing::run_command("rm -rf " + ws + "/.github").exit_code == 0);
    const std::string run_events = root + "/run-" + tree + ".jsonl";
    const auto wrapped = testing::run_command(
        "cd " + ws + " && env -i PATH=/usr/bin:/bin HOME=" + home + " " + kGithubStepEnv + " " +
        std::filesystem::absolute(agent_bin()).string() + " run --wrap-tree " + tree + " " + flags + " --state-dir " +
        root + "/run-state --events-out " + run_events + " -- /bin/bash " + root + "/parity.sh");
    REQUIRE_MESSAGE(wrapped.exit_code == 0, wrapped.output);
    const auto by_run = normalized_trail(read_events(run_events), root_argv);
    std::string only_daemon, only_run;
    for (const auto& l : by_daemon)
      if (!std::binary_search(by_run.begin(), by_run.end(), l)) only_daemon += l + "\n";
    for (const auto& l : by_run)
      if (!std::binary_search(by_daemon.begin(), by_daemon.end(), l)) only_run += l + "\n";
    INFO("only under the daemon:\n" << only_daemon);
    INFO("only under run:\n" << only_run);
    CHECK(by_daemon == by_run);
  }
}
