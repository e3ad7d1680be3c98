// The investigation and administration tools, run as the real
// buildtrail-collector binary against a data folder filled the way ingest
// fills it: sealed batches put in the archive, their events committed to
// the store. Also the --since parser and the text helpers of collector/view.
#include <doctest/doctest.h>
#include <rapidjson/document.h>

#include <algorithm>
#include <filesystem>
#include <sstream>

#include "collector/archive/archive.h"
#include "collector/format/format.h"
#include "collector/ingest/ingest.h"
#include "collector/store/store.h"
#include "collector/view/summary.h"
#include "collector/view/text.h"
#include "collector/view/time.h"
#include "common/clock.h"
#include "common/events/json.h"
#include "common/fs.h"
#include "tests/common/test_util.h"

using namespace bt;
using namespace bt::collector;
using testing::run_command;

namespace {

constexpr uint64_t kT0 = 1795775400000000000ull;  // 2026-11-27T10:30:00Z
constexpr uint64_t kSec = 1000000000ull;
const std::string kBuildA = "jenkins-payments-api-main-1842";
const std::string kBuildB = "98765";  // a GitLab job id: all digits

store::EventRow row_of(const events::Event& e, uint32_t line) { return collector::ingest::event_row(e, line); }

std::vector<std::string> lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);) out.push_back(l);
  return out;
}

std::vector<std::string> tokens(const std::string& line) {
  std::vector<std::string> out;
  std::istringstream in(line);
  for (std::string t; in >> t;) out.push_back(t);
  return out;
}

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

// A data folder with one agent, two interleaved builds and events outside
// any build, sealed in batches of 4.
struct Data {
  std::string dir = testing::make_temp_dir("tools");
  std::string bin = testing::build_path("collector/buildtrail-collector");
  crypto::KeyPair key = testing::test_key();
  std::vector<events::Event> sealed;                   // every event, in time order
  std::vector<std::string> paths;                      // archive path of each batch
  std::vector<std::vector<std::size_t>> batch_events;  // indexes into `sealed`
  crypto::Digest tip{};                                // agent-a's last batch

  Data() {
    using K = events::Kind;
    const K build_kinds[] = {K::build_start,   K::process_exec, K::dns_query,       K::net_connect,
                             K::secret_access, K::process_exit, K::artifact_upload, K::build_end};
    auto add = [&](events::Event e) {
      e.agent_id = "agent-a";
      e.time_ns = kT0 + sealed.size() * kSec + sealed.size() * 1000000;  // distinct ms too
      sealed.push_back(std::move(e));
    };
    add(events::example_event(K::agent_start));
    for (K k : build_kinds) {
      add(events::example_event(k));
      auto b = events::example_event(k);
      b.build = events::Build{"gitlab",
                              "group/app:test",
                              kBuildB,
                              "17",
                              "https://gitlab.example.com/group/app/-/jobs/98765",
                              "https://gitlab.example.com/group/app.git",
                              "0123abcd",
                              "runner-3"};
      if (k == K::build_end) std::get<events::BuildEnd>(b.body).exit_code = 1;
      add(std::move(b));
    }
    add(events::example_event(K::agent_heartbeat));

    auto db = store::open_sqlite(dir).value();
    store::Agent agent;
    agent.id = "agent-a";
    agent.public_key = key.public_key;
    agent.inventory.hostname = "ci-agent-07";
    REQUIRE(db->add_agent(agent).ok());
    archive::Archive archive(dir);
    batch::Sealer sealer(key, "agent-a");
    crypto::Digest prev{};
    std::vector<store::BatchRecord> group;
    for (std::size_t first = 0; first < sealed.size(); first += 4) {
      std::vector<std::size_t> idx;
      for (std::size_t i = first; i < std::min(first + 4, sealed.size()); ++i) {
        sealer.add(sealed[i]);
        idx.push_back(i);
      }
      auto s = sealer.seal(paths.size() + 1, prev).value();
      prev = s.hash;
      auto path = archive.put(crypto::as_bytes(s.bytes), s.hash);
      REQUIRE(path.ok());
      store::BatchRecord r;
      r.agent_id = "agent-a";
      r.epoch = 1;
      r.header = s.header;
      r.hash = s.hash;
      r.archive_path = *path;
      r.received_ns = kT0 + first * kSec;
      r.size_bytes = s.bytes.size();
      for (std::size_t i = 0; i < idx.size(); ++i) r.events.push_back(row_of(sealed[idx[i]], static_cast<uint32_t>(i)));
      if (paths.empty()) {
        store::Finding f;
        f.kind = store::FindingKind::kLoss;
        f.seq_from = f.seq_to = 1;
        f.detail = "5123 events dropped";
        r.findings.push_back(f);
      }
      group.push_back(std::move(r));
      paths.push_back(*path);
      batch_events.push_back(idx);
    }
    // Two group commits, as ingest makes them.
    std::vector<store::BatchRecord> second(group.begin() + 2, group.end());
    group.resize(2);
    REQUIRE(db->commit(group).ok());
    REQUIRE(db->commit(second).ok());
    tip = prev;
  }

  ~Data() {
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
  Data(const Data&) = delete;
  Data& operator=(const Data&) = delete;

  testing::CommandResult run(const std::string& args) const { return run_command(bin + " " + args); }
  // Seals `evs` as agent `id`'s batch `seq` after `prev`, archives it and
  // commits its rows as ingest would; returns its hash.
  crypto::Digest commit(const std::string& id, const crypto::KeyPair& k, uint64_t seq, const crypto::Digest& prev,
                        std::vector<events::Event> evs) const {
    batch::Sealer sealer(k, id);
    for (auto& e : evs) {
      e.agent_id = id;
      sealer.add(e);
    }
    auto s = sealer.seal(seq, prev).value();
    store::BatchRecord r;
    r.agent_id = id;
    r.epoch = 1;
    r.header = s.header;
    r.hash = s.hash;
    r.archive_path = archive::Archive(dir).put(crypto::as_bytes(s.bytes), s.hash).value();
    r.received_ns = kT0 + 100 * kSec;
    for (std::size_t i = 0; i < evs.size(); ++i) r.events.push_back(row_of(evs[i], static_cast<uint32_t>(i)));
    REQUIRE(store::open_sqlite(dir).value()->commit({r}).ok());
    return s.hash;
  }
  // Enrolls another agent on another host.
  void add_agent(const std::string& id, const crypto::KeyPair& k, const std::string& host) const {
    store::Agent a;
    a.id = id;
    a.public_key = k.public_key;
    a.inventory.hostname = host;
    REQUIRE(store::open_sqlite(dir).value()->add_agent(a).ok());
  }
  // The reference of the one record of a CI build id.
  int64_t ref(const std::string& ci_build_id) const {
    store::BuildFilter filter;
    filter.ci_build_id = ci_build_id;
    auto rows = store::open_sqlite(dir, {true, 5000}).value()->builds(filter).value();
    REQUIRE(rows.size() == 1);
    return rows[0].id;
  }
  std::string data() const { return "--data " + dir; }

  std::vector<std::string> json_of(const std::function<bool(const events::Event&)>& keep) const {
    std::vector<std::string> out;
    for (const auto& e : sealed)
      if (keep(e)) out.push_back(events::to_json(e));
    return out;
  }
};

}  // namespace

TEST_CASE("agents token prints the token alone on the last line") {
  Data d;
  auto r = d.run("agents token " + d.data());
  REQUIRE_MESSAGE(r.exit_code == 0, r.output);
  auto ls = lines(r.output);
  REQUIRE(ls.size() >= 2);
  const std::string token = ls.back();
  CHECK(token.size() == 64);
  CHECK(token.find_first_not_of("0123456789abcdef") == std::string::npos);
  CHECK(contains(ls[0], "1 enrollment"));
  auto db = store::open_sqlite(d.dir).value();
  CHECK(db->use_token(token, clock::now_ns()).ok());
  CHECK_FALSE(db->use_token(token, clock::now_ns()).ok());

  auto r2 = d.run("agents token " + d.data() + " --uses 2 --ttl 1h");
  REQUIRE_MESSAGE(r2.exit_code == 0, r2.output);
  const std::string token2 = lines(r2.output).back();
  CHECK(token2 != token);
  CHECK(db->use_token(token2, clock::now_ns()).ok());
  CHECK_FALSE(db->use_token(token2, clock::now_ns() + 2 * 3600 * kSec).ok());  // expired by then
  CHECK(db->use_token(token2, clock::now_ns()).ok());
  CHECK_FALSE(db->use_token(token2, clock::now_ns()).ok());
}

TEST_CASE("agents add, list, revoke and findings") {
  Data d;
  const auto other = testing::test_key(9);
  const std::string pub = d.dir + "/other.pub";
  REQUIRE(fs::write_new_file(pub, crypto::public_key_pem(other.public_key), 0644).ok());
  const std::string expected_id = "agent-" + crypto::to_hex(crypto::key_id(other.public_key));

  auto r = d.run("agents add " + d.data() + " --pubkey " + pub);
  REQUIRE_MESSAGE(r.exit_code == 0, r.output);
  CHECK(r.output == expected_id + "\n");
  CHECK(d.run("agents add " + d.data() + " --pubkey " + pub).exit_code == 0);  // same key: fine
  auto conflict = d.run("agents add " + d.data() + " --pubkey " + pub + " --id agent-a");
  CHECK(conflict.exit_code == 1);
  CHECK(lines(conflict.output).size() == 1);
  CHECK(contains(conflict.output, "another key"));
  CHECK(d.run("agents add " + d.data() + " --pubkey " + pub + " --id 'bad id'").exit_code == 2);
  CHECK(d.run("agents add " + d.data() + " --pubkey " + d.dir + "/missing.pub").exit_code == 1);

  // Rows are ordered by agent id.
  auto row = [&](const std::string& output, const std::string& id) {
    for (const auto& l : lines(output))
      if (l.rfind(id + " ", 0) == 0) return tokens(l);
    return std::vector<std::string>{};
  };
  auto list = d.run("agents list " + d.data());
  REQUIRE_MESSAGE(list.exit_code == 0, list.output);
  auto ls = lines(list.output);
  REQUIRE(ls.size() == 3);
  CHECK(tokens(ls[0]) == std::vector<std::string>{"ID", "HOSTNAME", "REVOKED", "LAST", "SEEN", "LAST", "SEQ", "EPOCH",
                                                  "FINDINGS", "OPEN"});
  // agent-a: hostname, not revoked, last seen, last seq 5, epoch 1, one finding, open.
  CHECK(row(list.output, "agent-a") ==
        std::vector<std::string>{"agent-a", "ci-agent-07", "no", "2026-11-27T10:30:16Z", "5", "1", "1", "1"});
  CHECK(row(list.output, expected_id) == std::vector<std::string>{expected_id, "-", "no", "never", "0", "0", "0", "0"});

  auto rev = d.run("agents revoke " + d.data() + " " + expected_id);
  REQUIRE_MESSAGE(rev.exit_code == 0, rev.output);
  CHECK(rev.output == "revoked " + expected_id + " and its key\n");
  list = d.run("agents list " + d.data());
  CHECK(row(list.output, expected_id)[2] == "yes");
  CHECK(row(list.output, "agent-a")[2] == "no");
  auto missing = d.run("agents revoke " + d.data() + " agent-nope");
  CHECK(missing.exit_code == 1);
  CHECK(lines(missing.output).size() == 1);

  auto f = d.run("agents findings " + d.data() + " agent-a");
  REQUIRE_MESSAGE(f.exit_code == 0, f.output);
  CHECK(contains(f.output, "loss"));
  CHECK(contains(f.output, "5123 events dropped"));
  CHECK(contains(lines(f.output)[0], "STATUS"));
  CHECK(tokens(lines(f.output)[1])[6] == "open");
  auto none = d.run("agents findings " + d.data() + " " + expected_id);
  CHECK(none.exit_code == 0);
  CHECK(contains(none.output, "no findings"));
}

TEST_CASE("builds lists the builds with their outcome") {
  Data d;
  auto r = d.run("builds " + d.data());
  REQUIRE_MESSAGE(r.exit_code == 0, r.output);
  auto ls = lines(r.output);
  REQUIRE(ls.size() == 3);
  CHECK(tokens(ls[0]) == std::vector<std::string>{"REF", "AGENT", "HOST", "CI", "JOB", "BUILD", "START", "DURATION",
                                                  "EXIT", "EVENTS", "ALERTS", "COLLIDES"});
  auto a = tokens(ls[1]);
  REQUIRE(a.size() == 12);
  CHECK(a[0] == std::to_string(d.ref(kBuildA)));
  CHECK(a[1] == "agent-a");
  CHECK(a[2] == "ci-agent-07");  // the host the agent enrolled with
  CHECK(a[3] == "jenkins");
  CHECK(a[4] == "payments/api/main");
  CHECK(a[5] == kBuildA);
  CHECK(a[6] == "2026-11-27T10:30:01Z");
  CHECK(a[7] == "14.014s");  // build_start .. build_end
  CHECK(a[8] == "0");        // exit
  CHECK(a[9] == "8");        // events
  CHECK(a[10] == "0");       // alerts
  CHECK(a[11] == "-");       // no other agent recorded this CI build
  CHECK(tokens(ls[2]) == std::vector<std::string>{std::to_string(d.ref(kBuildB)), "agent-a", "ci-agent-07", "gitlab",
                                                  "group/app:test", kBuildB, "2026-11-27T10:30:02Z", "14.014s", "1",
                                                  "8", "0", "-"});

  auto job = d.run("builds " + d.data() + " --job payments/api/main");
  CHECK(lines(job.output).size() == 2);
  auto later = d.run("builds " + d.data() + " --since 2026-11-28T00:00:00Z");
  CHECK(later.exit_code == 0);
  CHECK(later.output == "no builds\n");
  auto limited = d.run("builds " + d.data() + " --limit 1");
  REQUIRE(lines(limited.output).size() == 2);
  CHECK(contains(lines(limited.output)[1], "gitlab"));  // the most recent
  auto by_ci = d.run("builds " + d.data() + " --ci-build " + kBuildB);
  REQUIRE(lines(by_ci.output).size() == 2);
  CHECK(contains(lines(by_ci.output)[1], kBuildB));
}

TEST_CASE("query --format jsonl returns exactly the sealed events of the build") {
  Data d;
  const auto expected = d.json_of([](const events::Event& e) { return e.build.id == kBuildA; });
  REQUIRE(expected.size() == 8);
  auto r = d.run("query " + d.data() + " --ci-build " + kBuildA + " --format jsonl");
  REQUIRE_MESSAGE(r.exit_code == 0, r.output);
  CHECK(lines(r.output) == expected);

  // By the record's reference, as `builds` prints it.
  auto by_ref = d.run("query " + d.data() + " --build " + std::to_string(d.ref(kBuildA)) + " --format=jsonl");
  CHECK(by_ref.output == r.output);
  auto gitlab = d.run("query " + d.data() + " --ci-build " + kBuildB + " --format jsonl");
  CHECK(lines(gitlab.output) == d.json_of([](const events::Event& e) { return e.build.id == kBuildB; }));

  auto kind = d.run("query " + d.data() + " --ci-build " + kBuildA + " --kind net_connect --format jsonl");
  REQUIRE_MESSAGE(kind.exit_code == 0, kind.output);
  CHECK(lines(kind.output) == d.json_of([](const events::Event& e) {
    return e.build.id == kBuildA && e.kind() == events::Kind::net_connect;
  }));
  auto execs = d.run("query " + d.data() + " --ci-build " + kBuildA + " --kind process_exec --format jsonl");
  CHECK(lines(execs.output).size() == 1);

  auto missing = d.run("query " + d.data() + " --ci-build no-such-build");
  CHECK(missing.exit_code == 1);
  CHECK(lines(missing.output) ==
        std::vector<std::string>{"buildtrail-collector query: no build with CI build id 'no-such-build'"});
  auto no_ref = d.run("query " + d.data() + " --build 999");
  CHECK(no_ref.exit_code == 1);
  CHECK(lines(no_ref.output) ==
        std::vector<std::string>{"buildtrail-collector query: no build record 999 (see `builds`)"});
}

TEST_CASE("query --format table shows the build header and a timeline") {
  Data d;
  auto r = d.run("query " + d.data() + " --ci-build " + kBuildA);
  REQUIRE_MESSAGE(r.exit_code == 0, r.output);
  const std::string& o = r.output;
  for (const char* s :
       {"build    jenkins-payments-api-main-1842 (ref ", "agent    agent-a on host ci-agent-07", "ci       jenkins",
        "job      payments/api/main #1842", "url      https://jenkins.example.com/job/payments/job/api/job/main/1842/",
        "repo     https://git.example.com/payments/api.git", "commit   9f2c1e7b4a5d3c2b1a0f9e8d7c6b5a4f3e2d1c0b",
        "runner   ci-agent-07", "started  2026-11-27T10:30:01.001Z",
        "ended    2026-11-27T10:30:15.015Z after 14.014s, exit 0",
        "events   8: build_start 1, build_end 1, process_exec 1",
        "TIME          KIND             PID      PPID     SUMMARY"})
    CHECK_MESSAGE(contains(o, s), s << "\n" << o);
  for (const char* s : {
           "10:30:01.001  build_start      48213    48190    wrap: make -j8 release",
           "process_exec     48213    48190    curl -fsS -H Authorization: Bearer "
           "[REDACTED:authorization] https://registry.example.com/v2/",
           "dns_query        48213    48190    registry.example.com A -> 203.0.113.40",
           "net_connect      48213    48190    tcp 203.0.113.40:443 (registry.example.com)",
           "secret_access    48213    48190    aws-credentials cloud open_read "
           "/var/lib/jenkins/.aws/credentials",
           "process_exit     48213    48190    exit 2 after 1.520s",
           "artifact_upload  48213    48190    docker -> registry.example.com/payments/api:1842 (1 file)",
           "build_end        48213    48190    exit 0 after 3m04s (process_exec 3120",
       })
    CHECK_MESSAGE(contains(o, s), s << "\n" << o);
  CHECK_FALSE(contains(o, "gitlab"));
  CHECK_FALSE(contains(o, "agent_start"));
  CHECK_FALSE(contains(o, "also     "));  // no other agent recorded this CI build
  CHECK(lines(o).size() == 11 + 2 + 8);

  auto kind = d.run("query " + d.data() + " --ci-build " + kBuildA + " --kind secret_access");
  REQUIRE(kind.exit_code == 0);
  CHECK(contains(kind.output, "secret_access"));
  CHECK_FALSE(contains(kind.output, "dns_query  "));
  auto none = d.run("query " + d.data() + " --ci-build " + kBuildA + " --kind loss");
  CHECK(contains(none.output, "(no events of this kind)"));
}

TEST_CASE("export prints every event, or those since T, as JSON lines") {
  Data d;
  auto all = d.run("export " + d.data() + " --format jsonl");
  REQUIRE_MESSAGE(all.exit_code == 0, all.output);
  CHECK(lines(all.output) == d.json_of([](const events::Event&) { return true; }));
  CHECK(d.run("export " + d.data()).output == all.output);

  const uint64_t t = d.sealed[9].time_ns;
  const auto since = d.json_of([&](const events::Event& e) { return e.time_ns >= t; });
  REQUIRE(since.size() == d.sealed.size() - 9);
  auto by_ns = d.run("export " + d.data() + " --since " + std::to_string(t));
  CHECK(lines(by_ns.output) == since);
  auto by_time = d.run("export " + d.data() + " --since " + view::format_rfc3339(t));  // whole seconds
  CHECK(lines(by_time.output) == since);
  // "1h" is relative to the clock; whatever it selects is a tail of the whole.
  auto recent = d.run("export " + d.data() + " --since 1h");
  CHECK(recent.exit_code == 0);
  CHECK(all.output.size() >= recent.output.size());
  CHECK(all.output.compare(all.output.size() - recent.output.size(), std::string::npos, recent.output) == 0);
  CHECK(d.run("export " + d.data() + " --since 2030-01-01T00:00:00Z").output.empty());
}

// Issue 20: the same events as OCSF records and ECS documents, one per
// line, in the same order (collector/format; tests/collector/format_test.cpp
// holds each record to the schema).
TEST_CASE("export --format ocsf|ecs prints one record per event") {
  Data d;
  const auto expected = d.json_of([](const events::Event&) { return true; });
  for (const std::string f : {"ocsf", "ecs"}) {
    auto r = d.run("export " + d.data() + " --format " + f);
    REQUIRE_MESSAGE(r.exit_code == 0, r.output);
    const auto got = lines(r.output);
    REQUIRE(got.size() == expected.size());
    for (std::size_t i = 0; i < got.size(); ++i) {
      CHECK(got[i] == format::event(f == "ocsf" ? format::Format::kOcsf : format::Format::kEcs, d.sealed[i]));
      rapidjson::Document doc;
      doc.Parse(got[i].data(), got[i].size());
      REQUIRE_FALSE(doc.HasParseError());
      if (f == "ocsf") CHECK(doc["metadata"]["version"] == "1.8.0");
      if (f == "ecs")
        CHECK(doc["event"]["dataset"] == ("buildtrail." + std::string(events::kind_name(d.sealed[i].kind()))).c_str());
    }
  }
  auto since = d.run("export " + d.data() + " --format ecs --since " + std::to_string(d.sealed[9].time_ns));
  CHECK(lines(since.output).size() == d.sealed.size() - 9);
}

TEST_CASE("a tampered archive makes query and export fail with a clear error") {
  Data d;
  // The first batch holds the start of build A: flip one payload byte.
  const std::string path = d.dir + "/" + d.paths[0];
  std::string bytes = fs::read_file(path, 1 << 20).value();
  bytes[batch::kHeaderSize + 5] ^= 0x01;
  REQUIRE(fs::write_file_atomic(path, bytes, 0640).ok());

  auto q = d.run("query " + d.data() + " --ci-build " + kBuildA + " --format jsonl");
  CHECK(q.exit_code == 1);
  auto ls = lines(q.output);
  REQUIRE(ls.size() == 1);
  CHECK(contains(ls[0],
                 "buildtrail-collector query: batch " + d.paths[0] + " (agent agent-a, seq 1) failed verification"));
  CHECK(contains(ls[0], "signature"));
  auto table = d.run("query " + d.data() + " --ci-build " + kBuildA);
  CHECK(table.exit_code == 1);
  CHECK_FALSE(contains(table.output, "build_start  "));  // no unverified event printed
  auto e = d.run("export " + d.data());
  CHECK(e.exit_code == 1);
  CHECK(contains(e.output, "failed verification"));
  CHECK_FALSE(contains(e.output, "{"));

  // The archive itself can be checked with verify and the enrolled key.
  auto pem = d.run("agents pubkey " + d.data() + " agent-a");
  REQUIRE(pem.exit_code == 0);
  CHECK(pem.output == crypto::public_key_pem(d.key.public_key));
  REQUIRE(fs::write_new_file(d.dir + "/agent-a.pub", pem.output, 0644).ok());
  auto v =
      d.run("verify --pubkey " + d.dir + "/agent-a.pub " + d.dir + "/" + d.paths[0] + " " + d.dir + "/" + d.paths[1]);
  CHECK(v.exit_code == 1);
  CHECK(contains(v.output, "bad signature"));
  CHECK(d.run("agents pubkey " + d.data() + " agent-nope").exit_code == 1);

  // Events in other batches still read.
  auto end = d.run("query " + d.data() + " --ci-build " + kBuildB + " --kind build_end --format jsonl");
  CHECK(end.exit_code == 0);
  CHECK(lines(end.output).size() == 1);

  // A validly signed batch in the wrong place is refused too.
  const std::string second = fs::read_file(d.dir + "/" + d.paths[1], 1 << 20).value();
  REQUIRE(fs::write_file_atomic(path, second, 0640).ok());
  auto swapped = d.run("query " + d.data() + " --ci-build " + kBuildA + " --format jsonl");
  CHECK(swapped.exit_code == 1);
  CHECK(contains(swapped.output, "signed as agent agent-a seq 2"));

  // A missing batch file.
  REQUIRE(::unlink(path.c_str()) == 0);
  auto gone = d.run("query " + d.data() + " --ci-build " + kBuildA + " --format jsonl");
  CHECK(gone.exit_code == 1);
  CHECK(lines(gone.output).size() == 1);
  CHECK(contains(gone.output, d.paths[0]));
  // The table prints the build header (from the store) first, then stops.
  auto gone_table = d.run("query " + d.data() + " --ci-build " + kBuildA);
  CHECK(gone_table.exit_code == 1);
  CHECK(contains(lines(gone_table.output).back(), "buildtrail-collector query: batch " + d.paths[0]));
}

TEST_CASE("verify --data checks every stored batch against the store, and lists what is not stored") {
  Data d;
  auto clean = d.run("verify " + d.data());
  CHECK_MESSAGE(clean.exit_code == 0, clean.output);
  CHECK(contains(clean.output,
                 "verified 5 stored batches: 5 ok, 0 with problems; 0 refused kept as evidence, 0 "
                 "unreferenced"));
  // A stray file in the archive is listed, not a problem (a crash before a
  // commit leaves these); a stored batch gone or replaced is.
  const std::string stray = d.dir + "/archive/ff/" + std::string(64, 'f') + ".btb";
  REQUIRE(fs::make_dirs(d.dir + "/archive/ff", 0750).ok());
  REQUIRE(fs::write_new_file(stray, "junk", 0640).ok());
  auto with_stray = d.run("verify " + d.data() + " --quiet");
  CHECK(with_stray.exit_code == 0);
  CHECK(contains(with_stray.output, stray + ": unreferenced"));
  const std::string first = d.dir + "/" + d.paths[0], second = d.dir + "/" + d.paths[1];
  REQUIRE(fs::write_file_atomic(first, fs::read_file(second, 1 << 20).value(), 0640).ok());
  REQUIRE(::unlink(second.c_str()) == 0);
  auto broken = d.run("verify " + d.data() + " --quiet");
  CHECK(broken.exit_code == 1);
  CHECK(contains(broken.output, first + ": mismatch (the file is signed as agent agent-a seq 2"));
  CHECK(contains(broken.output, second + ": missing"));
  CHECK(d.run("verify " + d.data() + " --pubkey x.pub").exit_code == 2);
  CHECK(d.run("verify " + d.data() + " " + first).exit_code == 2);
}

// Issue 17, item 7: a page may only show flags the command has.
TEST_CASE("the docs show only flags the commands know") {
  Data d;
  const std::string src = testing::env_or("BUILDTRAIL_SRC", ".");
  for (const std::string page :
       {"/README.md", "/docs/batch-format.md", "/docs/collector-store.md", "/docs/collector-api.md"}) {
    const std::string text = fs::read_file(src + page, 1 << 20).value();
    for (const std::string command : {"builds", "query", "export", "verify", "serve", "tokens"}) {
      const std::string help = d.run(command + " --help").output;
      const std::string call = "buildtrail-collector " + command + " ";
      for (auto at = text.find(call); at != std::string::npos; at = text.find(call, at + 1)) {
        const std::string rest = text.substr(at, text.find_first_of("\n`", at) - at);
        for (auto flag = rest.find("--"); flag != std::string::npos; flag = rest.find("--", flag + 2)) {
          const std::string name =
              rest.substr(flag, rest.find_first_not_of("abcdefghijklmnopqrstuvwxyz-", flag + 2) - flag);
          CHECK_MESSAGE(contains(help, name), page << ": " << rest);
        }
      }
    }
  }
}

TEST_CASE("bad flags and missing stores are one-line errors") {
  Data d;
  const std::string D = d.data();
  const std::vector<std::string> usage = {
      "builds",
      "builds " + D + " --bogus",
      "builds " + D + " extra",
      "builds " + D + " --since yesterday",
      "builds " + D + " --limit x",
      "query " + D,
      "query " + D + " --build",
      "query " + D + " --ci-build " + kBuildA + " --format xml",
      "query " + D + " --ci-build " + kBuildA + " --kind bogus",
      "export " + D + " --format csv",
      "export " + D + " --format json",
      "export " + D + " --since 5x",
      "export --since 1h",
      "agents",
      "agents frobnicate " + D,
      "agents list",
      "agents revoke " + D,
      "agents token " + D + " --uses 0",
      "agents token " + D + " --ttl forever",
      "agents add " + D,
      "agents findings " + D,
      "agents pubkey " + D,
  };
  for (const auto& args : usage) {
    auto r = d.run(args);
    CHECK_MESSAGE(r.exit_code == 2, args << ": " << r.output);
    CHECK_MESSAGE(lines(r.output).size() == 1, args << ": " << r.output);
    CHECK_MESSAGE(r.output.rfind("buildtrail-collector ", 0) == 0, args << ": " << r.output);
  }
  auto kind = d.run("query " + D + " --ci-build " + kBuildA + " --kind bogus");
  CHECK(contains(kind.output, "unknown kind 'bogus'"));
  CHECK(contains(kind.output, "process_exec"));
  CHECK(contains(kind.output, "artifact_upload"));

  for (const std::string tool : {"builds", "query --ci-build x", "export", "agents list"}) {
    auto r = d.run(tool + " --data " + d.dir + "/nowhere");
    CHECK_MESSAGE(r.exit_code == 1, tool << ": " << r.output);
    CHECK(lines(r.output).size() == 1);
    CHECK(contains(r.output, "no store at"));
  }
  auto help = d.run("query --help");
  CHECK(help.exit_code == 0);
  CHECK(contains(help.output, "--format"));
  CHECK(d.run("agents --help").exit_code == 0);
}

TEST_CASE("the tools work while the ingest writer has the store open") {
  Data d;
  auto writer = store::open_sqlite(d.dir).value();
  auto before = d.run("builds " + d.data());
  REQUIRE(before.exit_code == 0);
  // More events of build A arrive while the tools run.
  batch::Sealer sealer(d.key, "agent-a");
  auto e = events::example_event(events::Kind::process_exec);
  e.agent_id = "agent-a";
  e.time_ns = kT0 + 100 * kSec;
  sealer.add(e);
  const uint64_t seq = d.paths.size() + 1;
  auto s = sealer.seal(seq, writer->agent("agent-a").value()->last_hash).value();
  auto path = archive::Archive(d.dir).put(crypto::as_bytes(s.bytes), s.hash).value();
  store::BatchRecord r;
  r.agent_id = "agent-a";
  r.epoch = 1;
  r.header = s.header;
  r.hash = s.hash;
  r.archive_path = path;
  r.events.push_back(row_of(e, 0));
  REQUIRE(writer->commit({r}).ok());
  auto q = d.run("query " + d.data() + " --ci-build " + kBuildA + " --format jsonl");
  REQUIRE_MESSAGE(q.exit_code == 0, q.output);
  CHECK(lines(q.output).size() == 9);
  CHECK(lines(q.output).back() == events::to_json(e));
  auto add = d.run("agents token " + d.data());
  CHECK(add.exit_code == 0);
  CHECK(writer->agents().value().size() == 1);
}

// Issue 17, item 11: `query --build 7` opened the build whose CI id is "7"
// rather than the record 7. A record reference and a CI build id are two
// flags; neither is ever taken for the other.
TEST_CASE("issue 17/11: --build takes only a record reference; a CI build id naming several records is an error") {
  Data d;
  const int64_t ref_a = d.ref(kBuildA);
  // The attack: a build whose CI id is build A's reference.
  auto decoy = events::example_event(events::Kind::process_exec);
  decoy.agent_id = "agent-a";
  decoy.time_ns = kT0 + 50 * kSec;
  decoy.build.id = std::to_string(ref_a);
  d.commit("agent-a", d.key, d.paths.size() + 1, d.tip, {decoy});

  auto by_ref = d.run("query " + d.data() + " --build " + std::to_string(ref_a) + " --format jsonl");
  REQUIRE_MESSAGE(by_ref.exit_code == 0, by_ref.output);
  CHECK(lines(by_ref.output) == d.json_of([](const events::Event& e) { return e.build.id == kBuildA; }));
  auto by_ci = d.run("query " + d.data() + " --ci-build " + std::to_string(ref_a) + " --format jsonl");
  REQUIRE_MESSAGE(by_ci.exit_code == 0, by_ci.output);
  CHECK(lines(by_ci.output) == std::vector<std::string>{events::to_json(decoy)});

  // Anything but a reference given to --build is refused, never looked up
  // as a CI id; so is giving both flags or neither.
  for (const std::string& bad : {kBuildA, kBuildB + "x", std::string("0"), std::string("-1"), std::string("1.0"),
                                 std::string("99999999999999999999"), std::string("' 1'")}) {
    auto r = d.run("query " + d.data() + " --build " + bad);
    CHECK_MESSAGE(r.exit_code == 2, bad << ": " << r.output);
    CHECK(lines(r.output).size() == 1);
    CHECK_MESSAGE(contains(r.output, "--build takes the REF column of `builds`"), r.output);
  }
  auto both = d.run("query " + d.data() + " --build 1 --ci-build " + kBuildA);
  CHECK(both.exit_code == 2);
  CHECK(contains(both.output, "give one of --build REF or --ci-build ID"));

  // The same CI id from a second agent: two records, and --ci-build says
  // which ones rather than picking one.
  const auto other = testing::test_key(9);
  d.add_agent("agent-b", other, "other-host");
  auto copy = events::example_event(events::Kind::process_exec);
  copy.time_ns = kT0 + 60 * kSec;
  d.commit("agent-b", other, 1, crypto::Digest{}, {copy});
  REQUIRE(copy.build.id == kBuildA);
  auto ambiguous = d.run("query " + d.data() + " --ci-build " + kBuildA + " --format jsonl");
  CHECK(ambiguous.exit_code == 1);
  REQUIRE(lines(ambiguous.output).size() == 1);
  store::BuildFilter shared;
  shared.ci_build_id = kBuildA;
  const auto records = store::open_sqlite(d.dir, {true, 5000}).value()->builds(shared).value();
  REQUIRE(records.size() == 2);
  const int64_t ref_b = records[0].agent_id == "agent-b" ? records[0].id : records[1].id;
  CHECK_MESSAGE(contains(ambiguous.output, "CI build id '" + kBuildA + "' names 2 build records: " +
                                               std::to_string(ref_b) + " (agent agent-b, host other-host), " +
                                               std::to_string(ref_a) + " (agent agent-a, host ci-agent-07)"),
                ambiguous.output);
  CHECK(contains(ambiguous.output, "choose one with --build REF"));
  CHECK_FALSE(contains(ambiguous.output, "{"));
}

// ---- helpers of collector/view ------------------------------------------------------

TEST_CASE("--since accepts RFC 3339, durations ago and ns since the epoch") {
  using view::parse_since;
  const uint64_t now = kT0 + 3600 * kSec;  // 2026-11-27T11:30:00Z
  CHECK(parse_since("2026-11-27T10:30:00Z", now).value() == kT0);
  CHECK(parse_since("2026-11-27t10:30:00z", now).value() == kT0);
  CHECK(parse_since("2026-11-27T10:30:00.123Z", now).value() == kT0 + 123000000);
  CHECK(parse_since("2026-11-27T10:30:00.000000001Z", now).value() == kT0 + 1);
  CHECK(parse_since("2026-11-27T12:30:00+02:00", now).value() == kT0);
  CHECK(parse_since("2026-11-27T08:00:00-02:30", now).value() == kT0);
  CHECK(parse_since("2026-11-27", now).value() == kT0 - (10 * 3600 + 30 * 60) * kSec);
  CHECK(parse_since("1970-01-01T00:00:00Z", now).value() == 0);
  CHECK(parse_since("2024-02-29T00:00:00Z", now).value() == 1709164800ull * kSec);
  CHECK(parse_since("90s", now).value() == now - 90 * kSec);
  CHECK(parse_since("30m", now).value() == now - 30 * 60 * kSec);
  CHECK(parse_since("2h", now).value() == now - 2 * 3600 * kSec);
  CHECK(parse_since("7d", now).value() == now - 7 * 86400 * kSec);
  CHECK(parse_since("1h30m", now).value() == now - 5400 * kSec);
  CHECK(parse_since("100000d", now).value() == 0);  // before the epoch: everything
  CHECK(parse_since("1795775400000000000", now).value() == kT0);
  CHECK(parse_since("0", now).value() == 0);
  for (const char* bad : {"",
                          "yesterday",
                          "5x",
                          "-5m",
                          "0s",
                          "1.5h",
                          "2026-11-27T10:30:00",
                          "2026-13-01T00:00:00Z",
                          "2026-02-30",
                          "2025-02-29",
                          "2026-11-27T24:00:00Z",
                          "2026-11-27T10:60:00Z",
                          "2026-11-27 10:30:00Z",
                          "2026-11-27T10:30:00.Z",
                          "2026-11-27T10:30:00.1234567890Z",
                          "2026-11-27T10:30:00+0200",
                          "1969-12-31T23:59:59Z",
                          "99999999999999999999",
                          "99999999999999999999d",
                          "d",
                          "h5",
                          "2026-11-27T10:30:00Zjunk"}) {
    auto r = parse_since(bad, now);
    CHECK_MESSAGE(!r.ok(), bad);
    if (!r.ok()) CHECK(r.error().code == ErrorCode::kInvalidArgument);
  }
  CHECK(view::parse_duration("24h").value() == 86400 * kSec);
  CHECK_FALSE(view::parse_duration("24").ok());
  CHECK_FALSE(view::parse_duration("0h").ok());
}

TEST_CASE("time and text formatting") {
  CHECK(view::format_rfc3339(kT0 + 999000000) == "2026-11-27T10:30:00Z");
  CHECK(view::format_rfc3339_ms(kT0 + 123456789) == "2026-11-27T10:30:00.123Z");
  CHECK(view::format_clock_ms(kT0 + 123456789) == "10:30:00.123");
  CHECK(view::format_date(kT0) == "2026-11-27");
  CHECK(view::format_duration(850000000) == "850ms");
  CHECK(view::format_duration(1520000000) == "1.520s");
  CHECK(view::format_duration(184250000000ull) == "3m04s");
  CHECK(view::format_duration(7500 * kSec) == "2h05m");
  CHECK(view::format_duration(3 * 86400 * kSec + 4 * 3600 * kSec) == "3d04h");
  for (uint64_t t : {kT0, kT0 + 1, uint64_t{0}, uint64_t{951782400} * kSec})
    CHECK(view::parse_since(view::format_rfc3339_ms(t), 0).value() == t / 1000000 * 1000000);

  CHECK(view::printable("plain text, caf\xc3\xa9 \xf0\x9f\x94\x91") == "plain text, caf\xc3\xa9 \xf0\x9f\x94\x91");
  CHECK(view::printable("a\x1b[31mb\n\t\x7f") == "a\\x1b[31mb\\x0a\\x09\\x7f");
  CHECK(view::printable("\xc2\x9b"
                        "2J") == "\\u{009b}2J");  // C1 CSI
  CHECK(view::printable("abc\xe2\x80\xae"
                        "evil") == "abc\\u{202e}evil");  // bidi override
  CHECK(view::printable("bad \xff\xc3 utf8") == "bad \\xff\\xc3 utf8");
  CHECK(view::truncate("short", 10) == "short");
  CHECK(view::truncate("0123456789abc", 10) == "0123456...");
  CHECK(view::truncate("\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9", 4) == "\xc3\xa9...");

  auto exec = events::example_event(events::Kind::process_exec);
  std::get<events::ProcessExec>(exec.body).argv = {"sh", "-c", std::string(300, 'x')};
  const std::string s = view::summary(exec);
  CHECK(s.size() == 120);
  CHECK(s.rfind("sh -c xxx", 0) == 0);
  CHECK(s.substr(117) == "...");
  auto net = events::example_event(events::Kind::net_connect);
  auto& n = std::get<events::NetConnect>(net.body);
  n.daddr = "2001:db8::1";
  n.result = -111;
  n.dns_name.clear();
  CHECK(view::summary(net) == "tcp [2001:db8::1]:443 failed: errno 111");
  auto dns = events::example_event(events::Kind::dns_query);
  std::get<events::DnsQuery>(dns.body).answers.clear();
  std::get<events::DnsQuery>(dns.body).rcode = "NXDOMAIN";
  CHECK(view::summary(dns) == "registry.example.com A -> NXDOMAIN");
  CHECK(view::summary(events::example_event(events::Kind::loss)) ==
        "dropped spool_full 5120, ring_full 3 (10:29:58.000 - 10:29:59.999)");
  CHECK(view::summary(events::example_event(events::Kind::agent_start)) ==
        "agent 0.1.0 daemon, Debian GNU/Linux 12 (bookworm), kernel 6.1.0-27-amd64, ci jenkins");
  auto hostile = events::example_event(events::Kind::process_exec);
  std::get<events::ProcessExec>(hostile.body).argv = {"echo", "\x1b]0;pwned\x07"};
  CHECK(view::summary(hostile) == "echo \\x1b]0;pwned\\x07");
}
