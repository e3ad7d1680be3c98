// The per-job baselines' learning rules (collector/detect/baseline/), over
// a real SQLite store: N clean builds before anything is raised, an item
// trusted after 2 builds, expiry, protected branches only, a high alert
// keeps a build from teaching, reset; and the registrable domain.
#include <doctest/doctest.h>
#include <sqlite3.h>

#include <algorithm>
#include <filesystem>
#include <set>

#include "collector/detect/baseline/baseline.h"
#include "collector/ingest/ingest.h"
#include "collector/store/store.h"
#include "tests/common/test_util.h"

using namespace bt;
using namespace bt::collector;

#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

namespace {

constexpr uint64_t kT0 = 1795775400000000000ull;  // 2026-11-27T10:30:00Z
constexpr uint64_t kDay = 24ull * 3600 * 1000000000;
const std::string kAgent = "agent-b";

events::Event event(const std::string& build_id, const std::string& branch, uint64_t t, events::Body body) {
  events::Event e;
  e.time_ns = t;
  e.agent_id = kAgent;
  e.build.ci = "github";
  e.build.repository = "https://github.com/acme/app";
  e.build.job = "ci/build";
  e.build.id = build_id;
  e.build.branch = branch;
  e.process.pid = 7;
  e.process.key = "7-1";
  e.process.parent_key = "6-1";
  e.process.exe = "/usr/bin/pip";
  e.body = std::move(body);
  return e;
}

events::Body dns(const std::string& name) {
  events::DnsQuery q;
  q.name = name;
  q.qtype = "A";
  return q;
}

events::Body connect(const std::string& name, const std::string& ip = "151.101.0.223") {
  events::NetConnect c;
  c.protocol = "tcp";
  c.daddr = ip;
  c.dport = 443;
  c.dns_name = name;
  return c;
}

struct Harness {
  std::string dir = testing::make_temp_dir("baseline");
  std::unique_ptr<store::Store> db = store::open_sqlite(dir).value();
  std::unique_ptr<detect::RuleSet> rules;
  uint64_t seq = 0;

  explicit Harness(detect::BaselineConfig config = {}) : rules(detect::baseline_rules(std::move(config))) {
    REQUIRE(rules->start(*db).ok());
  }
  ~Harness() {
    rules.reset();
    db.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }

  // One build from build_start to build_end, in one detector step; returns
  // the rule ids raised. `step_alerts` are the other rule sets' alerts of
  // that step; `exes` the programs of `bodies` (default /usr/bin/pip).
  std::vector<std::string> build(const std::string& id, const std::string& branch, uint64_t t,
                                 const std::vector<events::Body>& bodies,
                                 const std::vector<store::Alert>& step_alerts = {},
                                 const std::vector<std::string>& exes = {}) {
    std::vector<events::Event> evs;
    evs.push_back(event(id, branch, t, events::BuildStart{}));
    for (std::size_t i = 0; i < bodies.size(); ++i) {
      evs.push_back(event(id, branch, t + evs.size(), bodies[i]));
      if (i < exes.size()) evs.back().process.exe = exes[i];
    }
    evs.push_back(event(id, branch, t + evs.size(), events::BuildEnd{}));
    std::vector<std::string> raised;
    std::vector<detect::Hit> hits;
    ++seq;
    for (uint32_t line = 0; line < evs.size(); ++line) {
      // Each event's process is the child of the one before.
      evs[line].process.key = "7-" + std::to_string(line + 1);
      evs[line].process.parent_key = "7-" + std::to_string(line);
      hits.clear();
      rules->on_event({evs[line], {kAgent, seq, line}}, hits);
      for (const auto& h : hits) raised.push_back(h.rule_id);
    }
    std::vector<store::BaselineLesson> lessons;
    REQUIRE(rules->prepare_commit(step_alerts, lessons).ok());
    auto added = db->commit_detection({}, {}, lessons);
    REQUIRE(added.ok());
    rules->committed(true);
    return raised;
  }

  // `n` clean builds of main that resolve and contact pypi.org.
  void learn(int n, uint64_t t = kT0, const std::string& prefix = "run-") {
    for (int i = 0; i < n; ++i)
      CHECK(build(prefix + std::to_string(i), "main", t + static_cast<uint64_t>(i) * 1000000,
                  {dns("pypi.org"), connect("pypi.org")})
                .empty());
  }

  uint64_t learned_builds() {
    auto b = db->baselines(store::BaselineKey{"github", "https://github.com/acme/app", "ci/build"}).value();
    return b.empty() ? 0 : b[0].builds;
  }
};

bool has(const std::vector<std::string>& v, const std::string& id) {
  return std::find(v.begin(), v.end(), id) != v.end();
}

}  // namespace

TEST_CASE("baseline: nothing is raised before N clean builds; then only what the job never did") {
  Harness h;
  h.learn(9);
  CHECK(h.learned_builds() == 9);
  // Still learning: a new name raises nothing.
  CHECK(h.build("run-9", "main", kT0 + kDay, {dns("pypi.org"), connect("pypi.org"), dns("evil.example")}).empty());
  CHECK(h.learned_builds() == 10);
  const auto raised = h.build("run-10", "feature/x", kT0 + 2 * kDay, {dns("evil.example"), connect("evil.example")});
  CHECK(has(raised, "BT-01"));
  CHECK(has(raised, "BT-02"));
  CHECK(h.build("run-11", "feature/x", kT0 + 2 * kDay, {dns("pypi.org"), connect("pypi.org")}).empty());
}

TEST_CASE("baseline: an item is trusted once it appeared in 2 clean builds") {
  Harness h;
  h.learn(10);
  const std::vector<events::Body> cdn = {dns("files.pythonhosted.org"), connect("files.pythonhosted.org")};
  CHECK(h.build("a", "main", kT0 + kDay, cdn).size() == 2);
  CHECK(h.build("b", "main", kT0 + kDay, cdn).size() == 2);  // seen in 1 build: not trusted yet
  CHECK(h.build("c", "main", kT0 + kDay, cdn).empty());      // in 2: trusted
}

TEST_CASE("baseline: one alert per item per build") {
  Harness h;
  h.learn(10);
  std::vector<std::string> raised =
      h.build("x", "pr-1", kT0 + kDay, {connect("evil.example"), connect("evil.example")});
  CHECK(raised.size() == 2);  // raised twice by the rule set, keyed once: the store keeps one
}

TEST_CASE("baseline: items expire after 90 days unseen") {
  Harness h;
  h.learn(10);
  // 100 days later pypi.org is no longer trusted (learned 100 days ago).
  const auto raised = h.build("late", "pr-2", kT0 + 100 * kDay, {dns("pypi.org")});
  CHECK(has(raised, "BT-02"));
  // A clean build of main that far on drops the expired items from the store.
  h.build("late-main", "main", kT0 + 100 * kDay, {dns("example.org")});
  auto b = h.db->baselines(std::nullopt).value();
  REQUIRE(b.size() == 1);
  for (const auto& i : b[0].items) CHECK(i.value != "pypi.org");
}

TEST_CASE("baseline: only builds of protected branches teach") {
  Harness h;
  for (int i = 0; i < 10; ++i)
    h.build("f" + std::to_string(i), "feature/x", kT0 + static_cast<uint64_t>(i), {dns("pypi.org")});
  CHECK(h.learned_builds() == 0);
  h.build("r", "refs/heads/main", kT0 + 20, {dns("pypi.org")});
  h.build("o", "origin/master", kT0 + 21, {dns("pypi.org")});
  CHECK(h.learned_builds() == 2);
  detect::BaselineConfig c;
  c.protected_branches.push_back("release/*");
  CHECK(detect::protected_branch(c, "release/1.2"));
  CHECK_FALSE(detect::protected_branch(c, "feature/release/1.2"));
  CHECK_FALSE(detect::protected_branch(c, ""));
}

TEST_CASE("baseline: a build that raised a high or critical alert does not teach") {
  Harness h;
  store::Agent a;
  a.id = kAgent;
  a.public_key.fill(3);
  a.enrolled_ns = kT0;
  REQUIRE(h.db->add_agent(a).ok());
  // The build's record, as ingest stores it.
  store::BatchRecord r;
  r.agent_id = kAgent;
  r.epoch = 1;
  r.header.agent_id = kAgent;
  r.header.seq = 1;
  r.header.event_count = 1;
  r.hash = crypto::sha256(crypto::as_bytes(std::string("baseline-batch")));
  r.archive_path = "archive/00/x.btb";
  r.received_ns = kT0;
  const auto ev = event("bad", "main", kT0, events::BuildStart{});
  r.events.push_back(ingest::event_row(ev, 0));
  REQUIRE(h.db->commit({r}).ok());
  const auto ref = h.db->build_ref(kAgent, ev.build).value();
  REQUIRE(ref);
  store::Alert high;
  high.rule_id = "BT-13";
  high.severity = "high";
  high.build_ref = *ref;
  h.build("bad", "main", kT0, {dns("pypi.org")}, {high});
  CHECK(h.learned_builds() == 0);
  store::Alert medium = high;
  medium.severity = "medium";
  h.build("ok", "main", kT0, {dns("pypi.org")}, {medium});
  CHECK(h.learned_builds() == 1);
}

TEST_CASE("baseline: a build learned twice (the step again after a restart) counts once") {
  Harness h;
  h.learn(3);
  h.learn(3);  // the same build ids
  CHECK(h.learned_builds() == 3);
  auto b = h.db->baselines(std::nullopt).value();
  REQUIRE(b.size() == 1);
  for (const auto& i : b[0].items) CHECK(i.builds == 3);
}

TEST_CASE("baseline: reset forgets a job's baseline; it learns again") {
  Harness h;
  h.learn(10);
  const store::BaselineKey key{"github", "https://github.com/acme/app", "ci/build"};
  CHECK(h.db->reset_baseline(key).value());
  CHECK_FALSE(h.db->reset_baseline(key).value());
  CHECK(h.db->baselines(std::nullopt).value().empty());
  // A rule set started on the store (serve after a restart) has nothing
  // trusted: the job is learning again.
  h.rules = detect::baseline_rules({});
  REQUIRE(h.rules->start(*h.db).ok());
  CHECK(h.build("n", "pr", kT0 + kDay, {dns("evil.example")}).empty());
}

TEST_CASE("baseline: the items of executables, edges, credentials, metadata and uploads") {
  Harness h;
  events::ProcessExec parent;
  parent.exe_sha256 = std::string(64, 'a');
  events::SecretAccess cred;
  cred.secret_class = "package_registry";
  cred.access = "open_read";
  cred.path = "/home/ci/.pypirc";
  events::SecretAccess imds;
  imds.secret_class = "metadata_endpoint";
  imds.access = "metadata_connect";
  imds.endpoint = "169.254.169.254";
  events::ArtifactUpload up;
  up.tool = "twine";
  up.destination = "upload.pypi.org";
  const std::vector<events::Body> usual = {parent, parent, cred, imds, up, connect("", "10.0.0.5")};
  for (int i = 0; i < 10; ++i)
    CHECK(h.build("u" + std::to_string(i), "main", kT0 + static_cast<uint64_t>(i), usual).empty());
  CHECK(h.build("same", "pr", kT0 + 100, usual).empty());
  events::ProcessExec other = parent;
  other.exe_sha256 = std::string(64, 'b');
  events::ArtifactUpload npm;
  npm.tool = "npm";
  npm.destination = "registry.npmjs.org";
  events::SecretAccess ssh = cred;
  ssh.secret_class = "ssh_key";
  const auto raised = h.build("new", "pr", kT0 + 200, {other, ssh, npm, connect("", "203.0.113.9")});
  CHECK(has(raised, "BT-16"));
  CHECK(has(raised, "BT-10"));
  CHECK(has(raised, "BT-28"));
  CHECK(has(raised, "BT-01"));
  auto b = h.db->baselines(std::nullopt).value();
  REQUIRE(b.size() == 1);
  std::set<std::string> kinds;
  for (const auto& i : b[0].items) kinds.insert(i.kind);
  CHECK(kinds == std::set<std::string>{"credential", "destination", "edge", "exe", "metadata", "upload"});
}

TEST_CASE("baseline: an executable the build wrote is judged by its writer, not by its hash") {
  // Each build links a test program (a new hash every build: paths in its
  // debug info) and runs it; the linker is the event before it (its
  // process key "7-2": the harness numbers processes by line).
  Harness h;
  events::ProcessExec linker;
  linker.exe_sha256 = std::string(64, 'a');
  auto product = [](char hash) {
    events::ProcessExec x;
    x.exe_sha256 = std::string(64, hash);
    x.written_by = "7-2";
    return x;
  };
  for (int i = 0; i < 10; ++i)
    CHECK(h.build("p" + std::to_string(i), "main", kT0 + static_cast<uint64_t>(i),
                  {linker, product(static_cast<char>('c' + i))})
              .empty());
  CHECK(h.build("pr", "pr", kT0 + 100, {linker, product('z')}).empty());
  // Its writer unknown (not an exec of this build): judged by hash again.
  events::ProcessExec stray = product('y');
  stray.written_by = "9-9";
  CHECK(has(h.build("stray", "pr", kT0 + 200, {linker, stray}), "BT-16"));
  // An interpreter running a script the build wrote is the interpreter: by hash.
  events::ProcessExec script = product('x');
  script.script = "/ws/run.sh";
  CHECK(has(h.build("script", "pr", kT0 + 300, {linker, script}), "BT-16"));
  auto b = h.db->baselines(std::nullopt).value();
  REQUIRE(b.size() == 1);
  std::set<std::string> items;
  for (const auto& i : b[0].items) items.insert(i.kind + " " + i.value);
  CHECK(items.count("product /usr/bin/pip") == 1);
  CHECK(items.count("edge /usr/bin/pip -> product of /usr/bin/pip") == 1);
  CHECK(items.count("exe " + std::string(64, 'c')) == 0);
}

TEST_CASE("baseline: BT-17, code a package install runs that the job's installs never ran") {
  // npm ci, its lifecycle script's `sh -c`, and node under that: each the
  // child of the one before (the harness numbers processes by line).
  Harness h;
  auto exec = [](std::vector<std::string> argv) {
    events::ProcessExec x;
    x.argv = std::move(argv);
    x.exe_sha256 = std::string(64, 'a');
    return x;
  };
  const std::vector<events::Body> usual = {exec({"node", "/usr/bin/npm", "ci"}), exec({"sh", "-c", "node install.js"}),
                                           exec({"node", "install.js"})};
  const std::vector<std::string> exes = {"/usr/bin/node", "/usr/bin/dash", "/usr/bin/node"};
  for (int i = 0; i < 10; ++i)
    CHECK(h.build("i" + std::to_string(i), "main", kT0 + static_cast<uint64_t>(i), usual, {}, exes).empty());
  CHECK(h.build("same", "pr", kT0 + 100, usual, {}, exes).empty());
  // The install now runs bun (Shai-Hulud's second stage) below node.
  auto bodies = usual;
  bodies.push_back(exec({"bun", "bun_environment.js"}));
  auto with_bun = exes;
  with_bun.push_back("/home/ci/.bun/bin/bun");
  CHECK(has(h.build("bun", "pr", kT0 + 200, bodies, {}, with_bun), "BT-17"));
  // Not below an install: the same bun is only new to the job (BT-16).
  const auto alone = h.build("alone", "pr", kT0 + 300, {exec({"bun", "x.js"})}, {}, {"/home/ci/.bun/bin/bun"});
  CHECK_FALSE(has(alone, "BT-17"));
  auto b = h.db->baselines(std::nullopt).value();
  REQUIRE(b.size() == 1);
  std::set<std::string> items;
  for (const auto& i : b[0].items) items.insert(i.kind + " " + i.value);
  CHECK(items.count("install-runs npm -> /usr/bin/dash") == 1);
  CHECK(items.count("install-runs npm -> /usr/bin/node") == 1);
}

TEST_CASE("baseline: BT-19, a listener, relay or sniffer this job never ran; one it always runs is quiet") {
  Harness h;
  events::ProcessExec nc;
  nc.argv = {"nc", "-l", "-p", "9000"};
  nc.exe_sha256 = std::string(64, 'n');
  for (int i = 0; i < 10; ++i)
    CHECK(h.build("n" + std::to_string(i), "main", kT0 + static_cast<uint64_t>(i), {nc}, {}, {"/usr/bin/nc.openbsd"})
              .empty());
  CHECK(h.build("nc", "pr", kT0 + 100, {nc}, {}, {"/usr/bin/nc.openbsd"}).empty());
  events::ProcessExec socat = nc;
  socat.argv = {"socat", "TCP-LISTEN:9000", "EXEC:/bin/sh"};
  const auto raised = h.build("socat", "pr", kT0 + 200, {nc, socat}, {}, {"/usr/bin/nc.openbsd", "/usr/bin/socat"});
  CHECK(std::count(raised.begin(), raised.end(), "BT-19") == 1);
}

TEST_CASE("baseline: BT-27, an artifact uploaded from a writer the job's uploads never had") {
  // tar makes dist/app.tgz (line 1: process "7-2"), curl uploads it.
  Harness h;
  events::ProcessExec tar;
  tar.argv = {"tar", "czf", "dist/app.tgz", "m"};
  tar.exe_sha256 = std::string(64, 't');
  auto upload = [](const std::string& writer) {
    events::ArtifactUpload u;
    u.tool = "curl";
    u.destination = "https://uploads.example.com/";
    events::FileDigest f;
    f.path = "/ws/dist/app.tgz";
    f.sha256 = std::string(64, 'f');
    f.written_by = writer;
    u.files.push_back(f);
    return u;
  };
  const std::vector<std::string> exes = {"/usr/bin/tar", "/usr/bin/curl"};
  for (int i = 0; i < 10; ++i)
    CHECK(h.build("a" + std::to_string(i), "main", kT0 + static_cast<uint64_t>(i), {tar, upload("7-2")}, {}, exes)
              .empty());
  CHECK(h.build("same", "pr", kT0 + 100, {tar, upload("7-2")}, {}, exes).empty());
  // Rewritten after tar by python3 ("7-3"): a writer the job's uploads never had.
  events::ProcessExec python = tar;
  python.argv = {"python3", "-c", "open('dist/app.tgz','ab').write(b'x')"};
  const auto poisoned = h.build("poisoned", "pr", kT0 + 200, {tar, python, upload("7-3")}, {},
                                {"/usr/bin/tar", "/usr/bin/python3", "/usr/bin/curl"});
  CHECK(std::count(poisoned.begin(), poisoned.end(), "BT-27") == 1);
  // Not made in this build at all (restored from a cache).
  CHECK(has(h.build("cached", "pr", kT0 + 300, {tar, upload("")}, {}, exes), "BT-27"));
  auto b = h.db->baselines(std::nullopt).value();
  REQUIRE(b.size() == 1);
  std::set<std::string> items;
  for (const auto& i : b[0].items) items.insert(i.kind + " " + i.value);
  CHECK(items.count("artifact curl <- written by /usr/bin/tar") == 1);
}

TEST_CASE("baseline: registrable domains come from the Public Suffix List") {
  CHECK(detect::registrable_domain("files.pythonhosted.org") == "pythonhosted.org");
  CHECK(detect::registrable_domain("a.b.example.co.uk") == "example.co.uk");
  CHECK(detect::registrable_domain("co.uk").empty());
}

TEST_CASE("baseline: a version 4 store gets the baseline tables, empty, when opened read-write") {
  const std::string dir = testing::make_temp_dir("baseline-migrate");
  store::open_sqlite(dir).value().reset();
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open((dir + "/buildtrail.db").c_str(), &db) == SQLITE_OK);
  REQUIRE(sqlite3_exec(db,
                       "DROP TABLE baseline_items; DROP TABLE baseline_builds; DROP TABLE baseline_keys;"
                       " UPDATE meta SET value = 4 WHERE key = 'schema_version';",
                       nullptr, nullptr, nullptr) == SQLITE_OK);
  sqlite3_close(db);
  // The read-only tools refuse an older store; serve migrates it.
  CHECK_FALSE(store::open_sqlite(dir, {true, 5000}).ok());
  auto migrated = store::open_sqlite(dir).value();
  CHECK(migrated->baselines(std::nullopt).value().empty());
  store::BaselineLesson l;
  l.key = {"gitlab", "acme/app", "test"};
  l.build = "b-1";
  l.items = {{"dns", "pypi.org"}};
  CHECK(migrated->commit_detection({}, {}, {l}).ok());
  CHECK(migrated->baselines(std::nullopt).value().at(0).items.size() == 1);
  migrated.reset();
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
}
