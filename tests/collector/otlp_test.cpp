// The otlp output (issue 20) in the real collector process, against a
// receiver that decodes every request with OpenTelemetry's own JavaScript
// implementation (tests/otlp/receiver.js: @opentelemetry/otlp-transformer's
// generated ExportLogsServiceRequest), in both encodings: whatever
// buildtrail's .proto or JSON printing got wrong, that decoder would read
// differently or refuse. Needs node (nodejs) and the packages of
// tests/otlp/package-lock.json (scripts/otlp-deps.sh installs them, from
// `make test` or here); without node the binary exits 77 (skipped).
#include <doctest/doctest.h>
#include <rapidjson/document.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <functional>
#include <map>
#include <set>
#include <thread>

#include "collector/output/otlp/otlp.h"
#include "tests/collector/alert_fixtures.h"
#include "tests/collector/collector_process.h"

using namespace bt;
using namespace bt::testing;

namespace {

// Node and the receiver's packages, once per process: exits 77 when node
// cannot run; installing the packages must work (CI reaches npm).
void need_node() {
  static const bool checked = [] {
    if (run_command("node --version").exit_code != 0) {
      std::fprintf(stderr, "otlp: node cannot run here: skipped (apt-get install nodejs npm)\n");
      std::exit(77);
    }
    const auto install = run_command(env_or("BUILDTRAIL_SRC", ".") + "/scripts/otlp-deps.sh");
    if (install.exit_code != 0) {
      std::fprintf(stderr, "otlp: scripts/otlp-deps.sh failed: %s\n", install.output.c_str());
      std::exit(1);
    }
    return true;
  }();
  (void)checked;
}

struct Decoded {
  std::string encoding, body, severity_text, event_name, record_id;
  std::map<std::string, std::string> resource;
  int severity = 0;
  uint64_t time_ns = 0, observed_ns = 0;
};

class NodeReceiver {
 public:
  NodeReceiver(const std::string& root, int busy, const std::string& mode = "ok")
      : port_file_(root + "/otlp.port"), out_file_(root + "/otlp.jsonl") {
    need_node();
    const std::string script = env_or("BUILDTRAIL_SRC", ".") + "/tests/otlp/receiver.js";
    const std::string busy_arg = std::to_string(busy);
    pid_ = ::fork();
    if (pid_ == 0) {
      const std::string log = root + "/receiver.log";
      if (FILE* f = std::fopen(log.c_str(), "a")) {
        ::dup2(fileno(f), 1);
        ::dup2(fileno(f), 2);
      }
      ::execlp("node", "node", script.c_str(), port_file_.c_str(), out_file_.c_str(), busy_arg.c_str(), mode.c_str(),
               static_cast<char*>(nullptr));
      ::_exit(127);
    }
    REQUIRE(eventually([&] { return fs::read_file(port_file_, 64).ok(); }, 20));
    port_ = fs::read_file(port_file_, 64).value();
  }
  ~NodeReceiver() {
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      ::waitpid(pid_, nullptr, 0);
    }
  }
  std::string url() const { return "http://127.0.0.1:" + port_; }

  // The lines the receiver wrote so far, by what they hold.
  std::vector<Decoded> records() const {
    std::vector<Decoded> out;
    for_each_line("record", [&](const rapidjson::Value& v) {
      Decoded d;
      d.encoding = v["encoding"].GetString();
      if (v.HasMember("body")) d.body = std::string(v["body"].GetString(), v["body"].GetStringLength());
      if (v.HasMember("severityText")) d.severity_text = v["severityText"].GetString();
      if (v.HasMember("severityNumber")) d.severity = v["severityNumber"].GetInt();
      if (v.HasMember("timeUnixNano")) d.time_ns = std::stoull(v["timeUnixNano"].GetString());
      if (v.HasMember("observedTimeUnixNano")) d.observed_ns = std::stoull(v["observedTimeUnixNano"].GetString());
      for (const auto& m : v["resource"].GetObject())
        if (m.value.IsString()) d.resource[m.name.GetString()] = m.value.GetString();
      const auto& attrs = v["attributes"];
      if (attrs.HasMember("event.name")) d.event_name = attrs["event.name"].GetString();
      if (attrs.HasMember("buildtrail.record.id")) d.record_id = attrs["buildtrail.record.id"].GetString();
      out.push_back(std::move(d));
    });
    return out;
  }
  std::vector<int> statuses() const {
    std::vector<int> out;
    for_each_line("request", [&](const rapidjson::Value& v) { out.push_back(v["status"].GetInt()); });
    return out;
  }
  // X-Scope-OrgID of each request the receiver took, "" when absent.
  std::vector<std::string> tenants() const {
    std::vector<std::string> out;
    for_each_line("request", [&](const rapidjson::Value& v) {
      if (v["status"].GetInt() == 200)
        out.push_back(v.HasMember("tenant") && v["tenant"].IsString() ? v["tenant"].GetString() : "");
    });
    return out;
  }
  std::vector<std::string> problems() const {
    std::vector<std::string> out;
    for_each_line("problem", [&](const rapidjson::Value& v) { out.push_back(v.GetString()); });
    return out;
  }

 private:
  void for_each_line(const char* what, const std::function<void(const rapidjson::Value&)>& f) const {
    auto text = fs::read_file(out_file_, 64 << 20);
    if (!text) return;
    std::size_t at = 0;
    while (at < text->size()) {
      auto end = text->find('\n', at);
      if (end == std::string::npos) break;  // a line being written
      rapidjson::Document d;
      d.Parse(text->data() + at, end - at);
      REQUIRE_FALSE(d.HasParseError());
      if (d.HasMember(what)) f(d[what]);
      at = end + 1;
    }
  }
  std::string port_file_, out_file_, port_;
  pid_t pid_ = -1;
};

std::string write_config(const std::string& root, const std::string& url, const std::string& extra,
                         const std::string& forward = "all") {
  const std::string toml = "[[output]]\nname = \"otel\"\ntype = \"otlp\"\nforward = \"" + forward + "\"\nurl = \"" +
                           url + "\"\nbackoff_base_ms = 100\nbackoff_cap_ms = 500\n" + extra;
  const std::string file = root + "/collector.toml";
  REQUIRE(fs::write_file_atomic(file, toml, 0644).ok());
  return file;
}

const std::string kHostile = std::string("/tmp/x\n\"}{\"body\":\"forged\"}") + '\0' + "\xff\xfe";

// Events of two builds of one agent: run-1 (with an unmonitored start:
// BT-30, a high alert) and run-2, in three batches; pids 2000...
std::vector<events::Event> build_events(const std::string& agent, int n) {
  std::vector<events::Event> out;
  out.push_back(unmonitored_start(agent, kT0, "run-1"));
  for (int i = 0; i < n; ++i) {
    const std::string build = i % 2 ? "run-2" : "run-1";
    auto e = build_event(agent, kT0 + 1000 + static_cast<uint64_t>(i) * 1000000, events::ProcessExit{}, build);
    e.process.pid = 2000 + static_cast<uint64_t>(i);
    e.process.exe = i == 3 ? kHostile : "/usr/bin/cc";
    out.push_back(e);
  }
  for (auto& e : out) {
    e.build.repository = "https://git.example.com/acme/app.git";
    e.build.commit =
        e.build.id == "run-1" ? "1111111111111111111111111111111111111111" : "2222222222222222222222222222222222222222";
  }
  return out;
}

void check_delivery(const std::string& encoding, const std::string& extra) {
  CollectorData env(("otlp-" + encoding).c_str());
  const auto key = test_key(61);
  const std::string agent = "agent-otlp-1";
  env.add_agent(agent, key);
  NodeReceiver r(env.root, 1);
  const std::string config = write_config(env.root, r.url(), "encoding = \"" + encoding + "\"\n" + extra);
  CollectorProcess c(env.data, {"--config", config});
  REQUIRE(c.running());
  constexpr int kEvents = 30;
  const auto evs = build_events(agent, kEvents);
  const auto chain =
      seal(key, agent,
           {{evs.begin(), evs.begin() + 11}, {evs.begin() + 11, evs.begin() + 21}, {evs.begin() + 21, evs.end()}});
  for (const auto& b : chain) CHECK(post(c.url("/v1/batches"), b.bytes).status == 200);
  REQUIRE(eventually([&] { return !alerts_of(env.data).empty(); }));
  auto events_in = [&] {
    std::set<std::string> ids;
    for (const auto& d : r.records())
      if (d.event_name != "alert") ids.insert(d.record_id);
    return ids;
  };
  REQUIRE(eventually([&] { return events_in().size() >= evs.size(); }, 60));
  const auto stored = alerts_of(env.data);
  REQUIRE(eventually([&] {
    std::set<std::string> ids;
    for (const auto& d : r.records())
      if (d.event_name == "alert") ids.insert(d.record_id);
    return ids.size() >= stored.size();
  }));
  for (const auto& p : r.problems()) FAIL_CHECK("the receiver refused a request: " << p);
  const auto statuses = r.statuses();
  REQUIRE_FALSE(statuses.empty());
  CHECK(statuses.front() == 503);  // then sent again after Retry-After
  std::map<int64_t, const collector::store::Alert*> alert_by_id;
  for (const auto& a : stored) alert_by_id[a.id] = &a;
  std::set<int64_t> pids;
  for (auto& d : r.records()) {
    INFO(d.body);
    CHECK(d.encoding == (encoding == "json" ? "application/json" : "application/x-protobuf"));
    CHECK(d.resource["service.name"] == "buildtrail");
    CHECK(d.resource["buildtrail.agent.id"] == agent);
    CHECK(d.observed_ns >= d.time_ns);
    rapidjson::Document body;
    body.Parse(d.body.data(), d.body.size());
    REQUIRE_FALSE(body.HasParseError());
    if (d.event_name == "alert") {
      const auto* a = alert_by_id.at(std::stoll(d.record_id));
      CHECK(d.severity_text == a->severity);
      static const std::map<std::string, int> kNumber = {
          {"informational", 9}, {"low", 10}, {"medium", 13}, {"high", 17}, {"critical", 21}};
      CHECK(d.severity == kNumber.at(a->severity));
      CHECK(d.time_ns == a->time_ns);
      CHECK(std::string(body["rule_id"].GetString()) == a->rule_id);
      continue;
    }
    const int64_t pid = body["process"]["pid"].GetInt64();
    pids.insert(pid);
    const std::string build = body["build"]["id"].GetString();
    CHECK(d.resource["host.name"] == "ci-7");
    CHECK(d.resource["buildtrail.ci"] == "github");
    CHECK(d.resource["cicd.pipeline.name"] == "ci/build");
    CHECK(d.resource["cicd.pipeline.run.id"] == build);
    CHECK(d.resource["vcs.repository.url.full"] == "https://git.example.com/acme/app.git");
    CHECK(d.resource["vcs.ref.head.revision"] == std::string(40, build == "run-1" ? '1' : '2'));
    CHECK(d.severity == 9);
    CHECK(d.severity_text == "informational");
    CHECK(d.record_id.rfind(agent + "/", 0) == 0);
    if (pid == 2003) {
      const std::string exe(body["process"]["exe"].GetString(), body["process"]["exe"].GetStringLength());
      CHECK(exe.find("\n\"}{\"body\":\"forged\"}") != std::string::npos);
      CHECK(exe.find(std::string(1, '\0')) != std::string::npos);
      CHECK(exe.find("\xef\xbf\xbd") != std::string::npos);
    } else if (d.event_name == "process_exit") {
      CHECK(std::string(body["process"]["exe"].GetString()) == "/usr/bin/cc");
    }
  }
  CHECK(pids.size() == static_cast<std::size_t>(kEvents) + 1);  // and the build_start's pid 42
  INFO("the configured headers go with every request");
  const auto tenants = r.tenants();
  REQUIRE_FALSE(tenants.empty());
  for (const auto& t : tenants) CHECK(t == "acme-ci");
  CHECK(c.stop(SIGTERM) == 0);
}

}  // namespace

TEST_CASE(
    "otlp: protobuf (gzip): every event and alert decoded by OpenTelemetry JS, resources per build, 503 retried") {
  check_delivery("protobuf", "gzip = true\nmax_batch_bytes = 4096\nheaders = [\"X-Scope-OrgID: acme-ci\"]\n");
}

TEST_CASE("otlp: json: every event and alert decoded by OpenTelemetry JS from OTLP JSON, resources per build") {
  check_delivery("json", "headers = [\"X-Scope-OrgID: acme-ci\"]\n");
}

TEST_CASE("otlp: a 400 is a refusal (dropped, not retried); a partial success drops only what it rejects") {
  for (const std::string mode : {"refuse", "partial"}) {
    INFO(mode);
    CollectorData env(("otlp-" + mode).c_str());
    const auto key = test_key(62);
    const std::string agent = "agent-otlp-2";
    env.add_agent(agent, key);
    NodeReceiver r(env.root, 0, mode);
    const std::string config = write_config(env.root, r.url(), "", "events");
    CollectorProcess c(env.data, {"--config", config});
    REQUIRE(c.running());
    std::vector<events::Event> evs;
    for (int i = 0; i < 6; ++i) {
      auto e = build_event(agent, kT0 + static_cast<uint64_t>(i), events::ProcessExit{}, "run-1");
      e.process.pid = 3000 + static_cast<uint64_t>(i);
      evs.push_back(e);
    }
    for (const auto& b : seal(key, agent, {evs})) CHECK(post(c.url("/v1/batches"), b.bytes).status == 200);
    const std::string dropped = "buildtrail_output_dropped_total{output=\"otel\"}";
    const std::string sent = "buildtrail_output_sent_total{output=\"otel\"}";
    if (mode == "refuse") {
      REQUIRE(eventually([&] { return metric(get(c.url("/metrics")).body, dropped) == "6"; }));
      std::this_thread::sleep_for(std::chrono::milliseconds(700));
      CHECK(r.statuses() == std::vector<int>{400});  // never sent again
    } else {
      REQUIRE(eventually([&] { return metric(get(c.url("/metrics")).body, dropped) == "1"; }));
      CHECK(metric(get(c.url("/metrics")).body, sent) == "5");
      CHECK(r.statuses() == std::vector<int>{200});
    }
    CHECK(r.problems().empty());
    CHECK(c.stop(SIGTERM) == 0);
    if (mode == "partial") CHECK(c.log().find("one refused") != std::string::npos);
  }
}

TEST_CASE("otlp: the endpoint is <url>/v1/logs unless the URL names it; statuses as OTLP/HTTP says") {
  using collector::output::Outcome;
  namespace otlp = collector::output::otlp;
  CHECK(otlp::endpoint("https://otel.example.com:4318") == "https://otel.example.com:4318/v1/logs");
  CHECK(otlp::endpoint("https://otel.example.com:4318/") == "https://otel.example.com:4318/v1/logs");
  CHECK(otlp::endpoint("https://gw.example.com/otlp/v1/logs") == "https://gw.example.com/otlp/v1/logs");
  for (long s : {429L, 502L, 503L, 504L, 0L}) CHECK(otlp::classify_otlp(s) == Outcome::kRetry);
  for (long s : {400L, 401L, 403L, 404L, 408L, 413L, 500L, 501L}) CHECK(otlp::classify_otlp(s) == Outcome::kRejected);
  CHECK(otlp::classify_otlp(200) == Outcome::kDelivered);
}
