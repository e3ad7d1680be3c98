// The enrichment pipeline's secret accesses to other processes, against
// real processes named like CI runners (/bin/sh under the runner's name).
#include <doctest/doctest.h>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "agent/enrich/pipeline.h"
#include "common/events/json.h"
#include "common/fs.h"
#include "tests/common/test_util.h"

using namespace bt;
using namespace bt::agent;

namespace {

// A shell that sleeps, started as `name` with `extra` arguments; killed on
// destruction with its sleep (its own process group), which would otherwise
// hold the test's output open.
struct Process {
  pid_t pid = -1;

  Process(const std::string& dir, const std::string& name, const std::vector<std::string>& extra = {}) {
    const std::string exe = dir + "/" + name;
    std::error_code ec;
    std::filesystem::create_symlink("/bin/sh", exe, ec);
    REQUIRE(!ec);
    std::vector<std::string> args = {name, "-c", "sleep 30; true"};
    args.insert(args.end(), extra.begin(), extra.end());
    pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
      ::setpgid(0, 0);
      std::vector<char*> argv;
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      ::execv(exe.c_str(), argv.data());
      ::_exit(127);
    }
    // Until exec, the child is this test under its name.
    const std::string comm = "/proc/" + std::to_string(pid) + "/comm";
    for (int i = 0; i < 500; ++i) {
      auto text = fs::read_file(comm, 64);
      if (text && *text == name + "\n") return;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    FAIL("the child did not exec as " << name);
  }
  ~Process() {
    if (pid > 0) {
      ::kill(-pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
    }
  }
};

struct Reads {
  std::vector<events::SecretAccess> seen;
  enrich::Pipeline pipeline;

  Reads()
      : pipeline(config(), [this](events::Event&& e) {
          if (auto* s = std::get_if<events::SecretAccess>(&e.body)) seen.push_back(*s);
        }) {
    pipeline.build_start({"make"}, "/", "wrap");
  }
  static enrich::Config config() {
    enrich::Config c;
    c.secret_rules = secrets::default_rules();
    return c;
  }
  // This test process opens /proc/<target>/<file>.
  void open(pid_t target, const std::string& file) {
    capture::Open o;
    o.time_ns = 1;
    o.pid = static_cast<uint64_t>(::getpid());
    o.path = "/proc/" + std::to_string(target) + "/" + file;
    pipeline.on(o);
  }
};

}  // namespace

TEST_CASE("reads of a CI runner's environ and mem are ci_runner accesses; other processes' are process_memory") {
  const std::string dir = testing::make_temp_dir("pipeline");
  {
    Process listener(dir, "Runner.Listener", {"run"});
    Process jenkins(dir, "java", {"-jar", "/home/jenkins/agent.jar", "-name", "n"});
    Process other(dir, "builder");
    Reads r;

    r.open(listener.pid, "environ");
    r.open(jenkins.pid, "mem");
    r.open(listener.pid, "maps");
    r.open(other.pid, "environ");
    r.open(::getpid(), "environ");  // its own: not an access
    REQUIRE(r.seen.size() == 4);

    const std::string sh = std::filesystem::canonical("/bin/sh").string();
    CHECK(r.seen[0].rule == "ci-runner-environ");
    CHECK(r.seen[0].secret_class == "ci_runner");
    CHECK(r.seen[0].access == "proc_environ");
    CHECK(r.seen[0].target_pid == static_cast<uint64_t>(listener.pid));
    CHECK(r.seen[0].target_exe == sh);
    CHECK(r.seen[0].path == "/proc/" + std::to_string(listener.pid) + "/environ");

    CHECK(r.seen[1].rule == "ci-runner-mem");
    CHECK(r.seen[1].secret_class == "ci_runner");
    CHECK(r.seen[1].access == "proc_mem");

    // maps is the memory's layout, not its content.
    CHECK(r.seen[2].rule == "proc-maps");
    CHECK(r.seen[2].secret_class == "process_memory");

    CHECK(r.seen[3].rule == "proc-environ");
    CHECK(r.seen[3].secret_class == "process_memory");
    CHECK(r.seen[3].target_pid == static_cast<uint64_t>(other.pid));
  }
  std::filesystem::remove_all(dir);
}

TEST_CASE("a read of a runner that is gone by the time it is enriched is classified from the capture's facts") {
  // The daemon decodes a record after the open returned: the target may
  // have exited (its pid even reused). Its task name, executable and start
  // time came with the open (capture::ProcTarget), and the same rules
  // decide as for `run`, which reads them from /proc while the open waits.
  Reads r;
  const auto open_gone = [&](const std::string& file, capture::ProcTarget t) {
    capture::Open o;
    o.time_ns = 1;
    o.pid = static_cast<uint64_t>(::getpid());
    o.path = "/proc/" + std::to_string(t.pid) + "/" + file;
    o.target = std::move(t);
    r.pipeline.on(o);
  };
  constexpr uint64_t kGone = 4194303;  // above any pid this test host hands out in its run
  open_gone("mem", {kGone, 12345, "Runner.Worker", "/opt/actions-runner/bin/Runner.Worker", false});
  open_gone("environ", {kGone, 12345, "node", "/opt/actions-runner/bin/Runner.Worker", false});  // by its exe
  // java needs its arguments, which a gone process no longer shows...
  open_gone("environ", {kGone, 12345, "java", "/usr/bin/java", false});
  // ...unless the capture tracks it as a runner (it confirmed it then).
  open_gone("environ", {kGone, 12345, "java", "/usr/bin/java", true});
  open_gone("mem", {kGone, 12345, "builder", "/usr/bin/builder", false});
  REQUIRE(r.seen.size() == 5);
  CHECK(r.seen[0].rule == "ci-runner-mem");
  CHECK(r.seen[0].secret_class == "ci_runner");
  CHECK(r.seen[0].target_pid == kGone);
  CHECK(r.seen[0].target_exe == "/opt/actions-runner/bin/Runner.Worker");
  CHECK(r.seen[1].rule == "ci-runner-environ");
  CHECK(r.seen[2].rule == "proc-environ");
  CHECK(r.seen[3].rule == "ci-runner-environ");
  CHECK(r.seen[4].rule == "proc-mem");
  CHECK(r.seen[4].secret_class == "process_memory");
  CHECK(r.seen[4].target_exe == "/usr/bin/builder");
}

TEST_CASE(
    "failed attempts: refused or missing credential files and refused reads of another process count, with the errno") {
  Reads r;
  const auto open = [&](const std::string& path, int64_t result, std::optional<capture::ProcTarget> target = {}) {
    capture::Open o;
    o.time_ns = 1;
    o.pid = static_cast<uint64_t>(::getpid());
    o.path = path;
    o.result = result;
    o.target = std::move(target);
    r.pipeline.on(o);
    // What the wrap notifier asks before it waits for a result.
    return r.pipeline.wants_result(o);
  };
  CHECK(open("/home/u/.aws/credentials", -ENOENT));
  CHECK(open("/home/u/.aws/credentials", -EACCES));
  CHECK(open("/home/u/.aws/credentials", 0));
  CHECK(open("/home/u/.aws/credentials", -EISDIR));  // another failure: not an attempt counted
  CHECK_FALSE(open("/home/u/src/main.c", -ENOENT));  // no rule
  constexpr uint64_t kOther = 4194303;
  const capture::ProcTarget t{kOther, 12345, "builder", "/usr/bin/builder", false};
  CHECK(open("/proc/" + std::to_string(kOther) + "/mem", -EPERM, t));
  CHECK(open("/proc/" + std::to_string(kOther) + "/environ", -ENOENT, t));     // no such process: not counted
  CHECK_FALSE(open("/proc/" + std::to_string(::getpid()) + "/mem", -EACCES));  // its own
  REQUIRE(r.seen.size() == 4);
  CHECK(r.seen[0].rule == "aws-credentials");
  CHECK(r.seen[0].access == "open_read");
  CHECK(r.seen[0].result == -ENOENT);
  CHECK(r.seen[1].result == -EACCES);
  CHECK(r.seen[2].result == 0);
  CHECK(r.seen[3].rule == "proc-mem");
  CHECK(r.seen[3].target_exe == "/usr/bin/builder");
  CHECK(r.seen[3].result == -EPERM);
}

TEST_CASE("a metadata access names its destination, the name the build resolved, and the endpoint that matched") {
  enrich::Config c;
  c.secret_rules = secrets::default_rules();
  c.metadata_endpoints = {"imds.example.test"};
  std::vector<events::SecretAccess> seen;
  std::vector<events::NetConnect> connects;
  enrich::Pipeline p(c, [&](events::Event&& e) {
    if (auto* s = std::get_if<events::SecretAccess>(&e.body)) seen.push_back(*s);
    if (auto* n = std::get_if<events::NetConnect>(&e.body)) connects.push_back(*n);
  });
  p.build_start({"make"}, "/", "wrap");
  const auto resolve = [&](const std::string& name, const std::string& address) {
    capture::Dns d;
    d.pid = 10;
    d.name = name;
    d.qtype = "A";
    d.rcode = "NOERROR";
    d.answers = d.addresses = {address};
    p.on(d);
  };
  const auto connect = [&](const std::string& daddr, uint64_t port) {
    capture::Connect k;
    k.pid = 10;
    k.protocol = "tcp";
    k.daddr = daddr;
    k.dport = port;
    p.on(k);
  };
  resolve("metadata.google.internal", "169.254.169.254");
  connect("169.254.169.254", 80);             // by address, with the name used
  connect("fd00:ec2::254", 80);               // by address, no name resolved
  resolve("imds.example.test", "127.0.0.5");  // a configured name
  connect("127.0.0.5", 8080);
  resolve("www.example.test", "127.0.0.6");
  connect("127.0.0.6", 443);  // neither
  REQUIRE(seen.size() == 3);
  CHECK(connects.size() == 4);
  CHECK(seen[0].rule == "cloud-metadata");
  CHECK(seen[0].access == "metadata_connect");
  CHECK(seen[0].path == "169.254.169.254:80");
  CHECK(seen[0].dest_ip == "169.254.169.254");
  CHECK(seen[0].dest_port == 80);
  CHECK(seen[0].dest_name == "metadata.google.internal");
  CHECK(seen[0].endpoint == "169.254.169.254");
  CHECK(seen[1].dest_ip == "fd00:ec2::254");
  CHECK(seen[1].dest_name.empty());
  CHECK(seen[1].endpoint == "fd00:ec2::254");
  CHECK(seen[2].dest_ip == "127.0.0.5");
  CHECK(seen[2].dest_port == 8080);
  CHECK(seen[2].dest_name == "imds.example.test");
  CHECK(seen[2].endpoint == "imds.example.test");
  CHECK(seen[2].secret_class == "metadata_endpoint");
}

TEST_CASE("java is a runner only as the Jenkins agent") {
  const std::string dir = testing::make_temp_dir("pipeline");
  {
    Process app(dir, "java", {"-jar", "app.jar"});
    Reads r;
    r.open(app.pid, "environ");
    REQUIRE(r.seen.size() == 1);
    CHECK(r.seen[0].rule == "proc-environ");
    CHECK(r.seen[0].secret_class == "process_memory");
  }
  std::filesystem::remove_all(dir);
}

namespace {

capture::Exec exec_of(uint64_t pid, const std::string& arg) {
  capture::Exec x;
  x.time_ns = 1;
  x.pid = pid;
  x.exe = "/bin/true";
  x.argv = {"true", arg};
  return x;
}

}  // namespace

TEST_CASE("build_start waits until the build is named; what came before carries the name") {
  std::vector<events::Event> out;
  enrich::Pipeline p({}, [&](events::Event&& e) { out.push_back(std::move(e)); });
  p.build_start_when_named("/work", "daemon", 5, 3);
  p.on(exec_of(10, "before"));
  CHECK(out.empty());  // held: no name yet
  events::Build gitlab;
  gitlab.ci = "gitlab";
  gitlab.id = "8080";
  p.attribute_late(gitlab);
  p.on(exec_of(11, "after"));
  REQUIRE(out.size() == 3);
  CHECK(out[0].kind() == events::Kind::build_start);
  for (const auto& e : out) CHECK(e.build.id == "8080");

  // Never named: it starts after its budget of execs, unnamed.
  std::vector<events::Event> unnamed;
  enrich::Pipeline q({}, [&](events::Event&& e) { unnamed.push_back(std::move(e)); });
  q.build_start_when_named("/work", "daemon", 5, 2);
  q.on(exec_of(20, "one"));
  CHECK(unnamed.empty());
  q.on(exec_of(21, "two"));
  REQUIRE(unnamed.size() == 3);
  CHECK(unnamed[0].kind() == events::Kind::build_start);
  CHECK(unnamed[0].build.ci.empty());

  // Or it ends first: build_start still comes first.
  std::vector<events::Event> ended;
  enrich::Pipeline r({}, [&](events::Event&& e) { ended.push_back(std::move(e)); });
  r.build_start_when_named("/work", "daemon", 5, 32);
  r.on(exec_of(30, "only"));
  r.build_end(0, 0);
  REQUIRE(ended.size() == 3);
  CHECK(ended[0].kind() == events::Kind::build_start);
  CHECK(ended[2].kind() == events::Kind::build_end);
}

TEST_CASE("stdio at exec: a pipe's ends name each other's process, whichever exec'd first") {
  std::vector<events::Event> out;
  enrich::Pipeline p({}, [&](events::Event&& e) { out.push_back(std::move(e)); });
  p.build_start({"sh", "script.sh"}, "/work", "wrap");
  auto exec = [&](uint64_t pid, std::array<capture::StdioFd, 3> stdio) -> events::ProcessExec {
    capture::Exec x = exec_of(pid, "x");
    x.start_ns = pid * 1000;
    x.stdio = stdio;
    p.on(x);
    return std::get<events::ProcessExec>(out.back().body);
  };
  const capture::StdioFd tty{"tty", 0, ""};
  // `curl ... | sh`, the reader first: it cannot know its writer yet; the
  // writer names it.
  const auto& sh = exec(40, {capture::StdioFd{"pipe", 700, ""}, tty, tty});
  CHECK(sh.stdin_fd.kind == "pipe");
  CHECK(sh.stdin_fd.inode == 700);
  CHECK(sh.stdin_fd.peer_key.empty());
  CHECK(sh.stdout_fd.kind == "tty");
  const auto& curl = exec(41, {tty, capture::StdioFd{"pipe", 700, ""}, tty});
  CHECK(curl.stdout_fd.peer_key == "40-40000");
  // The writer first, the reader names it; stderr into the pipe too (2>&1).
  exec(50, {tty, capture::StdioFd{"pipe", 800, ""}, capture::StdioFd{"pipe", 800, ""}});
  const auto& reader = exec(51, {capture::StdioFd{"pipe", 800, ""}, tty, tty});
  CHECK(reader.stdin_fd.peer_key == "50-50000");
  // A middle member names both neighbours; a process is never its own peer.
  const auto& middle = exec(52, {capture::StdioFd{"pipe", 800, ""}, capture::StdioFd{"pipe", 900, ""}, tty});
  CHECK(middle.stdin_fd.peer_key == "50-50000");
  CHECK(middle.stdout_fd.peer_key.empty());
  const auto& self = exec(60, {capture::StdioFd{"pipe", 1000, ""}, capture::StdioFd{"pipe", 1000, ""}, tty});
  CHECK(self.stdin_fd.peer_key.empty());
  CHECK(self.stdout_fd.peer_key.empty());
  // A socket keeps its peer address; a descriptor not recorded stays out of the JSON.
  const auto& shell = exec(70, {capture::StdioFd{"socket", 5, "127.0.0.1:4444"}, capture::StdioFd{}, tty});
  CHECK(shell.stdin_fd.remote == "127.0.0.1:4444");
  CHECK(shell.stdin_fd.inode == 5);
  const std::string line = events::to_json(out.back());
  CHECK(line.find("\"stdin_fd\":{\"kind\":\"socket\",\"inode\":5,\"remote\":\"127.0.0.1:4444\"}") != std::string::npos);
  CHECK(line.find("stdout_fd") == std::string::npos);
}
