// Forwarding the trail (issue 20): the real collector process with a config
// of outputs, signed batches over real HTTP, and real receivers: rsyslog
// (TLS with a client certificate, UDP), syslog-ng (TCP, octet counting),
// and files. What the receivers parsed is read back from their own output
// files and compared with what was sent, record by record.
#include <doctest/doctest.h>
#include <rapidjson/document.h>
#include <sys/socket.h>

#include <algorithm>
#include <map>
#include <set>

#include "collector/config/config.h"
#include "collector/output/syslog/message.h"
#include "common/events/json.h"
#include "tests/collector/alert_fixtures.h"
#include "tests/collector/collector_process.h"
#include "tests/collector/octet_receiver.h"
#include "tests/collector/syslog_receivers.h"

using namespace bt;
using namespace bt::testing;

namespace {

std::string write_toml(const std::string& root, const std::string& toml) {
  const std::string file = root + "/collector.toml";
  REQUIRE(fs::write_file_atomic(file, toml, 0644).ok());
  return file;
}

// An exec whose argv carries what a hostile build can put there: line
// breaks, a forged syslog header, SD and JSON delimiters, NUL, bytes that
// are not UTF-8, terminal escapes.
events::Event hostile_exec(const std::string& agent, uint64_t t, const std::string& build_id) {
  events::ProcessExec x;
  x.argv = {
      "sh", "-c",
      std::string("echo \"x\"]\n<13>1 2026-12-07T00:00:00Z forged app - alert [a@1 b=\"c\"] {\"kind\":\"alert\"}\r\n") +
          std::string(1, '\0') + "\xff\xfe\x1b[2J\\\"]"};
  x.cwd = "/w]\"\\";
  auto e = build_event(agent, t, x, build_id);
  e.build.repository = "github.com/acme/app";
  return e;
}

events::Event connect_event(const std::string& agent, uint64_t t, const std::string& build_id,
                            const std::string& repository = "github.com/acme/app") {
  events::NetConnect n;
  n.protocol = "tcp";
  n.daddr = "127.0.0.1";
  n.dport = 443;
  n.dns_name = "example.com";
  auto e = build_event(agent, t, n, build_id);
  e.build.repository = repository;
  return e;
}

// `n` batches of `per` events each (execs and connects, one hostile exec
// per batch), seqs from 1.
std::vector<batch::Sealed> trail(const crypto::KeyPair& key, const std::string& agent, int n, int per) {
  std::vector<std::vector<events::Event>> batches;
  uint64_t t = kT0;
  for (int b = 0; b < n; ++b) {
    std::vector<events::Event> evs;
    evs.push_back(hostile_exec(agent, t++, "run-1"));
    for (int i = 1; i < per; ++i) evs.push_back(connect_event(agent, t++, "run-1"));
    batches.push_back(std::move(evs));
  }
  return seal(key, agent, batches);
}

// The record ids ("<agent>/<seq>/<line>") of every event of `chain`.
std::set<std::string> event_ids(const std::vector<batch::Sealed>& chain, const std::string& agent, int per) {
  std::set<std::string> out;
  for (std::size_t s = 0; s < chain.size(); ++s)
    for (int line = 0; line < per; ++line) out.insert(agent + "/" + std::to_string(s + 1) + "/" + std::to_string(line));
  return out;
}

struct Tally {
  std::map<std::string, int> by_id;  // record id -> times received
  int malformed = 0;                 // lines that are not one of our messages
  std::size_t duplicates() const {
    std::size_t d = 0;
    for (const auto& [id, n] : by_id) d += n - 1;
    return d;
  }
};

Tally tally(const std::vector<Received>& got) {
  Tally t;
  for (const auto& r : got) {
    auto id = r.params.find("id");
    if (id == r.params.end() || (r.msgid != "process_exec" && r.msgid != "net_connect" && r.msgid != "alert")) {
      ++t.malformed;
      continue;
    }
    ++t.by_id[id->second];
  }
  return t;
}

bool has_all(const Tally& t, const std::set<std::string>& ids) {
  return std::all_of(ids.begin(), ids.end(), [&](const std::string& id) { return t.by_id.count(id) > 0; });
}

std::string replace_address(std::string text, const std::string& from, const std::string& to) {
  text.replace(text.find(from), from.size(), to);
  return text;
}

}  // namespace

TEST_CASE("syslog: timestamps are RFC 3339 UTC with microseconds, within a second and across seconds") {
  using collector::output::syslog::timestamp;
  CHECK(timestamp(0) == "-");
  CHECK(timestamp(1796601845123456789ull) == "2026-12-07T00:04:05.123456Z");
  CHECK(timestamp(1796601845000000999ull) == "2026-12-07T00:04:05.000000Z");  // the same second, kept
  CHECK(timestamp(1796601846999999000ull) == "2026-12-07T00:04:06.999999Z");
  CHECK(timestamp(1000) == "1970-01-01T00:00:00.000001Z");
}

TEST_CASE("syslog: rsyslog over TLS (client certificate) parses every event and alert as RFC 5424") {
  TestPki pki;
  Rsyslog server(Rsyslog::Mode::kTls, &pki);
  REQUIRE_MESSAGE(server.start(), server.log());
  CollectorData env("fwd-tls");
  const auto key = test_key(51);
  const std::string agent = "agent-fwd-1";
  env.add_agent(agent, key);
  const std::string config = write_toml(env.root,
                                        "[[output]]\nname = \"siem\"\ntype = \"syslog\"\nforward = \"all\"\n"
                                        "transport = \"tls\"\naddress = \"" +
                                            server.address() + "\"\nca_file = \"" + pki.f("ca.pem") +
                                            "\"\ncert_file = \"" + pki.f("client.pem") + "\"\nkey_file = \"" +
                                            pki.f("client.key") + "\"\nbackoff_base_ms = 100\nbackoff_cap_ms = 1000\n");
  CollectorProcess c(env.data, {"--config", config});
  REQUIRE(c.running());
  const int per = 20;
  auto chain = trail(key, agent, 5, per);
  for (const auto& b : chain) CHECK(post(c.url("/v1/batches"), b.bytes).status == 200);
  const auto want = event_ids(chain, agent, per);
  REQUIRE_MESSAGE(eventually([&] { return has_all(tally(server.received()), want); }), server.log() << c.log());
  REQUIRE(eventually([&] { return !alerts_of(env.data).empty(); }));  // the hostile sh -c raises some
  const auto alerts = alerts_of(env.data);
  REQUIRE(eventually([&] {
    const auto t = tally(server.received());
    return std::all_of(alerts.begin(), alerts.end(),
                       [&](const auto& a) { return t.by_id.count(std::to_string(a.id)); });
  }));

  const auto got = server.received();
  const Tally t = tally(got);
  INFO("no message forged a second record, none was lost or split");
  CHECK(t.malformed == 0);
  CHECK(t.duplicates() == 0);
  CHECK(got.size() == want.size() + alerts.size());
  for (const auto& r : got) {
    INFO(r.sd);
    CHECK(r.params.at("id").size() > 0);
    rapidjson::Document d;
    d.Parse(r.msg.data(), r.msg.size());
    REQUIRE_MESSAGE(!d.HasParseError(), r.msg);
    if (r.msgid == "alert") {
      CHECK(r.params.count("rule") == 1);
      CHECK(std::to_string(d["id"].GetInt64()) == r.params.at("id"));
      continue;
    }
    CHECK(r.params.at("agent") == agent);
    CHECK(r.params.at("ci") == "github");
    CHECK(r.params.at("repository") == "github.com/acme/app");
    CHECK(r.params.at("kind") == r.msgid);
    CHECK(std::string(d["kind"].GetString()) == r.msgid);
    if (r.msgid == "process_exec") {
      // The argv is whole in the JSON, every hostile byte escaped.
      auto back = events::from_json(r.msg);
      REQUIRE(back.ok());
      const auto& x = std::get<events::ProcessExec>(back->body);
      CHECK(x.argv[2].find("forged app") != std::string::npos);
      CHECK(x.cwd == "/w]\"\\");
    }
  }
  const std::string metrics = get(c.url("/metrics")).body;
  CHECK(metric(metrics, "buildtrail_output_sent_total{output=\"siem\"}") == std::to_string(got.size()));
  CHECK(c.stop(SIGTERM) == 0);
}

TEST_CASE("syslog: syslog-ng down for 30 s during ingest; after it returns every event arrives, duplicates counted") {
  if (!SyslogNg::available()) {
    FAIL("syslog-ng is not unpacked in the build folder: run scripts/test-services.sh BUILD (make test does)");
    return;
  }
  SyslogNg server;
  REQUIRE_MESSAGE(server.start(), server.log());
  CollectorData env("fwd-ng");
  const auto key = test_key(52);
  const std::string agent = "agent-fwd-2";
  env.add_agent(agent, key);
  const std::string config = write_toml(env.root,
                                        "[[output]]\nname = \"relay\"\ntype = \"syslog\"\nforward = \"events\"\n"
                                        "address = \"" +
                                            server.address() +
                                            "\"\nbackoff_base_ms = 200\nbackoff_cap_ms = 2000\n"
                                            "[[output]]\nname = \"archive\"\ntype = \"file\"\nforward = \"events\"\n"
                                            "path = \"" +
                                            env.root + "/events.jsonl\"\n");
  CollectorProcess c(env.data, {"--config", config});
  REQUIRE(c.running());
  const int per = 50, n = 400;
  auto chain = trail(key, agent, n, per);
  // 40 s of ingest, a batch every 100 ms; the server is stopped from 5 s to 35 s.
  const auto t0 = std::chrono::steady_clock::now();
  bool stopped = false, restarted = false;
  std::vector<long> statuses;
  for (std::size_t i = 0; i < chain.size(); ++i) {
    const auto at = std::chrono::steady_clock::now() - t0;
    if (!stopped && at > std::chrono::seconds(5)) {
      server.stop(SIGTERM);
      stopped = true;
    }
    if (stopped && !restarted && at > std::chrono::seconds(35)) {
      REQUIRE_MESSAGE(server.start(), server.log());
      restarted = true;
    }
    const auto started = std::chrono::steady_clock::now();
    statuses.push_back(post(c.url("/v1/batches"), chain[i].bytes).status);
    std::this_thread::sleep_for(std::chrono::milliseconds(100) - (std::chrono::steady_clock::now() - started));
  }
  if (!restarted) REQUIRE(server.start());
  CHECK(std::all_of(statuses.begin(), statuses.end(), [](long s) { return s == 200; }));
  const auto want = event_ids(chain, agent, per);
  REQUIRE_MESSAGE(eventually([&] { return has_all(tally(server.received()), want); }, 120),
                  "received " << tally(server.received()).by_id.size() << " of " << want.size());
  const Tally t = tally(server.received());
  MESSAGE("syslog-ng stopped for 30 s: " << want.size() << " events, all received; " << t.duplicates()
                                         << " received twice");
  CHECK(t.malformed == 0);
  // SIGTERM: the server read what its kernel had taken before it closed.
  CHECK(t.duplicates() == 0);
  // The file output, unaffected by the other's outage, has each event once.
  auto lines = fs::read_file(env.root + "/events.jsonl", 1 << 30);
  REQUIRE(lines.ok());
  CHECK(static_cast<std::size_t>(std::count(lines->begin(), lines->end(), '\n')) == want.size());
  const std::string metrics = get(c.url("/metrics")).body;
  CHECK(std::stoll(metric(metrics, "buildtrail_output_failed_total{output=\"relay\"}")) >= 1);
  CHECK(metric(metrics, "buildtrail_output_failed_total{output=\"archive\"}") == "0");
  CHECK(c.log().find("output relay") != std::string::npos);
}

TEST_CASE(
    "syslog: a server with an unknown CA, another name or an expired certificate is refused; only that output waits") {
  TestPki pki;
  Rsyslog server(Rsyslog::Mode::kTls, &pki), expired(Rsyslog::Mode::kTls, &pki, "expired");
  REQUIRE(server.start());
  REQUIRE(expired.start());
  CollectorData env("fwd-badcert");
  const auto key = test_key(53);
  const std::string agent = "agent-fwd-3";
  env.add_agent(agent, key);
  const std::string base = "type = \"syslog\"\nforward = \"events\"\ntransport = \"tls\"\naddress = \"" +
                           server.address() + "\"\ncert_file = \"" + pki.f("client.pem") + "\"\nkey_file = \"" +
                           pki.f("client.key") + "\"\nbackoff_base_ms = 100\nbackoff_cap_ms = 500\n";
  const std::string config =
      write_toml(env.root, "[[output]]\nname = \"other-ca\"\nca_file = \"" + pki.f("other.pem") + "\"\n" + base +
                               "[[output]]\nname = \"other-name\"\nserver_name = \"siem.example.com\"\nca_file = \"" +
                               pki.f("ca.pem") + "\"\n" + base + "[[output]]\nname = \"expired\"\nca_file = \"" +
                               pki.f("ca.pem") + "\"\n" + replace_address(base, server.address(), expired.address()) +
                               "[[output]]\nname = \"file\"\ntype = \"file\"\nforward = \"events\"\npath = \"" +
                               env.root + "/events.jsonl\"\n");
  CollectorProcess c(env.data, {"--config", config});
  REQUIRE(c.running());
  auto chain = trail(key, agent, 3, 10);
  for (const auto& b : chain) CHECK(post(c.url("/v1/batches"), b.bytes).status == 200);
  REQUIRE(eventually([&] {
    auto lines = fs::read_file(env.root + "/events.jsonl", 1 << 20);
    return lines && std::count(lines->begin(), lines->end(), '\n') == 30;
  }));
  REQUIRE(eventually([&] {
    const std::string log = c.log();
    return log.find("output other-ca:") != std::string::npos && log.find("output other-name:") != std::string::npos &&
           log.find("output expired:") != std::string::npos;
  }));
  const std::string log = c.log();
  CHECK(log.find("was refused") != std::string::npos);
  CHECK(log.find("expired") != std::string::npos);
  CHECK(server.received().empty());
  CHECK(expired.received().empty());
  const std::string metrics = get(c.url("/metrics")).body;
  CHECK(metric(metrics, "buildtrail_output_sent_total{output=\"other-ca\"}") == "0");
  CHECK(std::stoll(metric(metrics, "buildtrail_output_failed_total{output=\"other-name\"}")) >= 1);
  CHECK(c.stop(SIGTERM) == 0);
}

TEST_CASE("syslog: a server that accepts and never reads, or closes mid-stream, holds only its own output") {
  OctetReceiver stuck(OctetReceiver::Mode::kNeverRead);
  OctetReceiver closing(OctetReceiver::Mode::kCloseAfter, 100, /*keep=*/true);
  CollectorData env("fwd-bad-server");
  const auto key = test_key(56);
  const std::string agent = "agent-fwd-6";
  env.add_agent(agent, key);
  const std::string common =
      "type = \"syslog\"\nforward = \"events\"\ntimeout_ms = 1000\n"
      "backoff_base_ms = 100\nbackoff_cap_ms = 500\n";
  const std::string config =
      write_toml(env.root, "[[output]]\nname = \"stuck\"\naddress = \"" + stuck.address() + "\"\n" + common +
                               "[[output]]\nname = \"closing\"\naddress = \"" + closing.address() + "\"\n" + common +
                               "[[output]]\nname = \"file\"\ntype = \"file\"\nforward = \"events\"\npath = \"" +
                               env.root + "/events.jsonl\"\n");
  CollectorProcess c(env.data, {"--config", config});
  REQUIRE(c.running());
  // 2,500 events of 2 KiB argv: more than any socket buffer holds.
  std::vector<std::vector<events::Event>> batches;
  uint64_t t = kT0;
  for (int b = 0; b < 50; ++b) {
    std::vector<events::Event> evs;
    for (int i = 0; i < 50; ++i) {
      events::ProcessExec x;
      x.argv = {"cc", std::string(2048, 'o')};
      evs.push_back(build_event(agent, t++, x, "run-1"));
    }
    batches.push_back(std::move(evs));
  }
  auto chain = seal(key, agent, batches);
  for (std::size_t i = 0; i < 40; ++i) CHECK(post(c.url("/v1/batches"), chain[i].bytes).status == 200);
  INFO("the file output has everything while the others fail");
  REQUIRE(eventually([&] {
    auto lines = fs::read_file(env.root + "/events.jsonl", 1 << 30);
    return lines && std::count(lines->begin(), lines->end(), '\n') == 2000;  // the first 40 batches
  }));
  REQUIRE(eventually([&] {
    const std::string log = c.log();
    return log.find("output stuck: stored batch") != std::string::npos &&
           log.find("output closing: stored batch") != std::string::npos;
  }));
  CHECK(c.log().find("took nothing for 1000 ms") != std::string::npos);
  CHECK(eventually([&] { return closing.connections() >= 3; }));  // it came back, and back
  INFO("once the closing server reads, every event arrives there");
  closing.set_mode(OctetReceiver::Mode::kRead);
  // What the closing server's kernel had taken before it closed counts as
  // delivered (all TCP can tell): the events sent from here on must all arrive.
  for (std::size_t i = 40; i < chain.size(); ++i) CHECK(post(c.url("/v1/batches"), chain[i].bytes).status == 200);
  std::set<std::string> want;
  for (std::size_t s = 41; s <= chain.size(); ++s)
    for (int line = 0; line < 50; ++line) want.insert(agent + "/" + std::to_string(s) + "/" + std::to_string(line));
  auto arrived = [&] {
    std::map<std::string, int> ids;
    for (const auto& m : closing.kept()) {
      const auto at = m.find(" id=\"");
      if (at != std::string::npos) ++ids[m.substr(at + 5, m.find('"', at + 5) - at - 5)];
    }
    return ids;
  };
  REQUIRE(eventually([&] {
    const auto ids = arrived();
    return std::all_of(want.begin(), want.end(), [&](const std::string& id) { return ids.count(id); });
  }));
  CHECK(closing.bad_frames() == 0);
  const std::string metrics = get(c.url("/metrics")).body;
  CHECK(std::stoll(metric(metrics, "buildtrail_output_failed_total{output=\"stuck\"}")) >= 1);
  const auto t0 = std::chrono::steady_clock::now();
  CHECK(c.stop(SIGTERM) == 0);
  CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::seconds(10));
}

TEST_CASE("outputs: an output more than max_event_backlog events behind skips the oldest batches and raises BT-29") {
  const int down_port = free_port();  // nobody listens: every connect is refused
  CollectorData env("fwd-backlog");
  const auto key = test_key(57);
  const std::string agent = "agent-fwd-7";
  env.add_agent(agent, key);
  const std::string config =
      write_toml(env.root, "[[output]]\nname = \"down\"\ntype = \"syslog\"\nforward = \"all\"\naddress = \"127.0.0.1:" +
                               std::to_string(down_port) +
                               "\"\nmax_event_backlog = 100\nbackoff_base_ms = 100\nbackoff_cap_ms = 200\n");
  CollectorProcess c(env.data, {"--config", config});
  REQUIRE(c.running());
  auto chain = trail(key, agent, 10, 30);  // 300 events, 30 a batch
  for (const auto& b : chain) CHECK(post(c.url("/v1/batches"), b.bytes).status == 200);
  auto dropped = [&]() -> std::optional<collector::store::Alert> {
    for (const auto& a : alerts_of(env.data))
      if (a.rule_id == "BT-29" && a.title.find("Output down dropped") != std::string::npos) return a;
    return std::nullopt;
  };
  REQUIRE(eventually([&] { return dropped().has_value(); }, 30));
  const auto a = *dropped();
  INFO(a.title << " / " << a.detail);
  // 300 stored, at most 100 kept: the oldest 7 batches (210 events) skipped, named by their positions.
  CHECK(a.title == "Output down dropped 210 events");
  CHECK(a.detail.find("stored batches 1..7") != std::string::npos);
  CHECK(a.severity == "high");
  REQUIRE(eventually([&] {
    return metric(get(c.url("/metrics")).body, "buildtrail_output_dropped_total{output=\"down\"}") == "210";
  }));
  CHECK(c.log().find("more than max_event_backlog (100) events behind: skipped 210") != std::string::npos);
  CHECK(c.stop(SIGTERM) == 0);
}

TEST_CASE("syslog: UDP to rsyslog, one datagram per record; a long one is cut to max_message and counted") {
  Rsyslog server(Rsyslog::Mode::kUdp);
  REQUIRE(server.start());
  CollectorData env("fwd-udp");
  const auto key = test_key(54);
  const std::string agent = "agent-fwd-4";
  env.add_agent(agent, key);
  const std::string config = write_toml(env.root,
                                        "[[output]]\nname = \"udp\"\ntype = \"syslog\"\nforward = \"events\"\n"
                                        "transport = \"udp\"\nmax_message = 600\naddress = \"" +
                                            server.address() + "\"\n");
  CollectorProcess c(env.data, {"--config", config});
  REQUIRE(c.running());
  std::vector<events::Event> evs = {connect_event(agent, kT0, "run-1"), connect_event(agent, kT0 + 1, "run-1")};
  events::ProcessExec big;
  big.argv = {"make", std::string(2000, 'a')};
  evs.push_back(build_event(agent, kT0 + 2, big, "run-1"));
  auto chain = seal(key, agent, {evs});
  CHECK(post(c.url("/v1/batches"), chain[0].bytes).status == 200);
  REQUIRE(eventually([&] { return server.received().size() >= 3; }, 20));
  const auto got = server.received();
  CHECK(got.size() == 3);
  CHECK(tally(got).by_id.size() == 3);
  CHECK(eventually(
      [&] { return metric(get(c.url("/metrics")).body, "buildtrail_output_truncated_total{output=\"udp\"}") == "1"; }));
}

TEST_CASE("file: JSON lines rotated by size, filtered by kind and repository; kill -9 resumes at the cursor") {
  CollectorData env("fwd-file");
  const auto key = test_key(55);
  const std::string agent = "agent-fwd-5";
  env.add_agent(agent, key);
  const std::string path = env.root + "/out/events.jsonl";
  REQUIRE(fs::make_dirs(env.root + "/out", 0755).ok());
  const std::string config = write_toml(
      env.root, "[[output]]\nname = \"lines\"\ntype = \"file\"\nforward = \"events\"\npath = \"" + path +
                    "\"\nmax_bytes = 65536\nmax_files = 100\n"
                    "[[output]]\nname = \"narrow\"\ntype = \"file\"\nforward = \"events\"\nkinds = [\"net_connect\"]\n"
                    "repository = \"github.com/acme/other\"\nformat = \"ecs\"\npath = \"" +
                    env.root + "/out/narrow.jsonl\"\n");
  CollectorProcess c(env.data, {"--config", config});
  REQUIRE(c.running());
  std::vector<std::vector<events::Event>> batches;
  uint64_t t = kT0;
  for (int b = 0; b < 60; ++b) {
    std::vector<events::Event> evs;
    for (int i = 0; i < 20; ++i) evs.push_back(connect_event(agent, t++, "run-1"));
    evs.push_back(connect_event(agent, t++, "run-2", "github.com/acme/other"));
    evs.push_back(hostile_exec(agent, t++, "run-2"));
    batches.push_back(std::move(evs));
  }
  auto chain = seal(key, agent, batches);
  // The cursors reach the store every 250 ms and whenever the output is
  // caught up: once it is, the records in flight at the kill are the most
  // that can be written again.
  for (std::size_t i = 0; i < 30; ++i) CHECK(post(c.url("/v1/batches"), chain[i].bytes).status == 200);
  REQUIRE(eventually([&] {
    auto st = collector::store::open_sqlite(env.data, {true, 5000});
    if (!st) return false;
    auto stored = (*st)->batches_after(0, 1000);
    auto at = (*st)->cursor("output.lines.batch");
    return stored && at && stored->size() == 30 && *at == stored->back().position;
  }));
  constexpr std::size_t kInFlight = 5;
  for (std::size_t i = 30; i < 30 + kInFlight; ++i) CHECK(post(c.url("/v1/batches"), chain[i].bytes).status == 200);
  CHECK(c.stop(SIGKILL) == 128 + SIGKILL);
  REQUIRE(c.start());
  for (std::size_t i = 30 + kInFlight; i < chain.size(); ++i)
    CHECK(post(c.url("/v1/batches"), chain[i].bytes).status == 200);

  // Every line of every file, oldest file first.
  auto all_lines = [&] {
    std::vector<std::string> out;
    for (int n = 100; n >= 0; --n) {
      auto text = fs::read_file(n ? path + "." + std::to_string(n) : path, 1 << 30);
      if (!text) continue;
      std::size_t s = 0;
      for (std::size_t e; (e = text->find('\n', s)) != std::string::npos; s = e + 1)
        out.push_back(text->substr(s, e - s));
    }
    return out;
  };
  const std::size_t total = 60 * 22;
  REQUIRE(eventually([&] {
    std::set<std::string> seen;
    for (const auto& l : all_lines()) seen.insert(l);
    return seen.size() >= total;
  }));
  const auto lines = all_lines();
  std::map<std::string, int> times;
  for (const auto& l : lines) {
    auto e = events::from_json(l);
    REQUIRE_MESSAGE(e.ok(), l);
    ++times[l];
  }
  std::size_t dup = 0;
  for (const auto& [l, n] : times) dup += n - 1;
  MESSAGE("kill -9 during forwarding: " << total << " events, " << dup << " written twice");
  CHECK(times.size() == total);
  CHECK(dup <= kInFlight * 22);  // at most what was posted after the cursor was saved
  INFO("rotation: several files, none past max_bytes");
  CHECK(::access((path + ".1").c_str(), F_OK) == 0);
  for (int n = 1; n <= 100; ++n) {
    struct stat st {};
    if (::stat((path + "." + std::to_string(n)).c_str(), &st) == 0) CHECK(st.st_size <= 65536);
  }
  INFO("the narrow output: only net_connect of github.com/acme/other, as ECS");
  REQUIRE(eventually([&] {
    auto text = fs::read_file(env.root + "/out/narrow.jsonl", 1 << 20);
    return text && std::count(text->begin(), text->end(), '\n') >= 60;
  }));
  auto narrow = fs::read_file(env.root + "/out/narrow.jsonl", 1 << 20);
  std::size_t s = 0, n = 0;
  for (std::size_t e; (e = narrow->find('\n', s)) != std::string::npos; s = e + 1, ++n) {
    rapidjson::Document d;
    const std::string l = narrow->substr(s, e - s);
    d.Parse(l.data(), l.size());
    REQUIRE(!d.HasParseError());
    CHECK(d.HasMember("@timestamp"));
    CHECK(l.find("github.com/acme/other") != std::string::npos);
    CHECK(l.find("\"process_exec\"") == std::string::npos);
  }
  CHECK(n >= 60);
  CHECK(n <= 60 + 2);
}

TEST_CASE("outputs: a config naming a bad transport, address, kind or format is refused at start, naming the key") {
  CollectorData env("fwd-config");
  const std::string syslog = "[[output]]\nname = \"s\"\ntype = \"syslog\"\n";
  const std::pair<std::string, std::string> cases[] = {
      {syslog + "address = \"127.0.0.1:514\"\ntransport = \"relp\"\n", "transport"},
      {syslog + "address = \"127.0.0.1\"\n", "address"},
      {syslog + "address = \"127.0.0.1:99999\"\n", "address"},
      {syslog + "address = \"127.0.0.1:514\"\nca_file = \"/etc/hostname\"\n", "ca_file"},
      {syslog + "address = \"127.0.0.1:514\"\nfacility = \"local9\"\n", "facility"},
      {syslog + "address = \"127.0.0.1:514\"\nsd_id = \"bad id\"\n", "sd_id"},
      {syslog + "address = \"127.0.0.1:514\"\nkinds = [\"process_exec\", \"telepathy\"]\n", "kinds"},
      {syslog + "address = \"127.0.0.1:514\"\nkinds = \"process_exec\"\n", "kinds"},
      {syslog + "address = \"127.0.0.1:514\"\nformat = \"cef\"\n", "format"},
      {syslog + "address = \"127.0.0.1:514\"\nforward = \"everything\"\n", "forward"},
      {"[[output]]\nname = \"f\"\ntype = \"file\"\npath = \"relative.jsonl\"\n", "path"},
      {"[[output]]\nname = \"f\"\ntype = \"file\"\npath = \"/nonexistent-dir/x.jsonl\"\n", "path"},
      {"[[output]]\nname = \"f\"\ntype = \"file\"\npath = \"/tmp/x.jsonl\"\nmax_bytes = 10\n", "max_bytes"},
      {"[[output]]\nname = \"f\"\ntype = \"file\"\npath = \"/tmp/x.jsonl\"\naddress = \"a:1\"\n",
       "unknown key 'address'"},
  };
  for (const auto& bad : cases) {
    const std::string& toml = bad.first;
    const std::string& names = bad.second;
    INFO(toml);
    const std::string file = env.root + "/bad.toml";
    REQUIRE(fs::write_file_atomic(file, toml, 0644).ok());
    const auto run = run_command(build_path("collector/buildtrail-collector") + " serve --listen 127.0.0.1:0 --data " +
                                 env.data + " --config " + file);
    CHECK(run.exit_code == 2);
    CHECK(run.output.find(names) != std::string::npos);
    CHECK(std::count(run.output.begin(), run.output.end(), '\n') == 1);
  }
}
