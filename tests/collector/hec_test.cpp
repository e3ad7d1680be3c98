// The splunk_hec output (issue 20) in the real collector process, against a
// receiver in this process (libmicrohttpd on loopback) that checks each
// request as Splunk documents HTTP Event Collector: the path, the
// `Authorization: Splunk <token>` header, gzip bodies (inflated here with
// zlib), a body of JSON event envelopes one after the other (read here with
// RapidJSON's kParseStopWhenDoneFlag, one at a time), the channel header
// and /services/collector/ack polling with indexer acknowledgement on. It
// answers as HEC does ({"text":"Success","code":0,"ackId":n}) and scripts
// "server busy" and acks that come late or never. No real Splunk here:
// docs/collector-config.md "Splunk HEC" says what this does not show.
#include <doctest/doctest.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <rapidjson/document.h>
#include <rapidjson/encodedstream.h>
#include <rapidjson/memorystream.h>
#include <zlib.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "collector/config/config.h"
#include "collector/format/format.h"
#include "collector/output/body.h"
#include "collector/output/hec.h"
#include "tests/collector/alert_fixtures.h"
#include "tests/collector/collector_process.h"
#include "tests/collector/mhd_body.h"
#include "tests/common/test_pki.h"

using namespace bt;
using namespace bt::testing;

namespace {

constexpr const char* kToken = "11111111-2222-3333-4444-555555555555";

std::string gunzip(const std::string& in, bool* ok) {
  z_stream z{};
  *ok = inflateInit2(&z, 15 + 16) == Z_OK;
  std::string out;
  if (!*ok) return out;
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  z.avail_in = static_cast<uInt>(in.size());
  char buf[16384];
  int rc = Z_OK;
  while (rc == Z_OK) {
    z.next_out = reinterpret_cast<Bytef*>(buf);
    z.avail_out = sizeof buf;
    rc = inflate(&z, Z_NO_FLUSH);
    out.append(buf, sizeof buf - z.avail_out);
  }
  *ok = rc == Z_STREAM_END && z.avail_in == 0;
  inflateEnd(&z);
  return out;
}

// One envelope as the receiver read it.
struct Envelope {
  double time = 0;
  std::string host, source, sourcetype, index;
  std::string event;  // the event object, written back as JSON
  int64_t pid = -1;   // the event's process.pid (buildtrail json)
  std::string exe;
};

// What a request broke of the protocol (empty: nothing).
struct EventRequest {
  std::vector<Envelope> envelopes;
  std::string problem;
  std::string channel;
  uint64_t ack_id = 0;
  unsigned status = 0;
};

enum class Script { kOk, kBusy503 };

class HecReceiver {
 public:
  // With `pki`, HTTPS with its server certificate (for 127.0.0.1).
  explicit HecReceiver(bool expect_ack, const TestPki* pki = nullptr) : expect_ack_(expect_ack), tls_(pki) {
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    const unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION | (pki ? MHD_USE_TLS : 0);
    if (pki) {
      cert_ = fs::read_file(pki->f("server.pem"), 1 << 20).value();
      key_ = fs::read_file(pki->f("server.key"), 1 << 20).value();
    }
    daemon_ =
        pki ? MHD_start_daemon(flags, 0, nullptr, nullptr, &HecReceiver::handle, this, MHD_OPTION_SOCK_ADDR, &addr,
                               MHD_OPTION_NOTIFY_COMPLETED, &free_request_body, nullptr, MHD_OPTION_HTTPS_MEM_CERT,
                               cert_.c_str(), MHD_OPTION_HTTPS_MEM_KEY, key_.c_str(), MHD_OPTION_END)
            : MHD_start_daemon(flags, 0, nullptr, nullptr, &HecReceiver::handle, this, MHD_OPTION_SOCK_ADDR, &addr,
                               MHD_OPTION_NOTIFY_COMPLETED, &free_request_body, nullptr, MHD_OPTION_END);
    REQUIRE(daemon_ != nullptr);
    port_ = MHD_get_daemon_info(daemon_, MHD_DAEMON_INFO_BIND_PORT)->port;
  }
  ~HecReceiver() { MHD_stop_daemon(daemon_); }
  std::string url() const { return (tls_ ? "https" : "http") + std::string("://127.0.0.1:") + std::to_string(port_); }
  void script(std::vector<Script> first) {
    std::lock_guard<std::mutex> lock(mu_);
    script_ = std::move(first);
  }
  // The ack of every ackId is false the first `late` polls; ackIds in
  // `never` are never acknowledged.
  void acks(int late, std::set<uint64_t> never = {}) {
    std::lock_guard<std::mutex> lock(mu_);
    ack_late_ = late;
    never_ = std::move(never);
  }
  std::vector<EventRequest> requests() {
    std::lock_guard<std::mutex> lock(mu_);
    return requests_;
  }
  std::vector<std::string> problems() {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<std::string> out = problems_;
    for (const auto& r : requests_)
      if (!r.problem.empty()) out.push_back(r.problem);
    return out;
  }
  int ack_polls() {
    std::lock_guard<std::mutex> lock(mu_);
    return ack_polls_;
  }
  // Envelopes of the requests that count as delivered: 200 and, with
  // acks, acknowledged true.
  std::vector<Envelope> delivered() {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<Envelope> out;
    for (const auto& r : requests_)
      if (r.status == 200 && (!expect_ack_ || acked_.count(r.ack_id)))
        out.insert(out.end(), r.envelopes.begin(), r.envelopes.end());
    return out;
  }

 private:
  static std::string header(MHD_Connection* c, const char* name) {
    const char* v = MHD_lookup_connection_value(c, MHD_HEADER_KIND, name);
    return v ? v : "";
  }
  static MHD_Result answer(MHD_Connection* c, unsigned status, const std::string& json) {
    MHD_Response* resp =
        MHD_create_response_from_buffer(json.size(), const_cast<char*>(json.data()), MHD_RESPMEM_MUST_COPY);
    MHD_add_response_header(resp, "Content-Type", "application/json");
    const MHD_Result ret = MHD_queue_response(c, status, resp);
    MHD_destroy_response(resp);
    return ret;
  }

  // The envelopes of one body, one JSON value after the other.
  static std::vector<Envelope> parse_body(const std::string& body, std::string* problem) {
    std::vector<Envelope> out;
    std::size_t at = 0;
    while (at < body.size()) {
      rapidjson::MemoryStream ms(body.data() + at, body.size() - at);
      rapidjson::EncodedInputStream<rapidjson::UTF8<>, rapidjson::MemoryStream> is(ms);
      rapidjson::Document d;
      d.ParseStream<rapidjson::kParseStopWhenDoneFlag | rapidjson::kParseValidateEncodingFlag>(is);
      if (d.HasParseError()) {
        *problem = "body: not a sequence of JSON objects at byte " + std::to_string(at + d.GetErrorOffset());
        return out;
      }
      at += is.Tell();
      Envelope e;
      if (!d.IsObject() || !d.HasMember("event") || !d["event"].IsObject() || !d.HasMember("time") ||
          !d["time"].IsNumber()) {
        *problem = "an envelope without an event object or a numeric time";
        return out;
      }
      e.time = d["time"].GetDouble();
      for (const auto& [key, field] : {std::pair<const char*, std::string*>{"host", &e.host},
                                       {"source", &e.source},
                                       {"sourcetype", &e.sourcetype},
                                       {"index", &e.index}})
        if (d.HasMember(key) && d[key].IsString()) *field = d[key].GetString();
      const auto& ev = d["event"];
      if (ev.HasMember("process") && ev["process"].IsObject()) {
        if (ev["process"].HasMember("pid") && ev["process"]["pid"].IsInt64()) e.pid = ev["process"]["pid"].GetInt64();
        if (ev["process"].HasMember("exe") && ev["process"]["exe"].IsString())
          e.exe.assign(ev["process"]["exe"].GetString(), ev["process"]["exe"].GetStringLength());
      }
      out.push_back(std::move(e));
      while (at < body.size() && (body[at] == ' ' || body[at] == '\n' || body[at] == '\r' || body[at] == '\t')) ++at;
    }
    return out;
  }
  MHD_Result on_event(MHD_Connection* c, const std::string& raw) {
    EventRequest r;
    if (header(c, "Authorization") != std::string("Splunk ") + kToken) {
      r.status = 403;
      std::lock_guard<std::mutex> lock(mu_);
      requests_.push_back(r);
      return answer(c, 403, "{\"text\":\"Invalid token\",\"code\":4}");
    }
    std::string body = raw;
    if (header(c, "Content-Encoding") == "gzip") {
      bool ok = false;
      body = gunzip(raw, &ok);
      if (!ok) r.problem = "Content-Encoding: gzip, but the body does not inflate";
    }
    if (header(c, "Content-Type") != "application/json") r.problem = "Content-Type is not application/json";
    if (r.problem.empty()) r.envelopes = parse_body(body, &r.problem);
    r.channel = header(c, "X-Splunk-Request-Channel");
    if (expect_ack_ && r.channel.size() != 36) r.problem = "ack on, but no channel GUID: '" + r.channel + "'";
    std::lock_guard<std::mutex> lock(mu_);
    Script s = Script::kOk;
    if (!script_.empty()) {
      s = script_.front();
      script_.erase(script_.begin());
    }
    if (!r.problem.empty()) {
      r.status = 400;
      requests_.push_back(r);
      return answer(c, 400, "{\"text\":\"Invalid data format\",\"code\":6}");
    }
    if (s == Script::kBusy503) {
      r.status = 503;
      requests_.push_back(r);
      return answer(c, 503, "{\"text\":\"Server is busy\",\"code\":9}");
    }
    r.status = 200;
    if (expect_ack_) {
      channel_ = r.channel;
      r.ack_id = next_ack_++;
      requests_.push_back(r);
      return answer(c, 200, "{\"text\":\"Success\",\"code\":0,\"ackId\":" + std::to_string(r.ack_id) + "}");
    }
    requests_.push_back(r);
    return answer(c, 200, "{\"text\":\"Success\",\"code\":0}");
  }

  MHD_Result on_ack(MHD_Connection* c, const std::string& body) {
    std::lock_guard<std::mutex> lock(mu_);
    ++ack_polls_;
    const char* q = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "channel");
    const std::string channel = q ? q : "";
    if (header(c, "Authorization") != std::string("Splunk ") + kToken)
      return answer(c, 403, "{\"text\":\"Invalid token\",\"code\":4}");
    if (channel.empty() || channel != channel_) {
      problems_.push_back("ack poll for channel '" + channel + "', events went to '" + channel_ + "'");
      return answer(c, 400, "{\"text\":\"Invalid data channel\",\"code\":11}");
    }
    rapidjson::Document d;
    d.Parse(body.data(), body.size());
    if (d.HasParseError() || !d.IsObject() || !d.HasMember("acks") || !d["acks"].IsArray()) {
      problems_.push_back("ack poll body is not {\"acks\":[...]}: " + body);
      return answer(c, 400, "{\"text\":\"Invalid data format\",\"code\":6}");
    }
    std::string out = "{\"acks\":{";
    bool first = true;
    for (const auto& v : d["acks"].GetArray()) {
      if (!v.IsUint64()) {
        problems_.push_back("ack poll with a non-integer ackId");
        continue;
      }
      const uint64_t id = v.GetUint64();
      const bool yes = !never_.count(id) && ++polls_of_[id] > ack_late_;
      if (yes) acked_.insert(id);
      out += std::string(first ? "" : ",") + "\"" + std::to_string(id) + "\":" + (yes ? "true" : "false");
      first = false;
    }
    return answer(c, 200, out + "}}");
  }

  static MHD_Result handle(void* cls, MHD_Connection* c, const char* url, const char* method, const char*,
                           const char* data, size_t* size, void** state) {
    auto* self = static_cast<HecReceiver*>(cls);
    std::string* body = request_body(data, size, state);
    if (!body) return MHD_YES;
    const std::string path = url;
    if (std::string(method) != "POST") return answer(c, 405, "{}");
    if (path == "/services/collector/event") return self->on_event(c, *body);
    if (path == "/services/collector/ack") return self->on_ack(c, *body);
    {
      std::lock_guard<std::mutex> lock(self->mu_);
      self->problems_.push_back("POST to " + path);
    }
    return answer(c, 404, "{\"text\":\"The requested URL was not found on this server.\",\"code\":404}");
  }

  bool expect_ack_;
  bool tls_ = false;
  std::string cert_, key_;  // PEM, alive as long as the daemon
  MHD_Daemon* daemon_ = nullptr;
  uint16_t port_ = 0;
  std::mutex mu_;
  std::vector<Script> script_;
  std::vector<EventRequest> requests_;
  std::vector<std::string> problems_;
  std::string channel_;
  uint64_t next_ack_ = 0;
  int ack_late_ = 0;
  int ack_polls_ = 0;
  std::set<uint64_t> never_, acked_;
  std::map<uint64_t, int> polls_of_;
};

std::string write_config(const std::string& root, const std::string& url, const std::string& token,
                         const std::string& extra) {
  const std::string token_file = root + "/hec.token";
  REQUIRE(fs::write_file_atomic(token_file, token + "\n", 0600).ok());
  const std::string toml = "[[output]]\nname = \"splunk\"\ntype = \"splunk_hec\"\nforward = \"events\"\nurl = \"" +
                           url + "\"\ntoken_file = \"" + token_file +
                           "\"\nbackoff_base_ms = 100\nbackoff_cap_ms = 500\nindex = \"ci\"\n" + extra;
  const std::string file = root + "/collector.toml";
  REQUIRE(fs::write_file_atomic(file, toml, 0644).ok());
  return file;
}

// An executable path no log line or JSON string should be able to carry
// out of its field: a newline, an envelope break, a NUL and bytes that are
// not UTF-8.
const std::string kHostile = std::string("/tmp/x\n\"}{\"event\":{\"forged\":1}}\r\n") + '\0' + "\xff\xfe\xc0\xaf";

// `n` process_exit events in batches of `per_batch`, pids 1000.., every
// tenth with the hostile executable.
std::vector<batch::Sealed> events_batches(const crypto::KeyPair& key, const std::string& agent, int n, int per_batch) {
  std::vector<std::vector<events::Event>> batches;
  for (int i = 0; i < n; ++i) {
    if (i % per_batch == 0) batches.emplace_back();
    auto e = build_event(agent, kT0 + static_cast<uint64_t>(i) * 1000000, events::ProcessExit{}, "run-1");
    e.process.pid = 1000 + static_cast<uint64_t>(i);
    e.process.exe = i % 10 == 0 ? kHostile : "/usr/bin/cc" + std::string(300, 'x');
    batches.back().push_back(e);
  }
  return seal(key, agent, batches);
}

}  // namespace

TEST_CASE(
    "hec: every event arrives once in HEC envelopes, gzip, several requests per chunk, after 503 busy, acked late") {
  CollectorData env("hec");
  const auto key = test_key(51);
  const std::string agent = "agent-hec-1";
  env.add_agent(agent, key);
  HecReceiver r(true);
  r.script({Script::kBusy503});
  r.acks(2);  // each ack true only at its third poll
  const std::string config =
      write_config(env.root, r.url() + "/", kToken, "gzip = true\nack = true\nmax_batch_bytes = 8192\n");
  CollectorProcess c(env.data, {"--config", config});
  REQUIRE(c.running());
  constexpr int kEvents = 60;
  for (const auto& b : events_batches(key, agent, kEvents, 20))
    CHECK(post(c.url("/v1/batches"), b.bytes).status == 200);

  REQUIRE(eventually([&] { return r.delivered().size() >= kEvents; }, 60));
  CHECK(r.problems().empty());
  for (const auto& p : r.problems()) INFO(p);
  const auto requests = r.requests();
  CHECK(requests.front().status == 503);
  std::map<int64_t, int> seen;
  const auto delivered = r.delivered();
  for (const auto& e : delivered) {
    ++seen[e.pid];
    CHECK(e.source == "buildtrail");
    CHECK(e.sourcetype == "buildtrail:event");
    CHECK(e.index == "ci");
    CHECK(e.host == "ci-7");
    const double want = static_cast<double>(kT0 + static_cast<uint64_t>(e.pid - 1000) * 1000000) / 1e9;
    CHECK(e.time == doctest::Approx(want).epsilon(1e-12));
  }
  INFO("count of events == count of records: the hostile executable never split an envelope");
  CHECK(delivered.size() == static_cast<std::size_t>(kEvents));
  CHECK(seen.size() == static_cast<std::size_t>(kEvents));
  for (int i = 0; i < kEvents; ++i) CHECK(seen[1000 + i] == 1);
  for (const auto& e : delivered)
    if ((e.pid - 1000) % 10 == 0) {
      // The string itself, invalid bytes as U+FFFD.
      CHECK(e.exe.find("\n\"}{\"event\":{\"forged\":1}}\r\n") != std::string::npos);
      CHECK(e.exe.find(std::string(1, '\0')) != std::string::npos);
      CHECK(e.exe.find("\xef\xbf\xbd") != std::string::npos);
    }
  INFO("a 20-event chunk of ~400-byte envelopes does not fit 8192 bytes: several requests per chunk");
  const auto taken = std::count_if(requests.begin(), requests.end(), [](const auto& q) { return q.status == 200; });
  CHECK(taken >= 6);
  CHECK(r.ack_polls() >= 3 * taken);  // each ack polled until its third answer
  std::set<std::string> channels;
  for (const auto& q : requests) channels.insert(q.channel);
  CHECK(channels.size() == 1);
  CHECK(eventually([&] {
    return metric(get(c.url("/metrics")).body, "buildtrail_output_sent_total{output=\"splunk\"}") ==
           std::to_string(kEvents);
  }));
  CHECK(c.stop(SIGTERM) == 0);
  CHECK(c.log().find(kToken) == std::string::npos);
}

TEST_CASE("hec: an ack that never comes sends the same chunk again (at-least-once)") {
  CollectorData env("hec-ack");
  const auto key = test_key(52);
  const std::string agent = "agent-hec-2";
  env.add_agent(agent, key);
  HecReceiver r(true);
  r.acks(0, {0});  // the first request's ack never comes
  const std::string config = write_config(env.root, r.url(), kToken, "ack = true\ntimeout_ms = 1500\n");
  CollectorProcess c(env.data, {"--config", config});
  REQUIRE(c.running());
  for (const auto& b : events_batches(key, agent, 5, 5)) CHECK(post(c.url("/v1/batches"), b.bytes).status == 200);
  REQUIRE(eventually([&] { return r.delivered().size() >= 5; }));
  const auto requests = r.requests();
  REQUIRE(requests.size() >= 2);
  CHECK(requests[0].ack_id == 0);
  CHECK(requests[1].envelopes.size() == requests[0].envelopes.size());
  for (std::size_t i = 0; i < requests[0].envelopes.size(); ++i)
    CHECK(requests[1].envelopes[i].pid == requests[0].envelopes[i].pid);
  CHECK(r.delivered().size() == 5);
  CHECK(r.problems().empty());
  CHECK(c.stop(SIGTERM) == 0);
  CHECK(c.log().find("no ack for ackId 0") != std::string::npos);
}

TEST_CASE("hec: over HTTPS the receiver's certificate is verified against ca_file; another CA delivers nothing") {
  CollectorData env("hec-tls");
  const auto key = test_key(55);
  const std::string agent = "agent-hec-tls";
  env.add_agent(agent, key);
  TestPki pki;
  HecReceiver r(false, &pki);
  const auto batches = events_batches(key, agent, 10, 5);
  {
    INFO("a certificate of another CA: refused by the collector, retried, nothing delivered");
    const std::string config = write_config(env.root, r.url(), kToken, "ca_file = \"" + pki.f("other.pem") + "\"\n");
    CollectorProcess c(env.data, {"--config", config});
    REQUIRE(c.running());
    CHECK(post(c.url("/v1/batches"), batches[0].bytes).status == 200);
    CHECK(eventually([&] {
      const std::string failed =
          metric(get(c.url("/metrics")).body, "buildtrail_output_failed_total{output=\"splunk\"}");
      return !failed.empty() && failed != "0";
    }));
    CHECK(r.requests().empty());
    CHECK(c.stop(SIGTERM) == 0);
    CHECK(c.log().find("certificate") != std::string::npos);
  }
  INFO("the right CA: every event, including those the first collector could not deliver");
  const std::string config = write_config(env.root, r.url(), kToken, "ca_file = \"" + pki.f("ca.pem") + "\"\n");
  CollectorProcess c(env.data, {"--config", config});
  REQUIRE(c.running());
  CHECK(post(c.url("/v1/batches"), batches[1].bytes).status == 200);
  REQUIRE(eventually([&] { return r.delivered().size() >= 10; }));
  CHECK(r.delivered().size() == 10);
  CHECK(r.problems().empty());
  CHECK(c.stop(SIGTERM) == 0);
}

TEST_CASE("hec: a wrong token (403, code 4) is counted as dropped and logged without the token") {
  CollectorData env("hec-token");
  const auto key = test_key(53);
  const std::string agent = "agent-hec-3";
  env.add_agent(agent, key);
  HecReceiver r(false);
  const std::string wrong = "wrong-token-0123456789-do-not-log";
  const std::string config = write_config(env.root, r.url(), wrong, "");
  CollectorProcess c(env.data, {"--config", config});
  REQUIRE(c.running());
  for (const auto& b : events_batches(key, agent, 4, 4)) CHECK(post(c.url("/v1/batches"), b.bytes).status == 200);
  REQUIRE(eventually([&] {
    return metric(get(c.url("/metrics")).body, "buildtrail_output_dropped_total{output=\"splunk\"}") == "4";
  }));
  CHECK(r.requests().size() == 1);
  CHECK(r.requests()[0].status == 403);
  CHECK(c.stop(SIGTERM) == 0);
  const std::string log = c.log();
  CHECK(log.find(wrong) == std::string::npos);
  CHECK(log.find("HEC code 4 (Invalid token)") != std::string::npos);
}

TEST_CASE("hec: config keys: the token file, booleans and limits are checked at start") {
  CollectorData env("hec-config");
  const std::string token = env.root + "/token";
  REQUIRE(fs::write_file_atomic(token, std::string(kToken), 0600).ok());
  const std::string base =
      "[[output]]\nname = \"s\"\ntype = \"splunk_hec\"\nurl = \"https://splunk.example.com:8088\"\n";
  auto parsed = collector::config::parse_toml(base + "token_file = \"" + token + "\"\nack = true\ngzip = true\n", "t");
  REQUIRE(parsed.ok());
  CHECK(parsed->outputs[0].ack);
  CHECK(parsed->outputs[0].gzip);
  CHECK(parsed->outputs[0].token == kToken);
  CHECK(parsed->outputs[0].max_batch_bytes == 1u << 20);
  struct Case {
    std::string toml, names;
  };
  const Case cases[] = {
      {base, "token_file"},
      {base + "token_file = \"" + env.root + "/missing\"\n", "token_file"},
      {base + "token_file = \"" + token + "\"\nack = 1\n", "ack: expected true or false"},
      {base + "token_file = \"" + token + "\"\nmax_records = 0\n", "max_records"},
      {base + "token_file = \"" + token + "\"\nencoding = \"json\"\n", "unknown key 'encoding'"},
      {base + "token_file = \"" + token + "\"\nsourcetype = \"a\\nb\"\n", "sourcetype"},
  };
  for (const auto& k : cases) {
    INFO(k.toml);
    auto bad = collector::config::parse_toml(k.toml, "t");
    REQUIRE_FALSE(bad.ok());
    CHECK(bad.error().message.find(k.names) != std::string::npos);
    CHECK(bad.error().message.find(kToken) == std::string::npos);
  }
}

TEST_CASE("hec: an envelope holds a hostile record inside its event; valid_utf8 and gzip") {
  auto e = build_event("agent-x", kT0 + 123456789, events::ProcessExit{}, "run-1");
  e.process.exe = kHostile;
  collector::output::Record r;
  r.event = &e;
  const std::string json = collector::format::event(collector::format::Format::kJson, e);
  r.text = json;
  collector::config::Output config;
  config.index = "ci";
  const std::string env = collector::output::hec::envelope(r, config, "collector-host");
  rapidjson::Document d;
  d.Parse<rapidjson::kParseValidateEncodingFlag>(env.data(), env.size());  // one value, nothing after it
  REQUIRE_FALSE(d.HasParseError());
  CHECK(std::string(d["host"].GetString()) == "ci-7");
  CHECK(std::string(d["sourcetype"].GetString()) == "buildtrail:event");
  CHECK(std::string(d["index"].GetString()) == "ci");
  CHECK(env.find("\"time\":1795775400.123,") != std::string::npos);
  const auto& exe = d["event"]["process"]["exe"];
  CHECK(std::string(exe.GetString(), exe.GetStringLength())
            .find(std::string("x\n\"}{\"event\":{\"forged\":1}}\r\n") + '\0') != std::string::npos);
  config.host = "override";
  config.sourcetype = "ci:trail";
  d.Parse(collector::output::hec::envelope(r, config, "override").c_str());
  CHECK(std::string(d["host"].GetString()) == "override");
  CHECK(std::string(d["sourcetype"].GetString()) == "ci:trail");

  namespace body = collector::output::body;
  const std::string fffd = "\xef\xbf\xbd";
  CHECK(body::valid_utf8("plain caf\xc3\xa9 \xf0\x9f\x99\x82") == "plain caf\xc3\xa9 \xf0\x9f\x99\x82");
  CHECK(body::valid_utf8("\xc0\xaf") == fffd + fffd);                             // overlong
  CHECK(body::valid_utf8("\xed\xa0\x80") == fffd + fffd + fffd);                  // a surrogate
  CHECK(body::valid_utf8("a\xe2\x82") == "a" + fffd + fffd);                      // cut short
  CHECK(body::valid_utf8("\xf4\x90\x80\x80").find("\xf4") == std::string::npos);  // past U+10FFFF
  const std::string text(100000, 'z');
  auto z = body::gzip(text);
  REQUIRE(z.ok());
  CHECK(z->size() < 1000);
  bool ok = false;
  CHECK(gunzip(*z, &ok) == text);
  CHECK(ok);
  const auto a = collector::output::hec::channel_uuid(), b = collector::output::hec::channel_uuid();
  CHECK(a.size() == 36);
  CHECK(a[14] == '4');
  CHECK(a != b);
}
