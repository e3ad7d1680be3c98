// What the tools print of hostile records (issue 17, items 13 and 14): an
// agent enrolls and sends its batches through the real ingest code (in this
// process), then the real buildtrail-collector binary shows them. Every
// string an agent controls carries escape sequences, fake lines, U+2028/9
// and a bidi override, or is a megabyte long; no command may pass the
// former raw to a terminal, nor print the latter whole outside the evidence.
#include <doctest/doctest.h>

#include <filesystem>
#include <sstream>

#include "collector/ingest/ingest.h"
#include "collector/metrics/metrics.h"
#include "collector/store/store.h"
#include "common/bounds.h"
#include "common/clock.h"
#include "common/events/examples.h"
#include "common/events/json.h"
#include "tests/common/terminal.h"
#include "tests/common/test_util.h"

using namespace bt;
using namespace bt::collector;
using testing::kHostile;
using testing::run_command;
using testing::terminal_unsafe;

namespace {

constexpr uint64_t kT0 = 1795775400000000000ull;  // 2026-11-27T10:30:00Z
const std::string kAgent = "agent-h";
// kHostile as printable() shows it; invalid UTF-8 never reaches a batch (the
// encoder writes U+FFFD for it), so recorded strings end in U+FFFD instead.
const std::string kShown =
    "x\\x1b[2J\\x0dFAKE\\x0averified 9 batches: 9 ok\\x7f\\u{2028}\\u{2029}\\u{202e}evil\\u{009b}1m";
// A recorded kHostile as printable() shows it.
const std::string kShownRecorded = kShown + "\xef\xbf\xbd";
// kHostile in JSON output.
const std::string kJsonShown = "x\\u001B[2J\\rFAKE\\nverified 9 batches: 9 ok\\u007F\\u2028\\u2029\\u202Eevil\\u009B1m";

bool contains(const std::string& hay, const std::string& needle) { return hay.find(needle) != std::string::npos; }

std::size_t longest_line(const std::string& text) {
  std::size_t longest = 0;
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);) longest = std::max(longest, l.size());
  return longest;
}

// A JSON string literal of `s` (for the enroll body).
std::string json_string(const std::string& s) {
  auto e = events::example_event(events::Kind::agent_stop);
  e.host = s;
  const std::string json = events::to_json(e);
  const auto at = json.find("\"host\":") + 7;
  return json.substr(at, json.find("\",\"", at) + 1 - at);
}

// A data folder filled through ingest, and the collector binary to read it.
struct Collector {
  std::string dir = testing::make_temp_dir("output");
  std::string bin = testing::build_path("collector/buildtrail-collector");
  crypto::KeyPair key = testing::test_key(21);
  metrics::Metrics metrics;
  std::unique_ptr<ingest::Ingest> ingest;
  uint64_t seq = 0;
  crypto::Digest prev{};

  Collector() {
    ingest::Config config;
    config.data_dir = dir;
    ingest = ingest::Ingest::start(config, store::open_sqlite(dir).value(), store::open_sqlite(dir).value(), metrics)
                 .value();
  }
  ~Collector() {
    ingest->stop();
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
  Collector(const Collector&) = delete;
  Collector& operator=(const Collector&) = delete;

  std::string token() {
    store::Token t;
    t.secret = "tok-" + std::to_string(seq) + "-" + std::to_string(clock::now_ns());
    t.expires_ns = clock::now_ns() + 3600ull * 1000000000;
    REQUIRE(store::open_sqlite(dir).value()->add_token(t).ok());
    return t.secret;
  }
  ingest::Outcome enroll(const std::string& inventory_json) {
    return ingest->enroll("{\"token\":\"" + token() + "\",\"agent_id\":\"" + kAgent +
                          "\",\"public_key\":" + json_string(crypto::public_key_pem(key.public_key)) +
                          ",\"inventory\":" + inventory_json + "}");
  }
  ingest::Outcome send(std::vector<events::Event> evs) {
    batch::Sealer sealer(key, kAgent);
    for (auto& e : evs) REQUIRE(sealer.add(e));
    auto s = sealer.seal(++seq, prev).value();
    prev = s.hash;
    return ingest->submit_batch(crypto::as_bytes(s.bytes));
  }
  testing::CommandResult run(const std::string& args) const { return run_command(bin + " " + args); }
  std::string data() const { return "--data " + dir; }
};

events::Event event(events::Kind kind, uint64_t i) {
  auto e = events::example_event(kind);
  e.agent_id = kAgent;
  e.time_ns = kT0 + i * 1000000;
  return e;
}

// One build, "hostile-1", each of whose strings an agent controls is hostile.
std::vector<events::Event> hostile_build() {
  const std::string h(kHostile);
  using K = events::Kind;
  std::vector<events::Event> out;
  for (K k : {K::build_start, K::process_exec, K::dns_query, K::net_connect, K::secret_access, K::artifact_upload,
              K::build_end}) {
    auto e = event(k, out.size());
    e.host = h;
    e.build = events::Build{"jenkins", "job-" + h, "hostile-1", h, "https://ci.example.com/" + h, "repo-" + h, h, h};
    e.process.exe = "/usr/bin/" + h;
    if (auto* b = std::get_if<events::BuildStart>(&e.body)) b->command = {"make", h};
    if (auto* b = std::get_if<events::ProcessExec>(&e.body)) b->argv = {"echo", h};
    if (auto* b = std::get_if<events::DnsQuery>(&e.body)) b->name = h;
    if (auto* b = std::get_if<events::NetConnect>(&e.body)) b->dns_name = h;
    if (auto* b = std::get_if<events::SecretAccess>(&e.body)) b->path = "/home/" + h;
    if (auto* b = std::get_if<events::ArtifactUpload>(&e.body)) b->destination = h;
    out.push_back(std::move(e));
  }
  auto loss = event(K::loss, out.size());
  loss.host = h;
  loss.build = out.back().build;
  std::get<events::Loss>(loss.body).counts = {{h, 3}};
  out.push_back(std::move(loss));
  return out;
}

void check_safe(const testing::CommandResult& r, const std::string& what) {
  CHECK_MESSAGE(terminal_unsafe(r.output).empty(), what << ": " << terminal_unsafe(r.output) << "\n" << r.output);
}

}  // namespace

TEST_CASE("issue 17/13: every command shows hostile text escaped") {
  Collector c;
  auto enrolled = c.enroll("{\"hostname\":" + json_string(std::string(kHostile)) + ",\"os\":\"Linux\"}");
  REQUIRE_MESSAGE(enrolled.status == 200, enrolled.body);
  auto stored = c.send(hostile_build());
  REQUIRE_MESSAGE(stored.status == 200, stored.body);

  auto builds = c.run("builds " + c.data());
  REQUIRE_MESSAGE(builds.exit_code == 0, builds.output);
  check_safe(builds, "builds");
  CHECK(contains(builds.output, "job-" + kShown));

  auto table = c.run("query " + c.data() + " --ci-build hostile-1");
  REQUIRE_MESSAGE(table.exit_code == 0, table.output);
  check_safe(table, "query");
  for (const std::string& s : {"job      job-" + kShown, "url      https://ci.example.com/" + kShown,
                               "runner   " + kShown, "echo " + kShown, kShownRecorded + " A -> "})
    CHECK_MESSAGE(contains(table.output, s), s << "\n" << table.output);

  // JSON lines: the same events, decoded to the same strings, escaped.
  for (const std::string& args : {"query " + c.data() + " --ci-build hostile-1 --format jsonl", "export " + c.data()}) {
    auto r = c.run(args);
    REQUIRE_MESSAGE(r.exit_code == 0, r.output);
    check_safe(r, args);
    CHECK(contains(r.output, "\"echo\",\"" + kJsonShown));
    std::istringstream in(r.output);
    std::size_t n = 0;
    for (std::string line; std::getline(in, line); ++n) {
      auto e = events::from_json(line);
      REQUIRE_MESSAGE(e.ok(), line);
      CHECK(e->host == std::string(testing::kHostileUtf8) + "\xef\xbf\xbd");
    }
    CHECK(n == 8);
  }

  auto list = c.run("agents list " + c.data());
  REQUIRE_MESSAGE(list.exit_code == 0, list.output);
  check_safe(list, "agents list");
  CHECK(contains(list.output, kAgent + "  " + kShown));

  auto findings = c.run("agents findings " + c.data() + " " + kAgent);
  REQUIRE_MESSAGE(findings.exit_code == 0, findings.output);
  check_safe(findings, "agents findings");
  CHECK(contains(findings.output, "agent reported dropped events: " + kShown));

  auto verified = c.run("verify " + c.data());
  CHECK_MESSAGE(verified.exit_code == 0, verified.output);
  check_safe(verified, "verify --data");

  // Errors, and answers, that quote what they were given.
  const std::string arg = "\"$(printf 'x\\033[2J\\rFAKE\\n\\342\\200\\256\\377')\"";
  const std::string arg_shown = "x\\x1b[2J\\x0dFAKE\\x0a\\u{202e}\\xff";
  for (const std::string& args : {"query " + c.data() + " --build " + arg, "agents findings " + c.data() + " " + arg,
                                  "agents pubkey " + c.data() + " " + arg, "builds " + c.data() + " --since " + arg,
                                  "query " + c.data() + " --ci-build hostile-1 --kind " + arg, arg}) {
    auto r = c.run(args);
    check_safe(r, args);
    CHECK_MESSAGE(contains(r.output, arg_shown), args << ": " << r.output);
  }
}

TEST_CASE("issue 17/14: a megabyte host, build id and exe are stored whole in the batch, shown cut and flagged") {
  Collector c;
  // The attack at enrollment: refused, one line naming the field.
  auto huge = c.enroll("{\"hostname\":\"" + std::string(2 << 20, 'h') + "\"}");
  CHECK(huge.status == 400);
  CHECK(huge.body == "{\"error\":\"'inventory.hostname' is 2097152 bytes, at most 253\"}\n");
  CHECK(c.run("agents list " + c.data()).output == "no agents\n");
  REQUIRE(c.enroll("{\"hostname\":\"ci-7\"}").status == 200);

  // The attack in events: the batch is evidence, so it is kept.
  std::vector<events::Event> sent;
  for (std::size_t i = 0; i < 4; ++i) sent.push_back(event(events::Kind::process_exec, i));
  sent[0].host = std::string(1 << 20, 'h');
  sent[1].build.id = std::string(1 << 20, 'b');
  sent[2].process.exe = "/" + std::string(1 << 20, 'x');
  sent[3].build.id = std::string(1 << 20, 'b') + "2";  // shares its first megabyte
  auto stored = c.send(sent);
  REQUIRE_MESSAGE(stored.status == 200, stored.body);

  auto builds = c.run("builds " + c.data());
  REQUIRE_MESSAGE(builds.exit_code == 0, builds.output);
  CHECK(longest_line(builds.output) < 2048);
  CHECK(contains(builds.output, "...[cut from 1048576 bytes, sha256 "));
  CHECK(contains(builds.output, "...[cut from 1048577 bytes, sha256 "));  // two builds, not one

  auto list = c.run("agents list " + c.data());
  CHECK(longest_line(list.output) < 512);
  auto findings = c.run("agents findings " + c.data() + " " + kAgent);
  REQUIRE_MESSAGE(findings.exit_code == 0, findings.output);
  CHECK_MESSAGE(contains(findings.output, "oversized"), findings.output);
  CHECK_MESSAGE(contains(findings.output,
                         "4 events with fields over their bounds, indexed cut (the batch keeps them whole): host "
                         "(over 253 bytes) in 1, build.id (over 1024 bytes) in 2, process.exe (over 4096 bytes) in 1"),
                findings.output);
  CHECK(longest_line(findings.output) < 1024);

  // The evidence itself is whole, and verifies.
  auto exported = c.run("export " + c.data());
  REQUIRE(exported.exit_code == 0);
  std::istringstream in(exported.output);
  std::vector<events::Event> back;
  for (std::string line; std::getline(in, line);) back.push_back(events::from_json(line).value());
  CHECK(back == sent);
  CHECK(c.run("verify " + c.data()).exit_code == 0);
}

TEST_CASE("issue 17/14: a host name stored before bounds existed does not make every listing line that long") {
  Collector c;
  store::Agent a;
  a.id = kAgent;
  a.public_key = c.key.public_key;
  a.inventory.hostname = std::string(2 << 20, 'h');
  REQUIRE(store::open_sqlite(c.dir).value()->add_agent(a).ok());
  auto list = c.run("agents list " + c.data());
  REQUIRE_MESSAGE(list.exit_code == 0, list.output.substr(0, 200));
  CHECK(longest_line(list.output) < 2200);
  CHECK(contains(list.output, kAgent + "  hhhh"));
  CHECK(contains(list.output, "h...  no"));
}
