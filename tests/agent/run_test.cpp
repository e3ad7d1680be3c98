// `buildtrail-agent run` end to end: the real agent binary wraps real
// commands and delivers to the real collector over loopback HTTP.
#include <arpa/inet.h>
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <thread>

#include "common/events/json.h"
#include "common/fs.h"
#include "tests/agent/capture_fixtures.h"
#include "tests/collector/collector_process.h"

using namespace bt;
using namespace bt::testing::capture;
namespace sfs = std::filesystem;

namespace {

std::string github_env(const std::string& run_id) {
  return "env -i PATH=/usr/bin:/bin GITHUB_ACTIONS=true GITHUB_RUN_ID=" + run_id +
         " GITHUB_RUN_ATTEMPT=1 GITHUB_RUN_NUMBER=7 GITHUB_WORKFLOW=ci GITHUB_JOB=build"
         " GITHUB_REPOSITORY=example/app GITHUB_SERVER_URL=https://github.com"
         " GITHUB_SHA=0123456789abcdef0123456789abcdef01234567 RUNNER_NAME=runner-1 ";
}

}  // namespace

TEST_CASE("a wrapped build step is recorded, redacted, delivered and keeps its exit status") {
  testing::CollectorData d("run");
  testing::CollectorProcess c(d.data);
  REQUIRE(c.running());
  const std::string token = d.token();
  const std::string home = d.root + "/home";
  REQUIRE(system(("mkdir -p " + home + "/.aws && printf '[default]\\naws_access_key_id = " + kFakeAwsKey + "\\n' > " +
                  home + "/.aws/credentials")
                     .c_str()) == 0);
  Listener registry;
  const std::string events_out = d.root + "/events.jsonl";
  const std::string script =
      "cat $HOME/.aws/credentials >/dev/null; cd $HOME/.aws && cat credentials >/dev/null; "
      "exec 3<>/dev/tcp/127.0.0.1/" +
      std::to_string(registry.port) +
      "; "
      "echo --token=" +
      kFakeGithubToken + " >/dev/null; /bin/echo --token " + kFakeGithubToken + " >/dev/null; exit 7";
  const auto r =
      testing::run_command(github_env("4242") + "HOME=" + home + " " + agent_bin() + " run --state-dir " + d.root +
                           "/state --collector " + c.url("") + " --enroll-token " + token + " --batch-max-age-ms 100" +
                           " --events-out " + events_out + " -- /bin/bash -c '" + script + "'");
  INFO(r.output);
  CHECK(r.exit_code == 7);

  const auto evs = read_events(events_out);
  REQUIRE(evs.size() > 5);
  CHECK(evs.front().kind() == events::Kind::build_start);
  CHECK(evs.back().kind() == events::Kind::build_end);
  for (const auto& e : evs) {
    CHECK(e.build.ci == "github");
    CHECK(e.build.id.find("4242") != std::string::npos);
  }
  CHECK(std::get<events::BuildEnd>(evs.back().body).exit_code == 7);
  CHECK(std::get<events::BuildStart>(evs.front().body).mode == "wrap");

  const auto secrets = bodies<events::SecretAccess>(evs);
  REQUIRE(secrets.size() == 2);  // by absolute and by relative path
  for (const auto* s : secrets) {
    CHECK(s->path == home + "/.aws/credentials");
    CHECK(s->secret_class == "cloud");
    CHECK(s->access == "open_read");
  }
  const auto connects = bodies<events::NetConnect>(evs);
  REQUIRE(connects.size() == 1);
  CHECK(connects[0]->daddr == "127.0.0.1");
  CHECK(connects[0]->dport == static_cast<uint64_t>(registry.port));
  const auto execs = bodies<events::ProcessExec>(evs);
  bool saw_echo = false;
  for (const auto* x : execs) {
    if (!x->argv.empty() && x->argv[0] == "/bin/echo") {
      saw_echo = true;
      CHECK(x->argv[1] == "--token");
      CHECK(x->argv[2].find("[REDACTED:") == 0);
    }
    CHECK_FALSE(x->exe_sha256.empty());
  }
  CHECK(saw_echo);
  // No fixture secret survives anywhere in what the agent wrote.
  const std::string raw = slurp(events_out);
  CHECK(raw.find(kFakeGithubToken) == std::string::npos);
  CHECK(raw.find(kFakeAwsKey) == std::string::npos);

  // Delivered: the collector has the same build and its events.
  const auto q = testing::run_command(testing::build_path("collector/buildtrail-collector") + " query --data " +
                                      d.data + " --ci-build 4242.1 --format jsonl");
  INFO(q.output);
  CHECK(q.exit_code == 0);
  CHECK(std::count(q.output.begin(), q.output.end(), '\n') == static_cast<long>(evs.size()));
  CHECK(q.output.find(kFakeGithubToken) == std::string::npos);
}

TEST_CASE("several runs at once share one state folder without breaking the chain") {
  testing::CollectorData d("run-par");
  testing::CollectorProcess c(d.data);
  const std::string token = d.token(10);
  std::vector<std::thread> runs;
  std::vector<int> codes(4, -1);
  for (int i = 0; i < 4; ++i)
    runs.emplace_back([&, i] {
      codes[i] = testing::run_command(
                     github_env("90" + std::to_string(i)) + agent_bin() + " run --state-dir " + d.root +
                     "/state --collector " + c.url("") + " --enroll-token " + token +
                     " --batch-max-age-ms 50 -- /bin/sh -c 'for n in 1 2 3 4 5; do /bin/true $n; done; exit " +
                     std::to_string(i) + "'")
                     .exit_code;
    });
  for (auto& t : runs) t.join();
  for (int i = 0; i < 4; ++i) CHECK(codes[i] == i);
  const auto agents =
      testing::run_command(testing::build_path("collector/buildtrail-collector") + " agents list --data " + d.data);
  INFO(agents.output);
  const auto id = slurp(d.root + "/state/agent.id");
  REQUIRE_FALSE(id.empty());
  CHECK(d.findings(id.substr(0, id.find_last_not_of("\n") + 1)).empty());
  const auto builds =
      testing::run_command(testing::build_path("collector/buildtrail-collector") + " builds --data " + d.data);
  for (int i = 0; i < 4; ++i) CHECK(builds.output.find("90" + std::to_string(i) + ".1") != std::string::npos);
}

TEST_CASE("setup failures: unknown command, capture refused, --allow-unmonitored") {
  const std::string root = testing::make_temp_dir("run-fail");
  const std::string base = agent_bin() + " run --state-dir " + root + "/state ";
  auto missing = testing::run_command(base + "-- /nonexistent/tool");
  CHECK(missing.exit_code == 127);
  CHECK(missing.output.find("/nonexistent/tool") != std::string::npos);

  // A run inside a run whose outer agent keeps every process ptraced
  // (BUILDTRAIL_WRAP_TREE=ptrace): the inner agent cannot trace, so it
  // refuses to run the command... The inner agent is itself traced, where
  // LeakSanitizer cannot work (asan builds).
  const std::string ptraced = "BUILDTRAIL_WRAP_TREE=ptrace " + base;
  const std::string inner = "env ASAN_OPTIONS=detect_leaks=0 " + agent_bin();
  auto nested = testing::run_command(ptraced + "-- " + inner + " run --state-dir " + root +
                                     "/inner -- /bin/sh -c 'echo SHOULD-NOT-RUN'");
  INFO(nested.output);
  CHECK(nested.exit_code == 125);
  CHECK(nested.output.find("SHOULD-NOT-RUN") == std::string::npos);
  CHECK(nested.output.find("cannot trace") != std::string::npos);
  // ...unless told to run it unmonitored, which is recorded.
  const std::string out = root + "/inner.jsonl";
  auto allowed = testing::run_command(ptraced + "-- " + inner + " run --allow-unmonitored --state-dir " + root +
                                      "/inner --events-out " + out + " -- /bin/sh -c 'exit 5'");
  INFO(allowed.output);
  CHECK(allowed.exit_code == 5);
  const auto evs = read_events(out);
  REQUIRE_FALSE(evs.empty());
  CHECK(std::get<events::BuildStart>(evs.front().body).mode == "unmonitored");
}

TEST_CASE("a run inside a run: both record the inner build") {
  const std::string root = testing::make_temp_dir("run-nested");
  const std::string outer_out = root + "/outer.jsonl", inner_out = root + "/inner.jsonl";
  auto nested = testing::run_command(agent_bin() + " run --state-dir " + root + "/outer --events-out " + outer_out +
                                     " -- " + agent_bin() + " run --state-dir " + root + "/inner --events-out " +
                                     inner_out + " -- /bin/sh -c 'echo nested-marker; exit 4'");
  INFO(nested.output);
  CHECK(nested.exit_code == 4);
  CHECK(nested.output.find("nested-marker") != std::string::npos);
  for (const std::string& out : {outer_out, inner_out}) {
    INFO(out);
    bool saw = false;
    for (const auto& e : read_events(out))
      if (const auto* x = std::get_if<events::ProcessExec>(&e.body))
        saw |= std::find(x->argv.begin(), x->argv.end(), "echo nested-marker; exit 4") != x->argv.end();
    CHECK(saw);
  }
}

TEST_CASE("SIGTERM to the agent reaches the build, and the agent exits with the build's status") {
  const std::string root = testing::make_temp_dir("run-sig");
  const std::string ready = root + "/ready";
  const std::string script = "trap 'exit 9' TERM; echo up > " + ready + "; while :; do /bin/sleep 0.05; done";
  const pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    const std::string bin = agent_bin();
    const std::string state = root + "/state";
    ::execl(bin.c_str(), bin.c_str(), "run", "--state-dir", state.c_str(), "--", "/bin/sh", "-c", script.c_str(),
            static_cast<char*>(nullptr));
    ::_exit(99);
  }
  for (int i = 0; i < 200 && ::access(ready.c_str(), F_OK) != 0; ++i) ::usleep(20000);
  REQUIRE(::access(ready.c_str(), F_OK) == 0);
  ::kill(pid, SIGTERM);
  int status = 0;
  ::waitpid(pid, &status, 0);
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 9);
}

TEST_CASE("exec completeness: the (exe, argv) set equals strace -f's on exec_storm") {
  const std::string bench = shared_bench();
  const std::string root = testing::make_temp_dir("run-execs");
  const std::string work = root + "/work";
  const std::string env = "env EXEC_STORM_ITER=25 BENCH_WORKDIR=" + work + " ";
  const std::string workload = "/bin/bash " + bench + "/workloads/exec_storm.sh";
  REQUIRE(testing::run_command("mkdir -p " + work + " && " + env +
                               "strace -f -qq -xx -v -s 65536 -e trace=execve -e signal=none -o " + root +
                               "/strace.log " + workload)
              .exit_code == 0);
  REQUIRE(testing::run_command("rm -rf " + work + " && mkdir -p " + work).exit_code == 0);
  const auto r = testing::run_command(env + agent_bin() + " run --state-dir " + root + "/state --events-out " + root +
                                      "/events.jsonl -- " + workload);
  REQUIRE_MESSAGE(r.exit_code == 0, r.output);
  const auto evs = read_events(root + "/events.jsonl");
  const auto theirs = strace_execs(root + "/strace.log");
  CHECK(theirs.size() == 25 * 12 + 3);
  check_same_execs(exec_set(pointers(evs)), theirs);
}

TEST_CASE("secret-access completeness: all 147 credential opens of file_storm, relative ones included") {
  const std::string bench = shared_bench();
  const std::string root = testing::make_temp_dir("run-creds");
  REQUIRE(testing::run_command(bench + "/workloads/_fakehome.sh " + root + "/home").exit_code == 0);
  const auto r =
      testing::run_command("env " + std::string(kSmallFileStorm) + " BENCH_WORKDIR=" + root + " BENCH_HOME=" + root +
                           "/home " + agent_bin() + " run --state-dir " + root + "/state --events-out " + root +
                           "/events.jsonl -- /bin/bash " + bench + "/workloads/file_storm.sh");
  REQUIRE_MESSAGE(r.exit_code == 0, r.output);
  const auto evs = read_events(root + "/events.jsonl");
  check_file_storm_secrets(pointers(evs), root + "/home");
}

TEST_CASE("uploads and metadata endpoints") {
  const std::string root = testing::make_temp_dir("run-upload");
  REQUIRE(testing::run_command("printf 'hello\\n' > " + root + "/artifact.txt").exit_code == 0);
  Listener registry;
  const std::string out = root + "/events.jsonl";
  const auto r = testing::run_command(
      "cd " + root + " && " + agent_bin() + " run --state-dir " + root + "/state --events-out " + out +
      " --metadata-endpoint 127.0.0.9 -- /bin/bash -c 'curl -s -m 2 -H Expect: -T artifact.txt "
      "http://user:hunter2-not-real@127.0.0.1:" +
      std::to_string(registry.port) +
      "/up/artifact.txt; printf world > built.txt; curl -s -m 2 -H Expect: -T built.txt http://127.0.0.1:" +
      std::to_string(registry.port) + "/up/built.txt; (exec 3<>/dev/tcp/127.0.0.9/80) 2>/dev/null; true'");
  INFO(r.output);
  CHECK(r.exit_code == 0);
  const auto evs = read_events(out);
  const auto ups = bodies<events::ArtifactUpload>(evs);
  REQUIRE(ups.size() == 2);
  CHECK(ups[0]->tool == "curl");
  CHECK(ups[0]->destination.find("127.0.0.1:" + std::to_string(registry.port)) != std::string::npos);
  REQUIRE(ups[0]->files.size() == 1);
  CHECK(ups[0]->files[0].path == root + "/artifact.txt");
  CHECK(ups[0]->files[0].size == 6);
  CHECK(ups[0]->files[0].sha256 == "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03");
  CHECK(ups[0]->files[0].written_by.empty());  // there before the build
  // Made by the build (the shell's printf), then uploaded: its writer named.
  REQUIRE(ups[1]->files.size() == 1);
  CHECK(ups[1]->files[0].path == root + "/built.txt");
  std::string shell;
  for (const auto& e : evs)
    if (const auto* x = std::get_if<events::ProcessExec>(&e.body); x && !x->argv.empty() && x->argv[0] == "/bin/bash")
      shell = e.process.key;
  CHECK(!shell.empty());
  CHECK(ups[1]->files[0].written_by == shell);
  CHECK(slurp(out).find("hunter2-not-real") == std::string::npos);
  bool metadata = false;
  for (const auto* s : bodies<events::SecretAccess>(evs))
    if (s->access == "metadata_connect") {
      metadata = true;
      CHECK(s->secret_class == "metadata_endpoint");
      CHECK(s->path == "127.0.0.9:80");
      CHECK(s->dest_ip == "127.0.0.9");
      CHECK(s->dest_port == 80);
      CHECK(s->dest_name.empty());  // connected by address
      CHECK(s->endpoint == "127.0.0.9");
    }
  CHECK(metadata);
}

TEST_CASE("a metadata endpoint given by name is found by the name the build resolved") {
  DnsServer dns;  // answers 127.0.0.1 to every name
  Listener imds;
  const std::string root = testing::make_temp_dir("run-imds-name");
  const std::string out = root + "/events.jsonl";
  {
    std::ofstream f(root + "/imds.py");
    f << resolve_and_connect_py("imds.build.test", imds.port);
  }
  const auto r = testing::run_command(agent_bin() + " run --state-dir " + root + "/state --events-out " + out +
                                      " --metadata-endpoint IMDS.build.test -- python3 " + root + "/imds.py");
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  const auto evs = read_events(out);
  const auto accesses = bodies<events::SecretAccess>(evs);
  REQUIRE(accesses.size() == 1);
  const auto* s = accesses[0];
  CHECK(s->rule == "cloud-metadata");
  CHECK(s->secret_class == "metadata_endpoint");
  CHECK(s->access == "metadata_connect");
  CHECK(s->path == "127.0.0.1:" + std::to_string(imds.port));
  CHECK(s->dest_ip == "127.0.0.1");
  CHECK(s->dest_port == static_cast<uint64_t>(imds.port));
  CHECK(s->dest_name == "imds.build.test");
  CHECK(s->endpoint == "IMDS.build.test");
}

TEST_CASE("DNS questions and answers, and the name on the connect that follows") {
  DnsServer dns;
  Listener web;
  const std::string root = testing::make_temp_dir("run-dns");
  const std::string out = root + "/events.jsonl";
  // A resolver's two shapes: a connected socket (send/recvmsg) and an
  // unconnected one (sendto/recvfrom); then a connect to the answer.
  const std::string py =
      "import socket, struct\n"
      "def q(i, name):\n"
      "    return struct.pack('>HHHHHH', i, 0x0100, 1, 0, 0, 0) + b''.join(bytes([len(p)]) + p.encode() for p in "
      "name.split('.')) + b'\\0\\0\\1\\0\\1'\n"
      "s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
      "s.connect(('127.0.0.77', 53)); s.send(q(7, 'registry.example.test')); s.recvmsg(512)\n"
      "s.send(q(9, 'tcp.example.test')); s.recv(512)  # no source address: not a resolver's read\n"
      "u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
      "u.sendto(q(8, 'Mirror.Example.TEST'), ('127.0.0.77', 53)); u.recvfrom(512)\n"
      "t = socket.create_connection(('127.0.0.1', " +
      std::to_string(web.port) + ")); t.close()\n";
  {
    std::ofstream f(root + "/dns.py");
    f << py;
  }
  const auto r = testing::run_command(agent_bin() + " run --state-dir " + root + "/state --events-out " + out +
                                      " -- python3 " + root + "/dns.py");
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  const auto evs = read_events(out);
  const auto qs = bodies<events::DnsQuery>(evs);
  REQUIRE(qs.size() == 2);
  CHECK(qs[0]->name == "registry.example.test");
  CHECK(qs[0]->qtype == "A");
  CHECK(qs[0]->server == "127.0.0.77");
  CHECK(qs[0]->rcode == "NOERROR");
  CHECK(qs[0]->answers == std::vector<std::string>{"127.0.0.1"});
  CHECK(qs[1]->name == "mirror.example.test");
  CHECK(qs[1]->answers == std::vector<std::string>{"127.0.0.1"});
  bool named = false;
  for (const auto* c : bodies<events::NetConnect>(evs))
    if (c->dport == static_cast<uint64_t>(web.port)) {
      named = true;
      CHECK(c->dns_name == "mirror.example.test");  // the latest name resolved to it
    }
  CHECK(named);
}

TEST_CASE("extra secret rules and metadata endpoints from the configuration") {
  const std::string root = testing::make_temp_dir("run-rules");
  {
    std::ofstream rules(root + "/rules");
    rules << "# site rules\nbuild-token ci_runner .build-token\n";
    std::ofstream bad(root + "/bad-rules");
    bad << "build-token nonsense .build-token\n";
    std::ofstream toml(root + "/agent.toml");
    toml << "[secrets]\nrules_file = \"" << root << "/rules\"\nmetadata_endpoints = \"127.0.0.10, 127.0.0.11\"\n";
  }
  REQUIRE(testing::run_command("echo fake > " + root + "/.build-token").exit_code == 0);
  const std::string out = root + "/events.jsonl";
  const auto r = testing::run_command(agent_bin() + " run --config " + root + "/agent.toml --state-dir " + root +
                                      "/state --events-out " + out + " -- /bin/bash -c 'cat " + root +
                                      "/.build-token >/dev/null; (exec 3<>/dev/tcp/127.0.0.11/80) 2>/dev/null; true'");
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  std::vector<std::string> rules;
  const auto evs = read_events(out);
  for (const auto* s : bodies<events::SecretAccess>(evs)) rules.push_back(s->rule + ":" + s->access);
  CHECK(rules == std::vector<std::string>{"build-token:open_read", "cloud-metadata:metadata_connect"});

  const auto bad = testing::run_command(agent_bin() + " run --secret-rules " + root + "/bad-rules --state-dir " + root +
                                        "/state -- /bin/true");
  CHECK(bad.exit_code == 2);
  CHECK(bad.output.find("bad-rules") != std::string::npos);
  CHECK(bad.output.find("line 1") != std::string::npos);
}

namespace {

std::size_t lines_in(const std::string& text) {
  return static_cast<std::size_t>(std::count(text.begin(), text.end(), '\n'));
}

bool has(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

unsigned mode_of(const std::string& path) {
  struct stat st {};
  REQUIRE(::lstat(path.c_str(), &st) == 0);
  return st.st_mode & 07777;
}

}  // namespace

TEST_CASE("a state folder or key another user could control is refused with one line naming it") {
  const std::string root = testing::make_temp_dir("state-trust");
  const std::string out = root + "/events.jsonl";
  auto run_in = [&](const std::string& state) {
    return testing::run_command(agent_bin() + " run --state-dir " + state + " --events-out " + out + " -- /bin/true");
  };
  // The attack: another user made the folder first, open to all, with a
  // key of their own that they can read (and so sign as this agent with).
  const std::string theirs = root + "/theirs";
  REQUIRE(testing::run_command(agent_bin() + " keygen --out " + theirs).exit_code == 0);
  REQUIRE(::chmod(theirs.c_str(), 0777) == 0);
  REQUIRE(::chmod((theirs + "/agent.key").c_str(), 0666) == 0);
  const bool root_user = ::geteuid() == 0;
  if (root_user) REQUIRE(testing::run_command("chown -R 65534:65534 " + theirs).exit_code == 0);
  auto r = run_in(theirs);
  INFO(r.output);
  CHECK(r.exit_code == 125);  // nothing ran
  CHECK(lines_in(r.output) == 1);
  CHECK(has(r.output, theirs + (root_user ? ": owned by uid 65534, not by the running user (uid 0)"
                                          : ": writable by group or others (mode 0777)")));
  CHECK_FALSE(sfs::exists(theirs + "/spool"));

  // Our own folder, but a key others may write, or read.
  const std::string ours = root + "/ours";
  REQUIRE(run_in(ours).exit_code == 0);
  REQUIRE(::chmod((ours + "/agent.key").c_str(), 0666) == 0);
  r = run_in(ours);
  CHECK(r.exit_code == 125);
  CHECK(lines_in(r.output) == 1);
  CHECK(has(r.output, ours + "/agent.key: writable by group or others (mode 0666); refusing it"));
  REQUIRE(::chmod((ours + "/agent.key").c_str(), 0644) == 0);
  CHECK(has(run_in(ours).output, ours + "/agent.key: readable by group or others (mode 0644)"));
  REQUIRE(::chmod((ours + "/agent.key").c_str(), 0600) == 0);
  REQUIRE(::chmod((ours + "/agent.id").c_str(), 0666) == 0);
  CHECK(has(run_in(ours).output, ours + "/agent.id: writable by group or others (mode 0666)"));
  REQUIRE(::chmod((ours + "/agent.id").c_str(), 0644) == 0);
  CHECK(run_in(ours).exit_code == 0);

  // Every folder the agent makes is 0700, whatever the umask.
  const std::string fresh = root + "/a/fresh";
  r = testing::run_command("umask 000; " + agent_bin() + " run --state-dir " + fresh + " --events-out " + out +
                           " -- /bin/true");
  REQUIRE_MESSAGE(r.exit_code == 0, r.output);
  for (const std::string& dir :
       {root + "/a", fresh, fresh + "/spool", fresh + "/spool/rejected", fresh + "/spool/quarantine"})
    CHECK_MESSAGE(mode_of(dir) == 0700, dir);
  CHECK(mode_of(fresh + "/agent.key") == 0600);
}

TEST_CASE("without HOME or XDG_STATE_HOME, a user with no home is asked for --state-dir, never given /tmp") {
  if (::geteuid() != 0) {
    MESSAGE("needs root to run as a user without a home (nobody); config_test covers default_state_dir");
    return;
  }
  const std::string root = testing::make_temp_dir("no-home");
  REQUIRE(testing::run_command("chown 65534:65534 " + root).exit_code == 0);
  const auto r = testing::run_command("cd " + root +
                                      " && env -u HOME -u XDG_STATE_HOME setpriv --reuid=65534 "
                                      "--regid=65534 --clear-groups " +
                                      agent_bin() + " run --events-out " + root + "/ev.jsonl -- /bin/true");
  INFO(r.output);
  CHECK(r.exit_code == 125);
  CHECK(lines_in(r.output) == 1);
  CHECK(has(r.output, "no state folder: HOME and XDG_STATE_HOME are unset and uid 65534 has no home folder"));
  CHECK(has(r.output, "--state-dir"));
  // `job` needs no state folder: it still gets as far as the daemon.
  const auto job = testing::run_command(
      "env -u HOME -u XDG_STATE_HOME setpriv --reuid=65534 --regid=65534 "
      "--clear-groups " +
      agent_bin() + " job begin --daemon-socket " + root + "/none.sock");
  CHECK(has(job.output, "no daemon at " + root + "/none.sock"));
}

TEST_CASE("links planted in the state folder are never followed: identity.lock, agent.key, agent.sock, loss") {
  const std::string root = testing::make_temp_dir("state-links");
  const std::string state = root + "/state";
  const std::string out = root + "/events.jsonl";
  const std::string absent = root + "/created-by-the-agent";  // where "another user" points the links
  auto run_in = [&] {
    return testing::run_command(agent_bin() + " run --state-dir " + state + " --events-out " + out + " -- /bin/true");
  };
  REQUIRE(::mkdir(state.c_str(), 0700) == 0);
  REQUIRE(::symlink(absent.c_str(), (state + "/identity.lock").c_str()) == 0);
  auto r = run_in();
  INFO(r.output);
  CHECK(r.exit_code == 125);
  CHECK(has(r.output, state + "/identity.lock: a symbolic link; refusing it"));
  CHECK_FALSE(sfs::exists(absent));  // as root, it would have been created
  REQUIRE(::unlink((state + "/identity.lock").c_str()) == 0);

  // A key of the right shape, but through a link: refused.
  REQUIRE(testing::run_command(agent_bin() + " keygen --out " + root + "/elsewhere").exit_code == 0);
  REQUIRE(::symlink((root + "/elsewhere/agent.key").c_str(), (state + "/agent.key").c_str()) == 0);
  r = run_in();
  CHECK(r.exit_code == 125);
  CHECK(has(r.output, state + "/agent.key: a symbolic link; refusing it"));
  REQUIRE(::unlink((state + "/agent.key").c_str()) == 0);
  REQUIRE(run_in().exit_code == 0);

  // The spool's lock, and the status socket of a long-running agent (replay
  // here): the socket replaces the link, never its target.
  REQUIRE(::unlink((state + "/spool/lock").c_str()) == 0);
  REQUIRE(::symlink(absent.c_str(), (state + "/spool/lock").c_str()) == 0);
  r = run_in();
  CHECK(r.exit_code == 125);
  CHECK(has(r.output, state + "/spool/lock: a symbolic link; refusing it"));
  CHECK_FALSE(sfs::exists(absent));
  REQUIRE(::unlink((state + "/spool/lock").c_str()) == 0);
  REQUIRE(fs::write_new_file(absent, "precious\n", 0644).ok());
  REQUIRE(::symlink(absent.c_str(), (state + "/agent.sock").c_str()) == 0);
  CHECK(has(testing::run_command(agent_bin() + " status --state-dir " + state).output,
            state + "/agent.sock: not a socket; refusing it"));
  REQUIRE(::symlink(absent.c_str(), (state + "/loss").c_str()) == 0);
  r = testing::run_command(agent_bin() + " replay --synthetic 5 --state-dir " + state);
  CHECK_MESSAGE(r.exit_code == 0, r.output);
  CHECK(fs::read_file(absent, 100).value() == "precious\n");
  CHECK_FALSE(sfs::exists(state + "/agent.sock"));  // replaced by the socket, removed at exit
}

TEST_CASE("redaction end to end: a #! script tool, assignments inside sh -c, env arguments") {
  // Fake secrets only; none may reach the events file.
  const std::vector<std::string> fakes = {"fake-e2e-twine-pass-1", "fake-e2e-curl-pass-2", "fake-e2e-pgpass-3",
                                          "fake-e2e-mysql-pwd-4",  "fake-e2e-redis-5",     "fake-e2e-sqlcmd-6",
                                          "fake-e2e-vault-7"};
  const std::string root = testing::make_temp_dir("run-redact");
  const std::string bin = root + "/bin";
  // Tools that are scripts: the kernel runs `/bin/sh <bin>/twine ARGS` for
  // `<bin>/twine ARGS`, and `/usr/bin/env sh <bin>/vault ARGS` for vault.
  REQUIRE(testing::run_command("mkdir -p " + bin + " && printf '#!/bin/sh\\nexit 0\\n' > " + bin + "/twine && cp " +
                               bin + "/twine " + bin + "/curl && printf '#!/usr/bin/env sh\\nexit 0\\n' > " + bin +
                               "/vault && chmod 755 " + bin + "/twine " + bin + "/curl " + bin + "/vault")
              .exit_code == 0);
  const std::string script = bin + "/twine upload -u __token__ -p " + fakes[0] + "; " + bin +
                             "/curl -u ci:" + fakes[1] + " https://x.example/; PGPASSWORD=" + fakes[2] +
                             " /bin/true; export MYSQL_PWD=" + fakes[3] + "; /bin/sh -c \"REDISCLI_AUTH=" + fakes[4] +
                             " /bin/true\"; env SQLCMDPASSWORD=" + fakes[5] + " /bin/true; " + bin + "/vault login " +
                             fakes[6];
  const std::string out = root + "/events.jsonl";
  const auto r = testing::run_command(agent_bin() + " run --state-dir " + root + "/state --events-out " + out +
                                      " -- /bin/sh -c '" + script + "'");
  INFO(r.output);
  REQUIRE(r.exit_code == 0);

  const std::string raw = slurp(out);
  for (const auto& f : fakes) CHECK_MESSAGE(raw.find(f) == std::string::npos, f);
  // The recorded argv is the kernel's (interpreter first), redacted by the script's tool rules.
  bool twine = false, curl = false, vault = false;
  const auto evs = read_events(out);
  for (const auto* x : bodies<events::ProcessExec>(evs)) {
    if (x->argv.size() == 7 && x->argv[1] == bin + "/twine") {
      twine = true;
      CHECK(x->argv == std::vector<std::string>{"/bin/sh", bin + "/twine", "upload", "-u", "__token__", "-p",
                                                "[REDACTED:password]"});
      CHECK(x->script == bin + "/twine");
    }
    if (x->argv.size() == 5 && x->argv[1] == bin + "/curl") {
      curl = true;
      CHECK(x->argv[3] == "ci:[REDACTED:password]");
    }
    if (x->argv.size() >= 2 && x->argv.back() == "[REDACTED:token]" && x->argv[x->argv.size() - 2] == "login")
      vault = true;
  }
  CHECK(twine);
  CHECK(curl);
  CHECK(vault);
}

TEST_CASE("stdio at exec: a payload piped into a shell and a shell on a TCP socket, from a script file") {
  const std::string root = testing::make_temp_dir("run-stdio");
  Listener peer;
  UnixListener unix_peer(root + "/peer.sock");
  const std::string script = stdio_script(root, peer.port);
  const std::string out = root + "/events.jsonl";
  const auto r =
      testing::run_command(agent_bin() + " run --state-dir " + root + "/state --events-out " + out + " -- " + script);
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  check_stdio_events(read_events(out), peer.port, root);
}

TEST_CASE("file writes and exec provenance end to end: watched writes hashed, written_by on a dropped payload") {
  const std::string root = testing::make_temp_dir("run-files");
  const std::string ws = root + "/ws";
  REQUIRE(testing::run_command("mkdir -p " + ws + "/src && echo 'int x;' > " + ws + "/src/main.c").exit_code == 0);
  const std::string out = root + "/events.jsonl";
  const std::string script =
      "mkdir -p .github/workflows && printf 'on: push\\n' > .github/workflows/ci.yml"
      " && echo 'int y;' > src/main.c && echo 'int z;' > src/new.c"
      " && cp /bin/true payload.tmp && mv payload.tmp payload && chmod +x payload && ./payload"
      " && printf 'echo hi\\n' > drop.sh && sh drop.sh >/dev/null";
  const auto r = testing::run_command("cd " + ws + " && " + agent_bin() + " run --state-dir " + root +
                                      "/state --watch-workspace 'src/**' --events-out " + out + " -- /bin/bash -c \"" +
                                      script + "\"");
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  const auto evs = read_events(out);
  std::vector<std::string> seen;
  std::string ci_sha;
  for (const auto* w : bodies<events::FileWrite>(evs)) {
    seen.push_back(w->operation + " " + w->path.substr(ws.size() + 1) + " " + w->rule);
    if (w->rule == "ci-config") ci_sha = w->sha256;
  }
  CHECK(seen == std::vector<std::string>{"create .github/workflows/ci.yml ci-config", "truncate src/main.c workspace"});
  CHECK(ci_sha == "b602f7ad4316adfd9f3e5ca998773702a5db1a1f1599a14516f40101665fb6d2");  // printf 'on: push\n'
  std::string cp_key, payload_by, shell_key, script_by;
  for (const auto& e : evs)
    if (const auto* x = std::get_if<events::ProcessExec>(&e.body)) {
      if (!x->argv.empty() && x->argv[0] == "cp") cp_key = e.process.key;
      if (e.process.exe == ws + "/payload") payload_by = x->written_by;
      if (x->argv == std::vector<std::string>{"sh", "drop.sh"}) script_by = x->written_by;
      if (!x->argv.empty() && x->argv[0] == "/bin/bash") shell_key = e.process.key;
    }
  CHECK_FALSE(cp_key.empty());
  CHECK(payload_by == cp_key);
  CHECK(script_by == shell_key);  // the shell's own redirection wrote it
}

// Issue 18/4: process_exit's CPU times under `run`, read from the zombie's
// /proc/<pid>/stat before its parent reaps it, and its peak RSS, read at
// its exit_group while it still has its memory (a zombie's is gone): in
// both trees, the child's 64 MiB and not the parent's.
TEST_CASE("process_exit carries the process's own CPU times and peak RSS") {
  const std::string root = testing::make_temp_dir("run-usage");
  {
    std::ofstream f(root + "/burn.py");
    f << kBurnPy;
  }
  for (const std::string tree : {"detached", "ptrace"}) {
    CAPTURE(tree);
    const std::string out = root + "/events-" + tree + ".jsonl";
    const auto r = testing::run_command(agent_bin() + " run --wrap-tree " + tree + " --state-dir " + root +
                                        "/state --events-out " + out + " -- python3 " + root + "/burn.py");
    INFO(r.output);
    REQUIRE(r.exit_code == 0);
    const auto evs = read_events(out);
    check_burn_exits(burn_exits(evs));
  }
}

// The peak is read at exit_group, from whichever thread calls it, and
// known for programs too short to be seen any later: the process is
// followed before its exec stop lets it run.
TEST_CASE("process_exit's peak RSS: short programs, and exit_group from another thread") {
  const std::string root = testing::make_temp_dir("run-peaks");
  const std::string helper = testing::env_or("BUILDTRAIL_WRAP_HELPER", "");
  REQUIRE(!helper.empty());
  for (const std::string tree : {"detached", "ptrace"}) {
    CAPTURE(tree);
    const std::string out = root + "/events-" + tree + ".jsonl";
    const auto r = testing::run_command(agent_bin() + " run --wrap-tree " + tree + " --state-dir " + root +
                                        "/state --events-out " + out + " -- /bin/sh -c 'for i in $(seq 100); do " +
                                        "/bin/true; done; " + helper + " exit-from-thread'");
    INFO(r.output);
    REQUIRE(r.exit_code == 0);
    std::size_t short_ones = 0, unknown = 0;
    uint64_t threaded = 0;
    for (const auto& e : read_events(out))
      if (const auto* x = std::get_if<events::ProcessExit>(&e.body)) {
        if (e.process.exe == std::filesystem::canonical("/bin/true").string()) {
          ++short_ones;
          if (x->peak_rss_bytes == 0) ++unknown;
        }
        if (e.process.exe == helper) threaded = x->peak_rss_bytes;
      }
    CHECK(short_ones == 100);
    CHECK(unknown == 0);
    CHECK(threaded >= 64u << 20);
    CHECK(threaded < 512u << 20);
  }
}

// A process a signal kills never calls exit_group: its peak is unknown (0),
// not a stale value (a Python that touched 64 MiB, then SIGKILLs itself).
TEST_CASE("process_exit of a process killed by a signal has no peak RSS") {
  const std::string root = testing::make_temp_dir("run-killed");
  const std::string out = root + "/events.jsonl";
  const auto r = testing::run_command(
      agent_bin() + " run --state-dir " + root + "/state --events-out " + out +
      " -- python3 -c 'import os, signal\nb = bytearray(64 << 20)\nfor i in range(0, len(b), 4096): b[i] = 1\n"
      "os.kill(os.getpid(), signal.SIGKILL)'");
  const auto evs = read_events(out);
  const auto exits = burn_exits(evs);
  INFO(r.output);
  REQUIRE(exits.size() == 1);
  CHECK(exits[0]->signal == SIGKILL);
  CHECK(exits[0]->peak_rss_bytes == 0);
}
