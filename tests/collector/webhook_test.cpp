// The alert webhook (issue 19 item 8) in the real collector process: a
// config file names the outputs, signed batches over real HTTP raise
// alerts, and a receiver in this process (libmicrohttpd on loopback)
// answers as each case scripts it. Signatures are checked here with
// libsodium against the secret, never with the collector's own code.
#include <doctest/doctest.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <rapidjson/document.h>
#include <sodium.h>

#include <chrono>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "collector/config/config.h"
#include "collector/store/store.h"
#include "common/clock.h"
#include "tests/collector/alert_fixtures.h"
#include "tests/collector/collector_process.h"
#include "tests/collector/mhd_body.h"

using namespace bt;
using namespace bt::testing;

namespace {

// ---- the receiver ------------------------------------------------------------

enum class Answer { kOk, kError500, kTooMany429, kUnavailable503, kHang, kHuge };

struct Request {
  std::string delivery, timestamp, signature, content_type, body;
  std::chrono::steady_clock::time_point at;
  Answer answer = Answer::kOk;
};

// A webhook receiver: records every request and answers the first ones as
// scripted, then with the default answer. A hung request waits until
// release() (or the receiver's end).
class Receiver {
 public:
  Receiver() {
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    daemon_ = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION, 0, nullptr, nullptr,
                               &Receiver::handle, this, MHD_OPTION_SOCK_ADDR, &addr, MHD_OPTION_NOTIFY_COMPLETED,
                               &free_request_body, nullptr, MHD_OPTION_END);
    REQUIRE(daemon_ != nullptr);
    port_ = MHD_get_daemon_info(daemon_, MHD_DAEMON_INFO_BIND_PORT)->port;
  }
  ~Receiver() {
    release();
    MHD_stop_daemon(daemon_);
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/hook"; }
  void script(std::deque<Answer> first, Answer then) {
    std::lock_guard<std::mutex> lock(mu_);
    script_ = std::move(first);
    default_ = then;
  }
  void release() {
    std::lock_guard<std::mutex> lock(mu_);
    released_ = true;
    default_ = default_ == Answer::kHang ? Answer::kOk : default_;
    changed_.notify_all();
  }
  std::vector<Request> requests() {
    std::lock_guard<std::mutex> lock(mu_);
    return requests_;
  }
  // Waits (20 s at most) until `done` holds for the requests so far.
  bool wait_for(const std::function<bool(const std::vector<Request>&)>& done, int timeout_s = 20) {
    std::unique_lock<std::mutex> lock(mu_);
    return changed_.wait_for(lock, std::chrono::seconds(timeout_s), [&] { return done(requests_); });
  }
  // The alert ids the receiver answered 200 to.
  std::multiset<int64_t> delivered() {
    std::multiset<int64_t> out;
    for (const auto& r : requests())
      if (r.answer == Answer::kOk) out.insert(std::stoll(r.delivery));
    return out;
  }

 private:
  static std::string header(MHD_Connection* c, const char* name) {
    const char* v = MHD_lookup_connection_value(c, MHD_HEADER_KIND, name);
    return v ? v : "";
  }
  static MHD_Result handle(void* cls, MHD_Connection* c, const char*, const char*, const char*, const char* data,
                           size_t* size, void** state) {
    auto* self = static_cast<Receiver*>(cls);
    std::string* body = request_body(data, size, state);
    if (!body) return MHD_YES;
    Request r{header(c, "X-Buildtrail-Delivery"),
              header(c, "X-Buildtrail-Timestamp"),
              header(c, "X-Buildtrail-Signature"),
              header(c, "Content-Type"),
              *body,
              std::chrono::steady_clock::now()};
    Answer a;
    {
      std::unique_lock<std::mutex> lock(self->mu_);
      a = self->default_;
      if (!self->script_.empty()) {
        a = self->script_.front();
        self->script_.pop_front();
      }
      r.answer = a;
      self->requests_.push_back(r);
      self->changed_.notify_all();
      if (a == Answer::kHang) self->changed_.wait(lock, [&] { return self->released_; });
    }
    unsigned status = a == Answer::kError500         ? 500
                      : a == Answer::kTooMany429     ? 429
                      : a == Answer::kUnavailable503 ? 503
                                                     : 200;
    // kHuge: a 2xx whose body goes on for 256 MiB of 'x'.
    MHD_Response* resp = a == Answer::kHuge
                             ? MHD_create_response_from_callback(
                                   256ull << 20, 64 << 10,
                                   +[](void*, uint64_t, char* buf, size_t max) -> ssize_t {
                                     std::memset(buf, 'x', max);
                                     return static_cast<ssize_t>(max);
                                   },
                                   nullptr, nullptr)
                             : MHD_create_response_from_buffer(2, const_cast<char*>("ok"), MHD_RESPMEM_PERSISTENT);
    if (a == Answer::kTooMany429) MHD_add_response_header(resp, "Retry-After", "1");
    const MHD_Result ret = MHD_queue_response(c, status, resp);
    MHD_destroy_response(resp);
    return ret;
  }

  MHD_Daemon* daemon_ = nullptr;
  uint16_t port_ = 0;
  std::mutex mu_;
  std::condition_variable changed_;
  std::deque<Answer> script_;
  Answer default_ = Answer::kOk;
  bool released_ = false;
  std::vector<Request> requests_;
};

// ---- batches that raise alerts -------------------------------------------------

int64_t cursor_of(const std::string& data, const std::string& name) {
  return collector::store::open_sqlite(data, {true, 5000}).value()->cursor(name).value();
}

// ---- config files ---------------------------------------------------------------

constexpr const char* kSecret = "s3cr3t-hmac-key-do-not-log";

struct Hook {
  std::string name, url, min_severity = "informational", extra;
};

std::string write_config(const std::string& root, const std::vector<Hook>& hooks) {
  const std::string secret = root + "/webhook.secret";
  REQUIRE(fs::write_file_atomic(secret, std::string(kSecret) + "\n", 0600).ok());
  std::string toml;
  for (const auto& h : hooks)
    toml += "[[output]]\nname = \"" + h.name + "\"\ntype = \"webhook\"\nurl = \"" + h.url + "\"\nsecret_file = \"" +
            secret + "\"\nmin_severity = \"" + h.min_severity + "\"\nbackoff_base_ms = 100\nbackoff_cap_ms = 1000\n" +
            h.extra + "\n";
  const std::string file = root + "/collector.toml";
  REQUIRE(fs::write_file_atomic(file, toml, 0644).ok());
  return file;
}

// "sha256=<hex>" over "<timestamp>.<body>", computed here with libsodium.
bool signature_verifies(const Request& r, const std::string& key) {
  if (r.signature.rfind("sha256=", 0) != 0) return false;
  const std::string message = r.timestamp + "." + r.body;
  crypto_auth_hmacsha256_state st;
  unsigned char mac[crypto_auth_hmacsha256_BYTES];
  crypto_auth_hmacsha256_init(&st, reinterpret_cast<const unsigned char*>(key.data()), key.size());
  crypto_auth_hmacsha256_update(&st, reinterpret_cast<const unsigned char*>(message.data()), message.size());
  crypto_auth_hmacsha256_final(&st, mac);
  unsigned char given[crypto_auth_hmacsha256_BYTES];
  size_t len = 0;
  const std::string hex = r.signature.substr(7);
  if (sodium_hex2bin(given, sizeof given, hex.data(), hex.size(), nullptr, &len, nullptr) != 0 || len != sizeof given)
    return false;
  return sodium_memcmp(given, mac, sizeof mac) == 0;
}

std::set<int64_t> ids(const std::vector<collector::store::Alert>& alerts, int min_rank = 0) {
  std::set<int64_t> out;
  for (const auto& a : alerts)
    if (collector::store::severity_rank(a.severity) >= min_rank) out.insert(a.id);
  return out;
}

bool covers(const std::multiset<int64_t>& got, const std::set<int64_t>& want) {
  return std::all_of(want.begin(), want.end(), [&](int64_t id) { return got.count(id) > 0; });
}

}  // namespace

TEST_CASE("webhook: each alert arrives signed, retried after 500 and after a 429's Retry-After, filtered by severity") {
  CollectorData env("webhook");
  const auto key = test_key(41);
  const std::string agent = "agent-webhook-1";
  env.add_agent(agent, key);
  Receiver all, high;
  all.script({Answer::kError500, Answer::kTooMany429}, Answer::kOk);
  const std::string config =
      write_config(env.root, {{"all", all.url(), "informational", ""}, {"high", high.url(), "high", ""}});
  CollectorProcess c(env.data, {"--config", config});
  REQUIRE(c.running());

  // An unmonitored build (BT-30, high) and an event from the future (a
  // clock finding: BT-29, low); once they are stored, a loss (BT-29, high)
  // whose alert comes after both.
  const uint64_t future = clock::now_ns() + 86400ull * 1000000000;
  const auto chain = seal(key, agent,
                          {{unmonitored_start(agent, kT0, "run-1")},
                           {build_event(agent, future, events::ProcessExit{}, "run-1")},
                           {loss(agent, kT0 + 2000, "run-1")}});
  CHECK(post(c.url("/v1/batches"), chain[0].bytes).status == 200);
  CHECK(post(c.url("/v1/batches"), chain[1].bytes).status == 200);
  REQUIRE(eventually([&] {
    const auto a = alerts_of(env.data);
    return ids(a, 0).size() > ids(a, 3).size() && !ids(a, 3).empty();  // a low one and a high one
  }));
  CHECK(post(c.url("/v1/batches"), chain[2].bytes).status == 200);
  REQUIRE(eventually([&] {
    for (const auto& a : alerts_of(env.data))
      if (a.title.find("Events lost") != std::string::npos) return true;
    return false;
  }));
  // Every alert at the receiver of `all`; every high one at `high`'s.
  REQUIRE(eventually([&] {
    const auto stored = alerts_of(env.data);
    return covers(all.delivered(), ids(stored)) && covers(high.delivered(), ids(stored, 3));
  }));
  const auto stored = alerts_of(env.data);
  std::map<int64_t, collector::store::Alert> by_id;
  for (const auto& a : stored) by_id[a.id] = a;

  const auto to_all = all.requests();
  REQUIRE(to_all.size() >= 3);
  INFO("the first alert: 500, then 429 with Retry-After: 1, then 200: the same delivery each time");
  CHECK(to_all[0].answer == Answer::kError500);
  CHECK(to_all[1].delivery == to_all[0].delivery);
  CHECK(to_all[2].delivery == to_all[0].delivery);
  CHECK(to_all[2].answer == Answer::kOk);
  CHECK(to_all[2].at - to_all[1].at >= std::chrono::milliseconds(950));
  CHECK(all.delivered().size() == stored.size());  // each once: nothing failed after the first

  const auto to_high = high.requests();
  for (const auto* receiver : {&to_all, &to_high}) {
    for (const auto& r : *receiver) {
      CHECK(r.content_type == "application/json");
      CHECK(signature_verifies(r, kSecret));
      CHECK_FALSE(signature_verifies(r, "another-secret"));
      rapidjson::Document d;
      d.Parse(r.body.data(), r.body.size());
      REQUIRE_FALSE(d.HasParseError());
      const int64_t id = std::stoll(r.delivery);
      REQUIRE(by_id.count(id) == 1);
      CHECK(d["id"].GetInt64() == id);
      CHECK(std::string(d["rule_id"].GetString()) == by_id[id].rule_id);
      CHECK(d["evidence"].Size() == by_id[id].evidence.size());
    }
  }
  {
    INFO("the receiver's Python of docs/detection.md verifies a real request, and refuses it changed");
    auto page = fs::read_file(env_or("BUILDTRAIL_SRC", ".") + "/docs/detection.md", 1 << 20);
    REQUIRE(page.ok());
    const auto begin = page->find("```python\n");
    REQUIRE(begin != std::string::npos);
    std::string code = page->substr(begin + 10, page->find("```", begin + 10) - begin - 10);
    const std::string default_path = "/etc/buildtrail/webhook.secret";
    REQUIRE(code.find(default_path) != std::string::npos);
    code.replace(code.find(default_path), default_path.size(), env.root + "/webhook.secret");
    code +=
        "import json, sys\nh = json.load(open(sys.argv[1]))\nbody = open(sys.argv[2], 'rb').read()\n"
        "print('verified' if verify(KEY, h, body) else 'refused')\n";
    const Request& r = to_all.back();
    const std::string headers =
        "{\"X-Buildtrail-Timestamp\": \"" + r.timestamp + "\", \"X-Buildtrail-Signature\": \"" + r.signature + "\"}";
    REQUIRE(fs::write_file_atomic(env.root + "/verify.py", code, 0644).ok());
    REQUIRE(fs::write_file_atomic(env.root + "/headers.json", headers, 0644).ok());
    REQUIRE(fs::write_file_atomic(env.root + "/body", r.body, 0644).ok());
    REQUIRE(fs::write_file_atomic(env.root + "/changed", r.body + " ", 0644).ok());
    const std::string run = "python3 " + env.root + "/verify.py " + env.root + "/headers.json ";
    CHECK(run_command(run + env.root + "/body").output == "verified\n");
    CHECK(run_command(run + env.root + "/changed").output == "refused\n");
  }
  INFO("min_severity high: the low alert (stored before the last high one) never reached it");
  for (const auto& r : to_high) CHECK(collector::store::severity_rank(by_id[std::stoll(r.delivery)].severity) >= 3);
  // The receivers record an alert before they answer: the cursors (and the
  // counts, moved before them) follow the answers.
  CHECK(eventually([&] { return cursor_of(env.data, "output.all") == *ids(stored).rbegin(); }));
  CHECK(eventually([&] { return cursor_of(env.data, "output.high") == *ids(stored, 3).rbegin(); }));

  const std::string metrics = get(c.url("/metrics")).body;
  CHECK(metric(metrics, "buildtrail_output_sent_total{output=\"all\"}") == std::to_string(stored.size()));
  CHECK(metric(metrics, "buildtrail_output_failed_total{output=\"all\"}") == "2");
  CHECK(metric(metrics, "buildtrail_output_dropped_total{output=\"all\"}") == "0");
  CHECK(metric(metrics, "buildtrail_output_sent_total{output=\"high\"}") == std::to_string(ids(stored, 3).size()));
  CHECK_FALSE(metric(metrics, "buildtrail_output_lag_seconds{output=\"all\"}").empty());
  CHECK_FALSE(metric(metrics, "buildtrail_output_backlog{output=\"high\"}").empty());
  CHECK(c.stop(SIGTERM) == 0);
  CHECK(c.log().find(kSecret) == std::string::npos);
  CHECK(c.log().find("output all") != std::string::npos);
}

TEST_CASE("webhook: kill -9 while an alert is in flight; after restart every alert arrives, only that one twice") {
  CollectorData env("webhook-kill");
  const auto key = test_key(42);
  const std::string agent = "agent-webhook-2";
  env.add_agent(agent, key);
  Receiver r;
  r.script({Answer::kOk, Answer::kHang}, Answer::kOk);
  const std::string config = write_config(env.root, {{"oncall", r.url(), "informational", ""}});
  CollectorProcess c(env.data, {"--config", config});
  REQUIRE(c.running());
  const auto chain = seal(key, agent,
                          {{unmonitored_start(agent, kT0, "run-1")},
                           {loss(agent, kT0 + 1000, "run-1")},
                           {build_event(agent, kT0 + 2000, events::ProcessExit{}, "run-1")},
                           {build_event(agent, kT0 + 3000, events::ProcessExit{}, "run-1")}});
  for (std::size_t i : {0, 1, 3}) CHECK(post(c.url("/v1/batches"), chain[i].bytes).status == 200);  // seq 3: a gap
  REQUIRE(r.wait_for([](const std::vector<Request>& rs) { return rs.size() >= 2; }));
  REQUIRE(eventually([&] { return alerts_of(env.data).size() >= 3; }));
  const auto first = r.requests();
  CHECK(c.stop(SIGKILL) == 128 + SIGKILL);
  r.release();  // the hung request answers a dead connection
  REQUIRE(c.start());
  REQUIRE(eventually([&] { return covers(r.delivered(), ids(alerts_of(env.data))); }));
  const auto stored = alerts_of(env.data);
  const auto delivered = r.delivered();
  const int64_t in_flight = std::stoll(first[1].delivery);
  CHECK(delivered.count(std::stoll(first[0].delivery)) == 1);  // acknowledged before the kill: not again
  for (int64_t id : ids(stored)) {
    INFO("alert " << id);
    CHECK(delivered.count(id) >= 1);
    if (id != in_flight) CHECK(delivered.count(id) == 1);
  }
  // The receiver records an alert before it answers: the cursor follows the answer.
  CHECK(eventually([&] { return cursor_of(env.data, "output.oncall") == *ids(stored).rbegin(); }));
}

TEST_CASE("webhook: a receiver that never answers slows neither ingest nor serve's stop") {
  CollectorData env("webhook-hang");
  const auto key = test_key(43);
  const std::string agent = "agent-webhook-3";
  env.add_agent(agent, key);
  Receiver r;
  r.script({}, Answer::kHang);
  const std::string config = write_config(env.root, {{"stuck", r.url(), "informational", "timeout_ms = 600000\n"}});
  CollectorProcess c(env.data, {"--config", config});
  REQUIRE(c.running());
  const auto chain = seal(key, agent,
                          {{unmonitored_start(agent, kT0, "run-1")},
                           {loss(agent, kT0 + 1000, "run-1")},
                           {build_event(agent, kT0 + 2000, events::ProcessExit{}, "run-1")}});
  CHECK(post(c.url("/v1/batches"), chain[0].bytes).status == 200);
  REQUIRE(r.wait_for([](const std::vector<Request>& rs) { return !rs.empty(); }));
  // The output's thread is inside a request that will not end: batches are
  // still stored and acknowledged, and the detector still raises alerts.
  CHECK(post(c.url("/v1/batches"), chain[1].bytes).status == 200);
  CHECK(post(c.url("/v1/batches"), chain[2].bytes).status == 200);
  CHECK(eventually([&] { return alerts_of(env.data).size() >= 2; }));
  CHECK(r.requests().size() == 1);
  const auto t0 = std::chrono::steady_clock::now();
  CHECK(c.stop(SIGTERM) == 0);
  // The request would last 600 s; stop aborts it (a bound far from flaky).
  CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::seconds(10));
  CHECK(c.log().find("stopped") != std::string::npos);
}

TEST_CASE(
    "webhook: a receiver that answers 200 with a 256 MiB body costs the collector neither memory nor its alerts") {
  CollectorData env("webhook-huge");
  const auto key = test_key(45);
  const std::string agent = "agent-webhook-5";
  env.add_agent(agent, key);
  Receiver r;
  r.script({}, Answer::kHuge);
  const std::string config = write_config(env.root, {{"huge", r.url(), "informational", "timeout_ms = 60000\n"}});
  CollectorProcess c(env.data, {"--config", config});
  REQUIRE(c.running());
  const auto chain = seal(key, agent, {{unmonitored_start(agent, kT0, "run-1"), loss(agent, kT0 + 1000, "run-1")}});
  CHECK(post(c.url("/v1/batches"), chain[0].bytes).status == 200);
  REQUIRE(eventually([&] { return alerts_of(env.data).size() >= 2; }));
  const auto stored = alerts_of(env.data);
  // Each answer is read to its end (the connection is kept) and thrown
  // away past its first 512 bytes: every alert is delivered.
  REQUIRE(eventually([&] { return cursor_of(env.data, "output.huge") == *ids(stored).rbegin(); }, 120));
  CHECK(r.requests().size() == stored.size());
  auto status = fs::read_file("/proc/" + std::to_string(c.pid()) + "/status", 1 << 16);
  REQUIRE(status.ok());
  const auto at = status->find("VmHWM:");
  REQUIRE(at != std::string::npos);
  const long peak_kb = std::atol(status->c_str() + at + 6);
  INFO("collector peak RSS " << peak_kb << " KiB");
#if defined(__SANITIZE_ADDRESS__)
  MESSAGE("peak RSS not judged under AddressSanitizer (" << peak_kb << " KiB)");
#else
  CHECK(peak_kb < 128 * 1024);
#endif
  CHECK(c.stop(SIGTERM) == 0);
}

TEST_CASE("webhook: an output more than max_backlog behind skips the oldest and says so with BT-29") {
  CollectorData env("webhook-backlog");
  const auto key = test_key(44);
  const std::string agent = "agent-webhook-4";
  env.add_agent(agent, key);
  Receiver r;
  r.script({}, Answer::kUnavailable503);
  const std::string config = write_config(env.root, {{"slow", r.url(), "informational", "max_backlog = 1\n"}});
  CollectorProcess c(env.data, {"--config", config});
  REQUIRE(c.running());
  const auto chain = seal(key, agent,
                          {{unmonitored_start(agent, kT0, "run-1"), loss(agent, kT0 + 1000, "run-1")},
                           {build_event(agent, kT0 + 2000, events::ProcessExit{}, "run-1")},
                           {build_event(agent, kT0 + 3000, events::ProcessExit{}, "run-1")}});
  for (std::size_t i : {0, 2}) CHECK(post(c.url("/v1/batches"), chain[i].bytes).status == 200);  // seq 2: a gap
  auto dropped = [&] {
    for (const auto& a : alerts_of(env.data))
      if (a.title.find("Output slow dropped") != std::string::npos) return true;
    return false;
  };
  REQUIRE(eventually(dropped));
  r.script({}, Answer::kOk);
  // The BT-29 of the loss reaches the receiver: it is what it must know.
  REQUIRE(r.wait_for([](const std::vector<Request>& rs) {
    for (const auto& q : rs)
      if (q.answer == Answer::kOk && q.body.find("Output slow dropped") != std::string::npos) return true;
    return false;
  }));
  const std::string metrics = get(c.url("/metrics")).body;
  const std::string n = metric(metrics, "buildtrail_output_dropped_total{output=\"slow\"}");
  REQUIRE_FALSE(n.empty());
  CHECK(std::stoll(n) >= 2);
  CHECK(metrics.find("buildtrail_alerts_total{rule=\"BT-29\",severity=\"high\"}") != std::string::npos);
}

TEST_CASE("webhook: a config with an unknown key, a bad URL or no secret is refused at start, naming it") {
  CollectorData env("webhook-config");
  const std::string secret = env.root + "/secret";
  REQUIRE(fs::write_file_atomic(secret, std::string(kSecret), 0600).ok());
  const std::string base = "[[output]]\nname = \"x\"\ntype = \"webhook\"\nsecret_file = \"" + secret + "\"\n";
  struct Case {
    std::string toml, names;
  };
  const Case cases[] = {
      {base + "url = \"http://127.0.0.1:9/\"\ncolour = \"red\"\n", "unknown key 'colour'"},
      {base + "url = \"ftp://127.0.0.1/\"\n", "url"},
      {base + "url = \"not a url\"\n", "url"},
      {base + "url = \"http://127.0.0.1:9/\"\ntimeout_ms = \"soon\"\n", "timeout_ms"},
      {base + "url = \"http://127.0.0.1:9/\"\nmin_severity = \"urgent\"\n", "min_severity"},
      {"[[output]]\nname = \"x\"\ntype = \"webhook\"\nurl = \"http://127.0.0.1:9/\"\n", "secret_file"},
      {"[[output]]\nname = \"x\"\ntype = \"carrier-pigeon\"\n", "type"},
      {"listen = \"0.0.0.0:1\"\n", "unknown key 'listen'"},
  };
  for (const auto& k : cases) {
    INFO(k.toml);
    const std::string file = env.root + "/bad.toml";
    REQUIRE(fs::write_file_atomic(file, k.toml, 0644).ok());
    const auto run = run_command(build_path("collector/buildtrail-collector") + " serve --listen 127.0.0.1:0 --data " +
                                 env.data + " --config " + file);
    CHECK(run.exit_code == 2);
    CHECK(run.output.find(k.names) != std::string::npos);
    CHECK(std::count(run.output.begin(), run.output.end(), '\n') == 1);
    CHECK(run.output.find(kSecret) == std::string::npos);
  }
  SUBCASE("a webhook with only its required keys and a severity parses; defaults fill the rest") {
    auto parsed = collector::config::parse_toml(
        "[[output]]\nname = \"oncall\"\ntype = \"webhook\"\nurl = \"https://hooks.example.com/b\"\nsecret_file = \"" +
            secret + "\"\nmin_severity = \"high\"\n",
        "test.toml");
    REQUIRE(parsed.ok());
    REQUIRE(parsed->outputs.size() == 1);
    CHECK(parsed->outputs[0].secret == kSecret);
    CHECK(parsed->outputs[0].max_backlog == 100000);
  }
}
