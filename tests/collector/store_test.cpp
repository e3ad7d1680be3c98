// The SQLite store through its interface: agents and tokens, group commits
// of batches (all or nothing), reading back builds, events and findings,
// hostile text, and a writer and a read-only reader side by side.
#include <doctest/doctest.h>
#include <sqlite3.h>
#include <time.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <thread>

#include "collector/ingest/ingest.h"
#include "collector/store/store.h"
#include "common/batch/batch.h"
#include "common/fs.h"
#include "tests/common/test_util.h"

using namespace bt;
using namespace bt::collector;

// Filters below name only the fields they set (designated initializers);
// the others keep their defaults on purpose.
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

namespace {

constexpr uint64_t kT0 = 1795775400000000000ull;  // 2026-11-27T10:30:00Z

store::EventRow row_of(const events::Event& e, uint32_t line) { return collector::ingest::event_row(e, line); }

store::BatchRecord record(const std::string& agent, uint64_t seq, const std::vector<events::Event>& evs,
                          uint64_t epoch = 1) {
  store::BatchRecord r;
  r.agent_id = agent;
  r.epoch = epoch;
  r.header.agent_id = agent;
  r.header.seq = seq;
  r.header.event_count = static_cast<uint32_t>(evs.size());
  r.hash = crypto::sha256(crypto::as_bytes(agent + "/" + std::to_string(epoch) + "/" + std::to_string(seq)));
  r.header.prev_hash = crypto::sha256(crypto::as_bytes(agent + std::to_string(seq - 1)));
  r.archive_path = "archive/00/" + crypto::to_hex(r.hash) + ".btb";
  r.received_ns = kT0 + seq * 1000000;
  r.size_bytes = 1000 + seq;
  for (std::size_t i = 0; i < evs.size(); ++i) r.events.push_back(row_of(evs[i], static_cast<uint32_t>(i)));
  return r;
}

events::Event event(events::Kind kind, uint64_t t, const std::string& build_id) {
  auto e = events::example_event(kind);
  e.time_ns = t;
  e.agent_id = "agent-a";
  if (!e.build.id.empty() || kind == events::Kind::loss) e.build.id = build_id;
  if (build_id.empty()) e.build = events::Build{};
  return e;
}

struct Fixture {
  std::string dir = testing::make_temp_dir("store");
  std::unique_ptr<store::Store> db = store::open_sqlite(dir).value();

  ~Fixture() {
    db.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }

  void add_agent(const std::string& id, uint8_t key_fill = 1) {
    store::Agent a;
    a.id = id;
    a.public_key.fill(key_fill);
    a.enrolled_ns = kT0;
    a.inventory.hostname = "host-" + id;
    REQUIRE(db->add_agent(a).ok());
  }
  std::vector<store::EventRef> refs(const store::EventFilter& f) {
    std::vector<store::EventRef> out;
    auto s = db->events(f, [&](const store::EventRef& r) {
      out.push_back(r);
      return true;
    });
    REQUIRE_MESSAGE(s.ok(), (s.ok() ? "" : s.error().message));
    return out;
  }
};

std::optional<crypto::Digest> hash_at(store::Store& db, const std::string& agent, uint64_t epoch, uint64_t seq) {
  auto link = db.batch_link(agent, epoch, seq).value();
  return link ? std::optional(link->hash) : std::nullopt;
}

uint64_t thread_cpu_ns() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<uint64_t>(ts.tv_nsec);
}

}  // namespace

TEST_CASE("opening: creates the store, reopens it, refuses a missing one read-only") {
  Fixture f;
  auto st = f.db->stats();
  REQUIRE(st.ok());
  CHECK(st->agents == 0);
  CHECK(st->events == 0);
  CHECK(st->db_bytes > 0);
  f.add_agent("agent-a");
  f.db.reset();
  auto again = store::open_sqlite(f.dir);
  REQUIRE(again.ok());
  CHECK((*again)->agent("agent-a").value().has_value());
  auto ro = store::open_sqlite(f.dir, {.read_only = true});
  REQUIRE(ro.ok());
  CHECK((*ro)->agents().value().size() == 1);
  CHECK_FALSE((*ro)->add_agent(store::Agent{.id = "agent-b"}).ok());

  auto missing = store::open_sqlite(f.dir + "/nope", {.read_only = true});
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.error().code == ErrorCode::kNotFound);

  const std::string junk = f.dir + "/junk";
  REQUIRE(fs::make_dirs(junk, 0700).ok());
  std::FILE* fp = std::fopen((junk + "/buildtrail.db").c_str(), "w");
  std::fputs("this is not a database, just text long enough to be read as a header......", fp);
  std::fclose(fp);
  auto bad = store::open_sqlite(junk, {.read_only = true});
  REQUIRE_FALSE(bad.ok());
  CHECK_MESSAGE(bad.error().message.find("not a buildtrail store") != std::string::npos, bad.error().message);
}

TEST_CASE("agents: add, conflict, re-enrol, revoke, revision") {
  Fixture f;
  const uint64_t rev0 = f.db->agents_revision().value();
  f.add_agent("agent-a", 1);
  const uint64_t rev1 = f.db->agents_revision().value();
  CHECK(rev1 > rev0);

  auto a = f.db->agent("agent-a").value();
  REQUIRE(a.has_value());
  CHECK(a->public_key[0] == 1);
  CHECK(a->inventory.hostname == "host-agent-a");
  CHECK(a->enrolled_ns == kT0);
  CHECK_FALSE(a->revoked);
  CHECK_FALSE(f.db->agent("agent-zz").value().has_value());

  store::Agent other;
  other.id = "agent-a";
  other.public_key.fill(2);
  auto conflict = f.db->add_agent(other);
  REQUIRE_FALSE(conflict.ok());
  CHECK(conflict.error().code == ErrorCode::kConflict);
  CHECK(f.db->agent("agent-a").value()->public_key[0] == 1);

  // The same key again refreshes the inventory and is not a key change.
  store::Agent same;
  same.id = "agent-a";
  same.public_key.fill(1);
  same.inventory.os = "Debian GNU/Linux 12";
  REQUIRE(f.db->add_agent(same).ok());
  CHECK(f.db->agent("agent-a").value()->inventory.os == "Debian GNU/Linux 12");
  CHECK(f.db->agent("agent-a").value()->inventory.hostname == "host-agent-a");
  CHECK(f.db->agents_revision().value() == rev1);

  for (const char* bad : {"", "agent/../x", "a b", "agent.1", "\xc3\xa9t\xc3\xa9"}) {
    store::Agent x;
    x.id = bad;
    auto s = f.db->add_agent(x);
    REQUIRE_FALSE(s.ok());
    CHECK(s.error().code == ErrorCode::kInvalidArgument);
  }
  CHECK_FALSE(f.db->add_agent(store::Agent{.id = std::string(65, 'a')}).ok());

  REQUIRE(f.db->revoke_agent("agent-a").ok());
  CHECK(f.db->agent("agent-a").value()->revoked);
  CHECK(f.db->agents_revision().value() > rev1);
  auto missing = f.db->revoke_agent("agent-zz");
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.error().code == ErrorCode::kNotFound);

  f.add_agent("agent-b", 3);
  auto all = f.db->agents().value();
  REQUIRE(all.size() == 2);
  CHECK(all[0].id == "agent-a");
  CHECK(all[1].id == "agent-b");
}

TEST_CASE("tokens: single use, multiple uses, expiry, unknown") {
  Fixture f;
  const uint64_t now = kT0;
  REQUIRE(f.db->add_token({"single", now + 1000, 1}).ok());
  REQUIRE(f.db->add_token({"triple", now + 1000, 3}).ok());
  REQUIRE(f.db->add_token({"expired", now - 1, 5}).ok());
  CHECK_FALSE(f.db->add_token({"single", now + 1000, 1}).ok());  // already there
  CHECK_FALSE(f.db->add_token({"zero", now + 1000, 0}).ok());

  CHECK(f.db->use_token("single", now).ok());
  auto again = f.db->use_token("single", now);
  REQUIRE_FALSE(again.ok());
  CHECK(again.error().code == ErrorCode::kNotFound);

  for (int i = 0; i < 3; ++i) CHECK(f.db->use_token("triple", now).ok());
  CHECK_FALSE(f.db->use_token("triple", now).ok());

  CHECK_FALSE(f.db->use_token("expired", now).ok());
  CHECK_FALSE(f.db->use_token("unknown", now).ok());
  REQUIRE(f.db->add_token({"late", now + 10, 1}).ok());
  CHECK_FALSE(f.db->use_token("late", now + 10).ok());  // expires_ns is exclusive
  CHECK(f.db->use_token("late", now + 9).ok());
}

TEST_CASE("tokens: a use is atomic across store instances") {
  Fixture f;
  REQUIRE(f.db->add_token({"shared", kT0 + 1000, 50}).ok());
  std::atomic<int> used{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      auto db = store::open_sqlite(f.dir).value();
      for (int i = 0; i < 30; ++i)
        if (db->use_token("shared", kT0).ok()) ++used;
    });
  }
  for (auto& t : threads) t.join();
  CHECK(used == 50);
}

TEST_CASE("commit: builds, events, findings, chain state and stats") {
  Fixture f;
  f.add_agent("agent-a");
  const std::string bid = "jenkins-payments-api-main-1842";
  using K = events::Kind;
  std::vector<events::Event> b1 = {event(K::agent_start, kT0, ""), event(K::build_start, kT0 + 1, bid),
                                   event(K::process_exec, kT0 + 2, bid), event(K::net_connect, kT0 + 3, bid),
                                   event(K::dns_query, kT0 + 4, bid)};
  std::vector<events::Event> b2 = {event(K::secret_access, kT0 + 5, bid), event(K::artifact_upload, kT0 + 6, bid),
                                   event(K::process_exit, kT0 + 7, bid), event(K::loss, kT0 + 8, bid)};
  auto end = event(K::build_end, kT0 + 9, bid);
  std::get<events::BuildEnd>(end.body).exit_code = 3;
  std::vector<events::Event> b3 = {end, event(K::agent_heartbeat, kT0 + 10, "")};

  auto r1 = record("agent-a", 1, b1);
  auto r2 = record("agent-a", 2, b2);
  store::Finding gap;
  gap.kind = store::FindingKind::kLoss;
  gap.seq_from = gap.seq_to = 2;
  gap.time_from_ns = kT0;
  gap.time_to_ns = kT0 + 8;
  gap.detail = "5123 events dropped";
  r2.findings.push_back(gap);
  REQUIRE(f.db->commit({r1, r2}).ok());
  auto r3 = record("agent-a", 3, b3);
  REQUIRE(f.db->commit({r3}).ok());
  REQUIRE(f.db->commit({}).ok());

  // One build row, counts and times from both commits.
  auto builds = f.db->builds({}).value();
  REQUIRE(builds.size() == 1);
  const store::BuildRow& b = builds[0];
  CHECK(b.build == b1[1].build);
  CHECK(b.first_ns == kT0 + 1);
  CHECK(b.last_ns == kT0 + 9);
  CHECK(b.start_ns == kT0 + 1);
  CHECK(b.end_ns == kT0 + 9);
  CHECK(b.ended);
  CHECK(b.exit_code == 3);
  const events::Counts expect = {{"build_start", 1},   {"build_end", 1},       {"process_exec", 1},
                                 {"process_exit", 1},  {"net_connect", 1},     {"dns_query", 1},
                                 {"secret_access", 1}, {"artifact_upload", 1}, {"loss", 1}};
  CHECK(b.counts == expect);
  CHECK(b.agent_id == "agent-a");
  CHECK(b.host == "host-agent-a");
  CHECK(b.collides_with.empty());
  auto by_ci = f.db->builds({.ci_build_id = bid}).value();
  REQUIRE(by_ci.size() == 1);
  CHECK(by_ci[0].id == b.id);
  CHECK(f.db->builds({.ci_build_id = "no-such-build"}).value().empty());
  auto by_ref = f.db->build(b.id).value();
  REQUIRE(by_ref.has_value());
  CHECK(by_ref->build.id == bid);
  CHECK(by_ref->agent_id == "agent-a");
  CHECK_FALSE(f.db->build(999999).value().has_value());
  CHECK(f.db->builds({.job = "payments/api/main"}).value().size() == 1);
  CHECK(f.db->builds({.job = "other"}).value().empty());
  CHECK(f.db->builds({.since_ns = kT0 + 9}).value().size() == 1);
  CHECK(f.db->builds({.since_ns = kT0 + 10}).value().empty());

  // Events in time order, with their place in the batch.
  auto all = f.refs({});
  REQUIRE(all.size() == 11);
  for (std::size_t i = 0; i < all.size(); ++i) CHECK(all[i].time_ns == kT0 + i);
  CHECK(all[0].seq == 1);
  CHECK(all[0].line == 0);
  CHECK(all[6].seq == 2);
  CHECK(all[6].line == 1);
  CHECK(all[6].archive_path == r2.archive_path);
  CHECK(all[6].agent_id == "agent-a");

  CHECK(f.refs({.build = b.id}).size() == 9);
  CHECK(f.refs({.build_id = bid}).size() == 9);
  CHECK(f.refs({.build_id = "nope"}).empty());
  auto since = f.refs({.since_ns = kT0 + 7});
  REQUIRE(since.size() == 4);
  CHECK(since[0].time_ns == kT0 + 7);
  auto secrets = f.refs({.kind = K::secret_access});
  REQUIRE(secrets.size() == 1);
  CHECK(secrets[0].time_ns == kT0 + 5);
  CHECK(f.refs({.build = b.id, .kind = K::process_exec}).size() == 1);
  CHECK(f.refs({.kind = K::process_exit, .since_ns = kT0 + 8}).empty());
  CHECK(f.refs({.kind = K::agent_heartbeat}).size() == 1);
  CHECK(f.refs({.exe = "/usr/bin/curl"}).size() == 1);
  CHECK(f.refs({.exe = "/usr/bin/make"}).size() == 7);  // inside builds only
  CHECK(f.refs({.exe = "/usr/bin/nope"}).empty());
  CHECK(f.refs({.destination = "203.0.113.40:443"}).size() == 1);
  CHECK(f.refs({.destination = "registry.example.com"}).size() == 1);
  CHECK(f.refs({.destination = "registry.example.com/payments/api:1842"}).size() == 1);
  CHECK(f.refs({.secret_path = "/var/lib/jenkins/.aws/credentials"}).size() == 1);
  CHECK(f.refs({.build = b.id, .secret_path = "/nope"}).empty());

  // Stopping early.
  int seen = 0;
  REQUIRE(f.db->events({}, [&](const store::EventRef&) { return ++seen < 3; }).ok());
  CHECK(seen == 3);

  // Chain state and findings.
  auto a = f.db->agent("agent-a").value().value();
  CHECK(a.epoch == 1);
  CHECK(a.last_seq == 3);
  CHECK(a.last_hash == r3.hash);
  CHECK(a.last_seen_ns == r3.received_ns);
  CHECK(a.findings == 1);
  auto findings = f.db->findings("agent-a").value();
  REQUIRE(findings.size() == 1);
  CHECK(findings[0].agent_id == "agent-a");
  CHECK(findings[0].kind == store::FindingKind::kLoss);
  CHECK(findings[0].detail == "5123 events dropped");
  CHECK(findings[0].recorded_ns == r2.received_ns);
  CHECK(findings[0].id > 0);

  store::Finding fork;
  fork.agent_id = "agent-a";
  fork.kind = store::FindingKind::kFork;
  fork.seq_from = fork.seq_to = 2;
  fork.recorded_ns = kT0 + 99;
  fork.detail = "seq 2 does not chain";
  REQUIRE(f.db->record_finding(fork).ok());
  store::Finding rejected = fork;
  rejected.agent_id = "never-enrolled";
  rejected.kind = store::FindingKind::kRejected;
  REQUIRE(f.db->record_finding(rejected).ok());
  CHECK(f.db->agent("agent-a").value()->findings == 2);
  CHECK(f.db->findings("agent-a").value().size() == 2);
  CHECK(f.db->findings("").value().size() == 3);
  CHECK(f.db->findings("never-enrolled").value()[0].kind == store::FindingKind::kRejected);

  CHECK(hash_at(*f.db, "agent-a", 1, 2) == std::optional(r2.hash));
  CHECK_FALSE(hash_at(*f.db, "agent-a", 1, 4).has_value());
  CHECK_FALSE(hash_at(*f.db, "agent-a", 2, 2).has_value());

  auto st = f.db->stats().value();
  CHECK(st.agents == 1);
  CHECK(st.batches == 3);
  CHECK(st.events == 11);
  CHECK(st.builds == 1);
  CHECK(st.findings == 3);
}

TEST_CASE("commit: the chain tip only moves forward; a restart starts an epoch") {
  Fixture f;
  f.add_agent("agent-a");
  auto evs = testing::sample_events(2, "agent-a");
  REQUIRE(f.db->commit({record("agent-a", 1, evs), record("agent-a", 4, evs)}).ok());
  CHECK(f.db->agent("agent-a").value()->last_seq == 4);
  REQUIRE(f.db->commit({record("agent-a", 2, evs)}).ok());  // late: fills the gap
  auto a = f.db->agent("agent-a").value().value();
  CHECK(a.last_seq == 4);
  CHECK(a.last_hash == record("agent-a", 4, evs).hash);
  REQUIRE(f.db->commit({record("agent-a", 1, evs, 2)}).ok());  // restart
  a = f.db->agent("agent-a").value().value();
  CHECK(a.epoch == 2);
  CHECK(a.last_seq == 1);
  CHECK(hash_at(*f.db, "agent-a", 2, 1).has_value());
  CHECK(hash_at(*f.db, "agent-a", 1, 4).has_value());
}

TEST_CASE("commit: all or nothing") {
  Fixture f;
  f.add_agent("agent-a");
  const std::string bid = "jenkins-payments-api-main-1842";
  auto evs = std::vector<events::Event>{event(events::Kind::build_start, kT0, bid),
                                        event(events::Kind::process_exec, kT0 + 1, bid)};
  store::Finding finding;
  finding.kind = store::FindingKind::kGap;
  finding.detail = "gap";

  SUBCASE("a duplicate batch inside the group") {
    auto r1 = record("agent-a", 1, evs);
    r1.findings.push_back(finding);
    auto s = f.db->commit({r1, record("agent-a", 2, evs), record("agent-a", 1, evs)});
    REQUIRE_FALSE(s.ok());
    CHECK(s.error().code == ErrorCode::kConflict);
    CHECK(s.error().message.find("seq 1 of agent agent-a") != std::string::npos);
  }
  SUBCASE("a batch of an unknown agent") {
    auto s = f.db->commit({record("agent-a", 1, evs), record("agent-b", 1, evs)});
    REQUIRE_FALSE(s.ok());
    CHECK(s.error().message.find("agent-b") != std::string::npos);
  }
  SUBCASE("an invalid agent id") {
    auto s = f.db->commit({record("agent-a", 1, evs), record("agent b", 1, evs)});
    REQUIRE_FALSE(s.ok());
  }
  // Nothing of the failed group is visible, and the store still works (a
  // build created by the failed commit is not remembered).
  auto st = f.db->stats().value();
  CHECK(st.batches == 0);
  CHECK(st.events == 0);
  CHECK(st.builds == 0);
  CHECK(st.findings == 0);
  CHECK(f.refs({}).empty());
  CHECK(f.db->builds({}).value().empty());
  auto a = f.db->agent("agent-a").value().value();
  CHECK(a.last_seq == 0);
  CHECK(a.findings == 0);
  CHECK(a.last_seen_ns == 0);

  REQUIRE(f.db->commit({record("agent-a", 1, evs)}).ok());
  auto builds = f.db->builds({}).value();
  REQUIRE(builds.size() == 1);
  CHECK(builds[0].counts == events::Counts{{"build_start", 1}, {"process_exec", 1}});
  CHECK(f.refs({.build = builds[0].id}).size() == 2);
  // A batch already stored fails the next group as a whole too.
  auto s = f.db->commit({record("agent-a", 2, evs), record("agent-a", 1, evs)});
  REQUIRE_FALSE(s.ok());
  CHECK(f.db->stats().value().batches == 1);
  CHECK(hash_at(*f.db, "agent-a", 1, 2) == std::nullopt);
}

TEST_CASE("a metadata access is indexed by its destination: the name the build used, else IP:port") {
  using K = events::Kind;
  auto by_name = event(K::secret_access, kT0, "b-1");
  auto& named = std::get<events::SecretAccess>(by_name.body);
  named.access = "metadata_connect";
  named.path = "169.254.169.254:80";
  named.dest_ip = "169.254.169.254";
  named.dest_port = 80;
  named.dest_name = "metadata.google.internal";
  CHECK(collector::ingest::event_row(by_name, 0).destination == "metadata.google.internal");
  CHECK(collector::ingest::event_row(by_name, 0).secret_path == "169.254.169.254:80");
  auto by_ip = event(K::secret_access, kT0, "b-1");
  auto& v6 = std::get<events::SecretAccess>(by_ip.body);
  v6.dest_ip = "fd00:ec2::254";
  v6.dest_port = 80;
  CHECK(collector::ingest::event_row(by_ip, 0).destination == "[fd00:ec2::254]:80");
  // A credential file has no destination.
  auto file = event(K::secret_access, kT0, "b-1");
  std::get<events::SecretAccess>(file.body).path = "/home/ci/.aws/credentials";
  CHECK(collector::ingest::event_row(file, 0).destination.empty());
}

TEST_CASE("the index holds no argv, and redacts what an agent's redaction missed") {
  // Fake secrets, as an older or buggy agent would have sent them unredacted.
  const std::string pass = "fake-missed-pass-9", token = "ghp_FAKEfakeFAKEfakeFAKEfakeFAKEfake0123";
  Fixture f;
  f.add_agent("agent-a");
  using K = events::Kind;
  auto start = event(K::build_start, kT0, "b-1");
  start.build.url = "https://ci:" + pass + "@jenkins.example.com/job/app/1/";
  start.build.repository = "https://x-access-token:" + token + "@github.com/o/r.git";
  std::get<events::BuildStart>(start.body).command = {"make", "DB_PASSWORD=" + pass};
  auto exec = event(K::process_exec, kT0 + 1, "b-1");
  exec.build = start.build;
  std::get<events::ProcessExec>(exec.body).argv = {"curl", "-u", "ci:" + pass, "https://x.example/" + token};
  auto upload = event(K::artifact_upload, kT0 + 2, "b-1");
  upload.build = start.build;
  std::get<events::ArtifactUpload>(upload.body).destination = "https://ci:" + pass + "@repo.example.com/r/a.tgz";
  auto secret = event(K::secret_access, kT0 + 3, "b-1");
  secret.build = start.build;
  std::get<events::SecretAccess>(secret.body).path = "/home/ci/" + token + "/credentials";

  const auto rows = record("agent-a", 1, {start, exec, upload, secret});
  CHECK(rows.events[2].destination == "https://[REDACTED:url_credentials]@repo.example.com/r/a.tgz");
  CHECK(rows.events[3].secret_path == "/home/ci/[REDACTED:github_token]/credentials");
  REQUIRE(rows.events[0].build);
  CHECK(rows.events[0].build->url == "https://[REDACTED:url_credentials]@jenkins.example.com/job/app/1/");
  CHECK(rows.events[0].build->job == start.build.job);  // clean values are unchanged
  // Still one copy of a redacted build per batch (as ingest calls it, with the previous row).
  const auto first = collector::ingest::event_row(start, 0);
  CHECK(collector::ingest::event_row(exec, 1, &first).build == first.build);
  REQUIRE(f.db->commit({rows}).ok());

  // Nothing of either secret anywhere in the store's files.
  for (const auto& entry : std::filesystem::directory_iterator(f.dir)) {
    auto bytes = fs::read_file(entry.path().string(), 1 << 26);
    REQUIRE(bytes.ok());
    INFO(entry.path().string());
    CHECK(bytes->find(pass) == std::string::npos);
    CHECK(bytes->find(token) == std::string::npos);
  }
  CHECK(f.refs({.build_id = "b-1"}).size() == 4);
}

TEST_CASE("hostile text is stored and returned verbatim") {
  Fixture f;
  const std::vector<std::string> nasty = {
      "'; DROP TABLE events; --",
      "\"quoted\" 'single' `back` \\ %s %n ?1 :name @x $y",
      "Robert'); DELETE FROM agents WHERE ('1'='1",
      "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e \xf0\x9f\x94\x91 caf\xc3\xa9 \xd7\xa9\xd7\x9c\xd7\x95\xd7\x9d",
      "line\nbreak\ttab\r\x1b[31mred\x1b[0m",
  };
  f.add_agent("agent-a");
  for (std::size_t i = 0; i < nasty.size(); ++i) {
    const std::string& s = nasty[i];
    store::Agent a;
    a.id = "agent-n" + std::to_string(i);
    a.public_key.fill(static_cast<uint8_t>(i + 10));
    a.inventory = {s, s, s, s, s};
    REQUIRE(f.db->add_agent(a).ok());
    CHECK(f.db->agent(a.id).value()->inventory.hostname == s);
    CHECK(f.db->agent(a.id).value()->inventory.agent_version == s);

    auto e = events::example_event(events::Kind::secret_access);
    e.time_ns = kT0 + i;
    e.build = events::Build{s, s, s + "#id" + std::to_string(i), s, s, s, s, s};
    e.process.exe = s;
    e.process.key = s;
    auto& sa = std::get<events::SecretAccess>(e.body);
    sa.path = s;
    auto rec = record("agent-a", i + 1, {e});
    rec.archive_path = "archive/" + s;
    rec.events[0].destination = s;
    store::Finding fd;
    fd.kind = store::FindingKind::kGap;
    fd.detail = s;
    rec.findings.push_back(fd);
    REQUIRE(f.db->commit({rec}).ok());

    auto b = f.db->builds({.ci_build_id = e.build.id}).value();
    REQUIRE(b.size() == 1);
    CHECK(b[0].build == e.build);
    CHECK(f.db->builds({.job = s}).value().size() == 1);
    auto refs = f.refs({.build_id = e.build.id, .exe = s, .destination = s, .secret_path = s});
    REQUIRE(refs.size() == 1);
    CHECK(refs[0].archive_path == "archive/" + s);
    CHECK(f.db->findings("agent-a").value().back().detail == s);
    CHECK(f.db->use_token(s, kT0).error().code == ErrorCode::kNotFound);
    REQUIRE(f.db->add_token({s, kT0 + 1, 1}).ok());
    CHECK(f.db->use_token(s, kT0).ok());
  }
  auto st = f.db->stats().value();
  CHECK(st.agents == nasty.size() + 1);
  CHECK(st.events == nasty.size());
  CHECK(st.builds == nasty.size());
}

TEST_CASE("a writer and a read-only reader work side by side") {
  Fixture f;
  f.add_agent("agent-a");
  auto reader = store::open_sqlite(f.dir, {.read_only = true}).value();
  CHECK(reader->stats().value().events == 0);
  const uint64_t rev = reader->agents_revision().value();

  std::atomic<bool> done{false};
  std::atomic<int> failures{0};
  std::thread writer([&] {
    // The writer gets its own instance, as ingest does.
    auto db = store::open_sqlite(f.dir).value();
    for (uint64_t seq = 1; seq <= 40; ++seq) {
      auto evs = testing::sample_events(500, "agent-a", kT0 + seq * 1000000);
      for (auto& e : evs) e.build = events::Build{.ci = "jenkins", .id = "build-" + std::to_string(seq % 3)};
      if (!db->commit({record("agent-a", seq, evs)}).ok()) ++failures;
    }
    done = true;
  });
  uint64_t last = 0;
  int reads = 0;
  while (!done || reads < 3) {
    auto st = reader->stats();
    REQUIRE(st.ok());
    CHECK(st->events >= last);  // never goes back, never half a commit
    CHECK(st->events % 500 == 0);
    last = st->events;
    std::size_t n = 0;
    auto s = reader->events({}, [&](const store::EventRef&) {
      ++n;
      return true;
    });
    REQUIRE(s.ok());
    CHECK(n >= last);
    CHECK(reader->builds({}).ok());
    ++reads;
  }
  writer.join();
  CHECK(failures == 0);
  CHECK(reader->stats().value().events == 40 * 500);
  CHECK(reader->builds({}).value().size() == 3);

  // Agent changes made by another instance show in the revision.
  store::Agent b;
  b.id = "agent-b";
  b.public_key.fill(9);
  REQUIRE(f.db->add_agent(b).ok());
  CHECK(reader->agents_revision().value() > rev);
  CHECK(reader->agent("agent-b").value().has_value());
}

TEST_CASE("timing: group commits of 20 batches x 5000 events") {
  Fixture f;
  f.add_agent("agent-a");
  // A compile-heavy mix (mostly exec/exit, some network, few secrets and
  // uploads) as bench/batch/workload.cpp produces.
  const char* hosts[] = {"registry.npmjs.org", "pypi.org", "github.com", "proxy.golang.org"};
  const char* exes[] = {"/usr/bin/x86_64-linux-gnu-g++-12", "/usr/bin/node", "/usr/bin/as", "/usr/bin/ld"};
  constexpr int kCommits = 4, kBatches = 20, kEvents = 5000;
  uint64_t seq = 0, t = kT0, cpu_ns = 0;
  double wall = 0;
  for (int c = 0; c < kCommits; ++c) {
    std::vector<store::BatchRecord> group;
    for (int b = 0; b < kBatches; ++b) {
      store::BatchRecord r = record("agent-a", ++seq, {});
      for (uint32_t i = 0; i < kEvents; ++i) {
        store::EventRow e;
        e.line = i;
        e.time_ns = (t += 20000);
        const uint32_t m = (i * 7919u) % 100;
        e.kind = m < 45   ? events::Kind::process_exec
                 : m < 88 ? events::Kind::process_exit
                 : m < 93 ? events::Kind::dns_query
                 : m < 98 ? events::Kind::net_connect
                 : m < 99 ? events::Kind::secret_access
                          : events::Kind::artifact_upload;
        e.build = std::make_shared<events::Build>(events::Build{
            "jenkins", "payments/api/main", "jenkins-payments-api-main-" + std::to_string(1800 + seq / 10), "1842",
            "https://jenkins.example.com/job/payments/1842/", "https://git.example.com/payments/api.git",
            "9f2c1e7b4a5d3c2b1a0f9e8d7c6b5a4f3e2d1c0b", "ci-agent-07"});
        e.pid = 40000 + seq * kEvents + i;
        e.ppid = e.pid - 1;
        e.process_key = std::to_string(e.pid) + "-" + std::to_string(t / 1000);
        e.exe = exes[i % 4];
        if (e.kind == events::Kind::dns_query) e.destination = hosts[i % 4];
        if (e.kind == events::Kind::net_connect) e.destination = "198.51.100." + std::to_string(i % 250) + ":443";
        if (e.kind == events::Kind::artifact_upload) e.destination = "https://artifacts.example.com/";
        if (e.kind == events::Kind::secret_access) e.secret_path = "/var/lib/jenkins/.aws/credentials";
        r.events.push_back(std::move(e));
      }
      group.push_back(std::move(r));
    }
    const uint64_t cpu0 = thread_cpu_ns();
    const auto t0 = std::chrono::steady_clock::now();
    auto s = f.db->commit(group);
    wall += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    cpu_ns += thread_cpu_ns() - cpu0;
    REQUIRE(s.ok());
  }
  const double n = double(kCommits) * kBatches * kEvents;
  const auto st = f.db->stats().value();
  CHECK(st.events == static_cast<uint64_t>(n));
  std::printf(
      "store commit: %.0f events/s (wall, durable), %.0f events/s per CPU second, "
      "%.0f bytes/event on disk (%d commits of %d batches x %d events)\n",
      n / wall, n / (double(cpu_ns) / 1e9), double(st.db_bytes) / n, kCommits, kBatches, kEvents);
}

// ---- issue 17: findings follow the truth, keys are revoked, seqs are exact ----------

TEST_CASE("a late batch narrows, splits and resolves the gap finding it falls in") {
  Fixture f;
  f.add_agent("agent-a");
  auto evs = testing::sample_events(1, "agent-a");
  auto gap_batch = record("agent-a", 8, evs);
  store::Finding gap;
  gap.kind = store::FindingKind::kGap;
  gap.seq_from = 2;
  gap.seq_to = 7;
  gap.time_to_ns = kT0 + 8;
  gap.detail = "batches 2..7 never arrived";
  gap_batch.findings.push_back(gap);
  REQUIRE(f.db->commit({record("agent-a", 1, evs), gap_batch}).ok());
  auto late = [&](uint64_t seq) {
    auto r = record("agent-a", seq, evs);
    r.late = true;
    REQUIRE(f.db->commit({r}).ok());
    return f.db->findings("agent-a").value();
  };
  auto one = late(2);  // the bottom end
  REQUIRE(one.size() == 1);
  CHECK(one[0].seq_from == 3);
  CHECK(one[0].seq_to == 7);
  CHECK(one[0].resolved_ns == 0);
  CHECK(one[0].updated_ns != 0);
  CHECK(one[0].detail == "batches 2..7 never arrived");
  CHECK(one[0].note == "seq 2 arrived late; 3..7 still missing");
  CHECK(one[0].time_from_ns == evs[0].time_ns);  // closes in on what arrived

  auto top = late(7);
  REQUIRE(top.size() == 1);
  CHECK(top[0].seq_to == 6);
  auto split = late(4);  // inside: two findings
  REQUIRE(split.size() == 2);
  CHECK(split[0].seq_from == 3);
  CHECK(split[0].seq_to == 3);
  CHECK(split[1].seq_from == 5);
  CHECK(split[1].seq_to == 6);
  CHECK(split[1].detail == split[0].detail);
  CHECK(split[1].recorded_ns == split[0].recorded_ns);
  CHECK(split[1].note.find("split from finding " + std::to_string(split[0].id)) != std::string::npos);
  CHECK(f.db->agent("agent-a").value()->findings == 2);
  CHECK(f.db->agent("agent-a").value()->open_findings == 2);

  late(3);
  late(5);
  auto after = late(6);
  REQUIRE(after.size() == 2);
  for (const auto& g : after) {
    CHECK(g.resolved_ns != 0);
    CHECK(g.note.find("nothing is missing any more") != std::string::npos);
  }
  CHECK(f.db->agent("agent-a").value()->open_findings == 0);

  // A batch of another epoch at the same seq fills nothing.
  auto other_epoch = record("agent-a", 9, evs, 2);
  store::Finding gap2 = gap;
  gap2.seq_from = gap2.seq_to = 1;
  gap2.detail = "epoch 2 without its seq 1";
  other_epoch.findings.push_back(gap2);
  REQUIRE(f.db->commit({other_epoch}).ok());
  auto stray = record("agent-a", 10, evs);  // epoch 1, unrelated
  stray.late = true;
  REQUIRE(f.db->commit({stray}).ok());
  CHECK(f.db->findings("agent-a").value().back().resolved_ns == 0);
}

TEST_CASE("revocation is of the key: every id holding it, and no enrollment with it again") {
  Fixture f;
  f.add_agent("agent-a", 1);
  f.add_agent("agent-b", 1);  // the same key under a second id
  f.add_agent("agent-c", 2);
  auto revoked = f.db->revoke_agent("agent-a");
  REQUIRE(revoked.ok());
  CHECK(*revoked == std::vector<std::string>{"agent-a", "agent-b"});
  CHECK(f.db->agent("agent-b").value()->revoked);
  CHECK_FALSE(f.db->agent("agent-c").value()->revoked);

  store::Agent again;
  again.id = "agent-new";
  again.public_key.fill(1);
  auto add = f.db->add_agent(again);
  REQUIRE_FALSE(add.ok());
  CHECK(add.error().code == ErrorCode::kForbidden);
  CHECK(add.error().message.find("revoked (as agent 'agent-a')") != std::string::npos);

  REQUIRE(f.db->add_token({"tok", kT0 + 1000, 1}).ok());
  auto enrolled = f.db->enroll(again, "tok", kT0);
  REQUIRE_FALSE(enrolled.ok());
  CHECK(enrolled.error().code == ErrorCode::kForbidden);
  CHECK_FALSE(f.db->agent("agent-new").value().has_value());
  // The refusal spent no use of the token.
  store::Agent fresh;
  fresh.id = "agent-fresh";
  fresh.public_key.fill(5);
  CHECK(f.db->enroll(fresh, "tok", kT0).ok());
  CHECK_FALSE(f.db->use_token("tok", kT0).ok());
}

TEST_CASE("enroll: without a valid token nothing tells whether an id is enrolled") {
  Fixture f;
  f.add_agent("agent-a", 1);
  f.add_agent("agent-r", 2);
  REQUIRE(f.db->revoke_agent("agent-r").ok());
  store::Agent other_key;
  other_key.id = "agent-a";
  other_key.public_key.fill(9);
  store::Agent nobody = other_key;
  nobody.id = "agent-nobody";
  store::Agent revoked_same_key;
  revoked_same_key.id = "agent-r";
  revoked_same_key.public_key.fill(2);
  for (const store::Agent* a : {&other_key, &nobody, &revoked_same_key}) {
    auto s = f.db->enroll(*a, "bogus", kT0);
    REQUIRE_FALSE(s.ok());
    CHECK(s.error().code == ErrorCode::kNotFound);
  }
  // With a valid token the truth, and the token is kept.
  REQUIRE(f.db->add_token({"good", kT0 + 1000, 1}).ok());
  CHECK(f.db->enroll(other_key, "good", kT0).error().code == ErrorCode::kConflict);
  CHECK(f.db->enroll(revoked_same_key, "good", kT0).error().code == ErrorCode::kForbidden);
  // The same key again needs no token at all.
  store::Agent same;
  same.id = "agent-a";
  same.public_key.fill(1);
  same.inventory.hostname = "renamed";
  CHECK(f.db->enroll(same, "", kT0).ok());
  CHECK(f.db->agent("agent-a").value()->inventory.hostname == "renamed");
  CHECK(f.db->use_token("good", kT0).ok());
}

TEST_CASE("sequence numbers up to 2^63-1 are stored exactly; beyond are refused") {
  Fixture f;
  f.add_agent("agent-a");
  auto evs = testing::sample_events(1, "agent-a");
  REQUIRE(f.db->commit({record("agent-a", batch::kMaxSeq, evs)}).ok());
  auto too_big = f.db->commit({record("agent-a", batch::kMaxSeq + 1, evs)});
  REQUIRE_FALSE(too_big.ok());
  CHECK(too_big.error().code == ErrorCode::kInvalidArgument);
  f.db.reset();
  f.db = store::open_sqlite(f.dir).value();
  CHECK(f.db->agent("agent-a").value()->last_seq == batch::kMaxSeq);
  const auto rec = record("agent-a", batch::kMaxSeq, evs);
  CHECK(hash_at(*f.db, "agent-a", 1, batch::kMaxSeq) == std::optional(rec.hash));
  CHECK(f.db->has_batch(rec.hash).value());
  CHECK_FALSE(f.db->has_batch(record("agent-a", 1, evs).hash).value());
  std::vector<uint64_t> seqs;
  REQUIRE(f.db->for_each_batch([&](const store::StoredBatch& b) {
                seqs.push_back(b.seq);
                CHECK(b.archive_path == rec.archive_path);
                return true;
              })
              .ok());
  CHECK(seqs == std::vector<uint64_t>{batch::kMaxSeq});
}

// A store folder holding tests/data/store-v<version>.sql, a store as that
// schema version wrote it.
std::string store_from_fixture(int version) {
  const std::string v = std::to_string(version);
  const std::string dir = testing::make_temp_dir(("store-v" + v).c_str());
  auto sql = fs::read_file(testing::env_or("BUILDTRAIL_SRC", ".") + "/tests/data/store-v" + v + ".sql", 1 << 20);
  REQUIRE(sql.ok());
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open((dir + "/buildtrail.db").c_str(), &db) == SQLITE_OK);
  char* err = nullptr;
  const int rc = sqlite3_exec(db, sql->c_str(), nullptr, nullptr, &err);
  CHECK_MESSAGE(rc == SQLITE_OK, (err ? err : ""));
  sqlite3_free(err);
  sqlite3_close(db);
  return dir;
}

TEST_CASE("a version 1 store is upgraded in place") {
  const std::string dir = store_from_fixture(1);
  // A reader cannot upgrade it and says how.
  auto ro = store::open_sqlite(dir, {.read_only = true});
  REQUIRE_FALSE(ro.ok());
  CHECK_MESSAGE(ro.error().message.find("schema version 1; run serve") != std::string::npos, ro.error().message);

  auto db = store::open_sqlite(dir).value();
  // The revoked key takes its other id with it.
  CHECK(db->agent("agent-a").value()->revoked);
  CHECK(db->agent("agent-b").value()->revoked);
  store::Agent again;
  again.id = "agent-z";
  again.public_key.fill(1);
  CHECK(db->add_agent(again).error().code == ErrorCode::kForbidden);
  // A tip stored from seq 2^64-1 (as -1) is the highest valid seq again.
  CHECK(db->agent("agent-c").value()->last_seq == 1);
  // Gap findings that late batches had filled: 2..4 keeps 4, 7 is
  // resolved, 9..14 loses 12 and splits.
  auto found = db->findings("agent-d").value();
  REQUIRE(found.size() == 4);
  CHECK(found[0].seq_from == 4);
  CHECK(found[0].seq_to == 4);
  CHECK(found[0].resolved_ns == 0);
  CHECK(found[1].resolved_ns != 0);
  CHECK(found[2].seq_from == 9);
  CHECK(found[2].seq_to == 11);
  CHECK(found[3].seq_from == 13);
  CHECK(found[3].seq_to == 14);
  CHECK(found[3].detail == "batches 9..14 never arrived");
  auto d = db->agent("agent-d").value().value();
  CHECK(d.findings == 4);
  CHECK(d.open_findings == 3);
  db.reset();
  // Reopened: version 2, nothing to do.
  auto again_ro = store::open_sqlite(dir, {.read_only = true});
  REQUIRE_MESSAGE(again_ro.ok(), (again_ro.ok() ? "" : again_ro.error().message));
  CHECK((*again_ro)->findings("agent-d").value().size() == 4);
}

// ---- issue 17: a build is one agent's record, no time is stored negative ------------

TEST_CASE("builds: the same CI ids from two agents are two records, each naming the other") {
  Fixture f;
  f.add_agent("agent-a", 1);
  f.add_agent("agent-b", 2);
  const std::string bid = "jenkins-payments-api-main-1842";
  using K = events::Kind;
  auto end_a = event(K::build_end, kT0 + 2, bid);
  auto end_b = event(K::build_end, kT0 + 9, bid);  // later, and failing
  std::get<events::BuildEnd>(end_b.body).exit_code = 1;
  auto b_events = std::vector<events::Event>{event(K::process_exec, kT0 + 8, bid), end_b};
  for (auto& e : b_events) e.agent_id = "agent-b";
  // One group holding both agents' batches, as ingest commits them.
  REQUIRE(f.db->commit({record("agent-a", 1, {event(K::build_start, kT0, bid), end_a}), record("agent-b", 1, b_events)})
              .ok());
  auto all = f.db->builds({}).value();
  REQUIRE(all.size() == 2);
  const store::BuildRow& b = all[0];  // newest first
  const store::BuildRow& a = all[1];
  CHECK(a.agent_id == "agent-a");
  CHECK(a.host == "host-agent-a");
  CHECK(b.agent_id == "agent-b");
  CHECK(a.exit_code == 0);
  CHECK(b.exit_code == 1);
  CHECK(a.counts == events::Counts{{"build_start", 1}, {"build_end", 1}});
  CHECK(b.counts == events::Counts{{"build_end", 1}, {"process_exec", 1}});
  REQUIRE(a.collides_with.size() == 1);
  CHECK(a.collides_with[0].ref == b.id);
  CHECK(a.collides_with[0].agent_id == "agent-b");
  REQUIRE(b.collides_with.size() == 1);
  CHECK(b.collides_with[0].ref == a.id);
  CHECK(f.refs({.build = a.id}).size() == 2);
  CHECK(f.refs({.build = b.id}).size() == 2);
  CHECK(f.refs({.build_id = bid}).size() == 4);  // the CI id spans both records
  CHECK(f.db->builds({.ci_build_id = bid}).value().size() == 2);
  // A later commit (a new connection: no cached ids) finds each agent's own record.
  f.db.reset();
  f.db = store::open_sqlite(f.dir).value();
  REQUIRE(f.db->commit({record("agent-b", 2, {b_events[0]})}).ok());
  CHECK(f.db->build(b.id).value()->counts == events::Counts{{"build_end", 1}, {"process_exec", 2}});
  CHECK(f.db->build(a.id).value()->counts == events::Counts{{"build_start", 1}, {"build_end", 1}});
}

TEST_CASE("no unsigned value is stored negative: times of 2^63 and beyond are saturated, and compare as such") {
  Fixture f;
  f.add_agent("agent-a");
  auto evs = std::vector<events::Event>{event(events::Kind::build_start, kT0, "b-1"),
                                        event(events::Kind::process_exec, kT0 + 1, "b-1")};
  auto r = record("agent-a", 1, evs);
  r.events[1].time_ns = UINT64_MAX;  // past ingest's bound: the store alone
  store::Finding loss;
  loss.kind = store::FindingKind::kLoss;
  loss.time_from_ns = (1ull << 63) + 1;
  loss.time_to_ns = UINT64_MAX;
  r.findings.push_back(loss);
  REQUIRE(f.db->commit({r}).ok());
  auto refs = f.refs({});
  REQUIRE(refs.size() == 2);
  CHECK(refs[1].time_ns == uint64_t{INT64_MAX});  // last, not first
  CHECK(f.refs({.since_ns = kT0 + 1}).size() == 1);
  CHECK(f.refs({.since_ns = UINT64_MAX}).size() == 1);  // a since of 2^64-1 was -1: everything
  CHECK(f.refs({.build = f.db->builds({}).value()[0].id, .since_ns = kT0 + 1}).size() == 1);
  CHECK(f.db->builds({.since_ns = kT0 + 1}).value().size() == 1);
  CHECK(f.db->builds({.since_ns = UINT64_MAX}).value().size() == 1);
  auto found = f.db->findings("agent-a").value();
  REQUIRE(found.size() == 1);
  CHECK(found[0].time_from_ns == uint64_t{INT64_MAX});
  CHECK(found[0].time_to_ns == uint64_t{INT64_MAX});
  // A token "valid for ever" (its expiry past 2^63) stays valid.
  REQUIRE(f.db->add_token({"forever", UINT64_MAX, 1}).ok());
  CHECK(f.db->use_token("forever", kT0).ok());
}

TEST_CASE("clock findings: consecutive batches out of range extend one finding") {
  Fixture f;
  f.add_agent("agent-a");
  auto evs = testing::sample_events(1, "agent-a");
  auto clock_batch = [&](uint64_t seq, uint64_t claimed, uint64_t epoch = 1) {
    auto r = record("agent-a", seq, evs, epoch);
    r.events[0].claimed_ns = claimed;
    store::Finding c;
    c.kind = store::FindingKind::kClock;
    c.seq_from = c.seq_to = seq;
    c.time_from_ns = c.time_to_ns = claimed;
    c.detail = "1 of 1 events claim a time too far ahead";
    r.findings.push_back(c);
    return r;
  };
  REQUIRE(f.db->commit({clock_batch(1, kT0 + 500), clock_batch(2, kT0 + 100)}).ok());
  REQUIRE(f.db->commit({clock_batch(3, kT0 + 900)}).ok());
  REQUIRE(f.db->commit({record("agent-a", 4, evs)}).ok());
  REQUIRE(f.db->commit({clock_batch(5, kT0 + 50), clock_batch(1, kT0 + 1, 2)}).ok());
  auto found = f.db->findings("agent-a").value();
  REQUIRE(found.size() == 3);
  CHECK(found[0].seq_from == 1);
  CHECK(found[0].seq_to == 3);
  CHECK(found[0].time_from_ns == kT0 + 100);
  CHECK(found[0].time_to_ns == kT0 + 900);
  CHECK(found[0].note == "batches 1..3 all had times out of range");
  CHECK(found[0].updated_ns != 0);
  CHECK(found[1].seq_from == 5);  // after a batch in range: a new finding
  CHECK(found[2].epoch == 2);     // another epoch: a new finding
  CHECK(f.db->agent("agent-a").value()->findings == 3);
  auto flagged = f.refs({});
  CHECK(std::count_if(flagged.begin(), flagged.end(), [](const auto& r) { return r.time_out_of_range; }) == 5);
}

TEST_CASE("a version 2 store is upgraded in place") {
  const std::string dir = store_from_fixture(2);
  auto ro = store::open_sqlite(dir, {.read_only = true});
  REQUIRE_FALSE(ro.ok());
  CHECK_MESSAGE(ro.error().message.find("schema version 2; run serve") != std::string::npos, ro.error().message);

  auto opened = store::open_sqlite(dir);
  REQUIRE_MESSAGE(opened.ok(), (opened.ok() ? "" : opened.error().message));
  auto db = std::move(*opened);
  constexpr uint64_t kS = 1000000000;
  // The merged build is split by agent: agent-a keeps the record (and its
  // reference), agent-b's events get one of their own, and each outcome is
  // its own agent's again.
  auto builds = db->builds({}).value();
  REQUIRE(builds.size() == 2);
  auto a = db->build(1).value().value();
  CHECK(a.agent_id == "agent-a");
  CHECK(a.host == "host-a");
  CHECK(a.build.id == "jenkins-app-7");
  CHECK(a.build.runner == "node-1");
  CHECK(a.exit_code == 0);
  CHECK(a.end_ns == kT0 + 3000);
  CHECK(
      a.counts ==
      events::Counts{{"build_start", 1}, {"build_end", 1}, {"process_exec", 2}, {"net_connect", 1}, {"dns_query", 1}});
  REQUIRE(a.collides_with.size() == 1);
  auto b = db->build(a.collides_with[0].ref).value().value();
  CHECK(b.agent_id == "agent-b");
  CHECK(b.build == a.build);
  CHECK(b.exit_code == 1);
  CHECK(b.counts == events::Counts{{"build_end", 1}, {"process_exec", 1}});
  CHECK(b.first_ns == kT0 + 4000);
  CHECK(b.last_ns == kT0 + 5000);
  REQUIRE(b.collides_with.size() == 1);
  CHECK(b.collides_with[0].ref == 1);
  auto refs = [&](const store::EventFilter& filter) {
    std::vector<store::EventRef> out;
    REQUIRE(db->events(filter, [&](const store::EventRef& r) {
                out.push_back(r);
                return true;
              }).ok());
    return out;
  };
  CHECK(refs({.build = b.id}).size() == 2);
  CHECK(refs({.exe = "/usr/bin/curl"}).size() == 2);  // agent-b's record only
  CHECK(refs({.build = 1, .exe = "/usr/bin/curl"}).empty());
  CHECK(refs({.build = 1, .exe = "/usr/bin/make"}).size() == 6);

  // The event stored as -1 (2^64-1) and the one a day ahead are at their
  // batch's receive time, flagged; every time query finds them again.
  const uint64_t received = kT0 + 7 * kS;
  CHECK(a.last_ns == received);
  auto since = refs({.since_ns = kT0 + 6500});
  REQUIRE(since.size() == 3);
  CHECK(since[0].time_ns == kT0 + 7000);  // the heartbeat
  CHECK_FALSE(since[0].time_out_of_range);
  for (std::size_t i : {1, 2}) {
    CHECK(since[i].time_ns == received);
    CHECK(since[i].time_out_of_range);
  }
  CHECK(db->builds({.since_ns = received}).value().size() == 1);
  auto found = db->findings("agent-a").value();
  REQUIRE(found.size() == 2);
  CHECK(found[0].kind == store::FindingKind::kLoss);
  CHECK(found[0].time_to_ns == uint64_t{INT64_MAX});
  CHECK(found[1].kind == store::FindingKind::kClock);
  CHECK(found[1].seq_from == 2);
  CHECK(found[1].epoch == 1);
  CHECK(found[1].time_from_ns == kT0 + 86400 * kS);
  CHECK(found[1].time_to_ns == uint64_t{INT64_MAX});
  CHECK(db->agent("agent-a").value()->findings == 2);
  // A token version 2 made unusable (its expiry stored negative) stays so.
  CHECK_FALSE(db->use_token("forever", kT0).ok());
  db.reset();

  // Nothing negative is left, and the new version reads back.
  sqlite3* raw = nullptr;
  REQUIRE(sqlite3_open_v2((dir + "/buildtrail.db").c_str(), &raw, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK);
  sqlite3_stmt* st = nullptr;
  REQUIRE(sqlite3_prepare_v2(raw,
                             "SELECT (SELECT COUNT(*) FROM events WHERE time_ns < 0 OR claimed_ns < 0)"
                             " + (SELECT COUNT(*) FROM batches WHERE first_ns < 0 OR last_ns < 0)"
                             " + (SELECT COUNT(*) FROM builds WHERE first_ns < 0 OR last_ns < 0 OR end_ns < 0)"
                             " + (SELECT COUNT(*) FROM build_values WHERE first_ns < 0 OR last_ns < 0)"
                             " + (SELECT COUNT(*) FROM findings WHERE time_from_ns < 0 OR time_to_ns < 0)"
                             " + (SELECT COUNT(*) FROM tokens WHERE expires_ns < 0)",
                             -1, &st, nullptr) == SQLITE_OK);
  REQUIRE(sqlite3_step(st) == SQLITE_ROW);
  CHECK(sqlite3_column_int64(st, 0) == 0);
  sqlite3_finalize(st);
  sqlite3_close(raw);
  auto again = store::open_sqlite(dir, {.read_only = true});
  REQUIRE_MESSAGE(again.ok(), (again.ok() ? "" : again.error().message));
  CHECK((*again)->builds({}).value().size() == 2);
  again->reset();
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
}

// ---- API tokens (schema 6) ----

namespace {

store::ApiToken api_token(const std::string& id, const std::string& name, store::ApiRole role) {
  store::ApiToken t;
  t.id = id;
  t.name = name;
  t.role = role;
  t.hash = crypto::sha256(crypto::as_bytes("token of " + id));
  t.created_ns = kT0;
  return t;
}

}  // namespace

TEST_CASE("api tokens: names unique among valid tokens, revoked by name or id, last use recorded") {
  Fixture f;
  REQUIRE(f.db->add_api_token(api_token("00000000000000a1", "ci-reader", store::ApiRole::kViewer)).ok());
  REQUIRE(f.db->add_api_token(api_token("00000000000000a2", "ops", store::ApiRole::kAdmin)).ok());
  auto dup = f.db->add_api_token(api_token("00000000000000a3", "ops", store::ApiRole::kViewer));
  REQUIRE_FALSE(dup.ok());
  CHECK(dup.error().code == ErrorCode::kConflict);
  CHECK_FALSE(f.db->add_api_token(api_token("00000000000000a1", "other", store::ApiRole::kViewer)).ok());

  auto ops = f.db->api_token("00000000000000a2").value();
  REQUIRE(ops);
  CHECK(ops->name == "ops");
  CHECK(ops->role == store::ApiRole::kAdmin);
  CHECK(ops->hash == crypto::sha256(crypto::as_bytes("token of 00000000000000a2")));
  CHECK(ops->last_used_ns == 0);
  CHECK_FALSE(f.db->api_token("00000000000000ff").value());

  CHECK(f.db->touch_api_token("00000000000000a2", kT0 + 5).ok());
  CHECK(f.db->touch_api_token("00000000000000a2", kT0 + 3).ok());  // never backwards
  CHECK(f.db->api_token("00000000000000a2").value()->last_used_ns == kT0 + 5);

  auto by_name = f.db->revoke_api_token("ops", kT0 + 10);
  REQUIRE(by_name.ok());
  CHECK(by_name->id == "00000000000000a2");
  CHECK(f.db->api_token("00000000000000a2").value()->revoked_ns == kT0 + 10);
  CHECK(f.db->revoke_api_token("ops", kT0 + 11).error().code == ErrorCode::kNotFound);
  // The name is free again; the id of the other names it.
  REQUIRE(f.db->add_api_token(api_token("00000000000000a4", "ops", store::ApiRole::kViewer)).ok());
  CHECK(f.db->revoke_api_token("00000000000000a1", kT0 + 12)->name == "ci-reader");
  auto all = f.db->api_tokens().value();
  REQUIRE(all.size() == 3);
  CHECK(all[0].revoked_ns == kT0 + 12);
  CHECK(all[1].revoked_ns == kT0 + 10);
  CHECK(all[2].revoked_ns == 0);
  // A reader cannot record a use.
  auto ro = store::open_sqlite(f.dir, {.read_only = true}).value();
  CHECK_FALSE(ro->touch_api_token("00000000000000a4", kT0).ok());
  CHECK(ro->api_tokens().value().size() == 3);
}

TEST_CASE("a version 5 store is upgraded to 6: the api_tokens table, empty; what it held is kept") {
  const std::string dir = testing::make_temp_dir("store-v5");
  {
    auto db = store::open_sqlite(dir).value();
    store::Alert a;
    a.rule_id = "BT-29";
    a.title = "Events lost";
    a.severity = "high";
    a.agent_id = "agent-a";
    a.key = "k1";
    a.evidence = {{"agent-a", 3, 1}};
    REQUIRE(db->commit_detection({a}, {{"detect.batches", 7}}).ok());
  }
  sqlite3* raw = nullptr;
  REQUIRE(sqlite3_open((dir + "/buildtrail.db").c_str(), &raw) == SQLITE_OK);
  REQUIRE(sqlite3_exec(raw, "DROP TABLE api_tokens; UPDATE meta SET value = 5 WHERE key = 'schema_version';", nullptr,
                       nullptr, nullptr) == SQLITE_OK);
  sqlite3_close(raw);

  auto ro = store::open_sqlite(dir, {.read_only = true});
  REQUIRE_FALSE(ro.ok());
  CHECK_MESSAGE(ro.error().message.find("schema version 5; run serve") != std::string::npos, ro.error().message);

  auto db = store::open_sqlite(dir).value();
  CHECK(db->api_tokens().value().empty());
  REQUIRE(db->add_api_token(api_token("00000000000000b1", "reader", store::ApiRole::kViewer)).ok());
  auto alerts = db->alerts({}).value();
  REQUIRE(alerts.size() == 1);
  CHECK(alerts[0].evidence == std::vector<store::Evidence>{{"agent-a", 3, 1}});
  CHECK(db->cursor("detect.batches").value() == 7);
  db.reset();
  auto again = store::open_sqlite(dir, {.read_only = true});
  REQUIRE_MESSAGE(again.ok(), (again.ok() ? "" : again.error().message));
  CHECK((*again)->api_tokens().value().size() == 1);
  again->reset();
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
}

// ---- the read API's columns (schema 7) ----

namespace {

// A build of agent-a over two batches: unmonitored, an exec with a digest
// and a parent, a DNS question and a connection by name, a loss.
std::vector<store::BatchRecord> read_api_batches() {
  auto start = event(events::Kind::build_start, kT0, "b-7");
  std::get<events::BuildStart>(start.body).mode = "unmonitored";
  start.build.branch = "main";
  auto exec = event(events::Kind::process_exec, kT0 + 1, "b-7");
  exec.process.key = "9-1";
  exec.process.parent_key = "8-1";
  std::get<events::ProcessExec>(exec.body).exe_sha256 = std::string(64, 'a');
  auto dns = event(events::Kind::dns_query, kT0 + 2, "b-7");
  std::get<events::DnsQuery>(dns.body).name = "Files.PyPI.org";
  auto connect = event(events::Kind::net_connect, kT0 + 3, "b-7");
  std::get<events::NetConnect>(connect.body).dns_name = "files.pypi.org";
  auto lost = event(events::Kind::loss, kT0 + 4, "b-7");
  std::get<events::Loss>(lost.body).counts = {{"queue_full", 5}};
  auto agent_start = event(events::Kind::agent_start, kT0, "");
  std::get<events::AgentStart>(agent_start.body).mode = "daemon";
  return {record("agent-a", 1, {agent_start, start, exec}), record("agent-a", 2, {dns, connect, lost})};
}

std::vector<store::IndexRow> index_rows_of(store::Store& db, int64_t build) {
  std::vector<store::IndexRow> out;
  store::IndexQuery q;
  q.build = build;
  REQUIRE(db.index_rows(q, [&](const store::IndexRow& r) {
              out.push_back(r);
              return true;
            }).ok());
  return out;
}

std::vector<store::BuildValue> values_of(store::Store& db, store::ValueField field) {
  std::vector<store::BuildValue> out;
  REQUIRE(db.build_values(field, "", "", [&](const store::BuildValue& v) {
              out.push_back(v);
              return true;
            }).ok());
  return out;
}

}  // namespace

TEST_CASE("schema 7: builds keep branch, mode, losses and chain span; events parent key, digest, DNS name") {
  Fixture f;
  f.add_agent("agent-a");
  REQUIRE(f.db->commit(read_api_batches()).ok());
  auto page = f.db->build_page({}).value();
  REQUIRE(page.size() == 1);
  const auto& b = page[0];
  CHECK(b.build.branch == "main");
  CHECK(b.mode == "unmonitored");
  CHECK(b.unmonitored == 1);
  CHECK(b.lost == 5);
  CHECK(b.first_seq == 1);
  CHECK(b.last_seq == 2);
  CHECK(b.integrity == store::Integrity::kUnmonitored);
  auto rows = index_rows_of(*f.db, b.id);
  REQUIRE(rows.size() == 5);
  CHECK(rows[1].parent_key == "8-1");
  CHECK(rows[1].exe_sha256 == std::string(64, 'a'));
  CHECK(rows[2].dns_name == "Files.PyPI.org");
  CHECK(rows[3].dns_name == "files.pypi.org");
  const auto dns = values_of(*f.db, store::ValueField::kDnsName);
  REQUIRE(dns.size() == 1);  // the two spellings are one name
  CHECK(dns[0].value == "org.pypi.files");
  CHECK(dns[0].events == 2);
  CHECK(values_of(*f.db, store::ValueField::kExeSha256).size() == 1);
  auto agent = f.db->agent("agent-a").value().value();
  CHECK(agent.mode == "daemon");
  CHECK(agent.lost == 5);
  // Filters of the page.
  CHECK(f.db->build_page({.branch = "dev"}).value().empty());
  CHECK(f.db->build_page({.incomplete = true}).value().size() == 1);
  CHECK(f.db->build_page({.incomplete = false}).value().empty());
  CHECK(f.db->build_page({.before = b.id}).value().empty());
  CHECK(f.db->build_page({.ids = {b.id + 1}}).value().empty());
  // The digest filter matches bytes, as stored.
  store::IndexQuery q;
  q.build = b.id;
  q.exe_sha256 = std::string(64, 'a');
  std::size_t n = 0;
  REQUIRE(f.db->index_rows(q, [&](const store::IndexRow&) { return ++n, true; }).ok());
  CHECK(n == 1);
}

TEST_CASE("a version 6 store is upgraded to 7: losses, spans and dns_query names filled in; the rest stays empty") {
  const std::string dir = testing::make_temp_dir("store-v6");
  {
    auto db = store::open_sqlite(dir).value();
    store::Agent a;
    a.id = "agent-a";
    a.public_key.fill(1);
    REQUIRE(db->add_agent(a).ok());
    REQUIRE(db->commit(read_api_batches()).ok());
  }
  // What version 6 had: none of the new columns, values or index.
  sqlite3* raw = nullptr;
  REQUIRE(sqlite3_open((dir + "/buildtrail.db").c_str(), &raw) == SQLITE_OK);
  for (const char* sql :
       {"DROP INDEX findings_loss", "DELETE FROM build_values WHERE field IN (4, 5)",
        "ALTER TABLE builds DROP COLUMN branch", "ALTER TABLE builds DROP COLUMN mode",
        "ALTER TABLE builds DROP COLUMN unmonitored", "ALTER TABLE builds DROP COLUMN lost",
        "ALTER TABLE builds DROP COLUMN first_epoch", "ALTER TABLE builds DROP COLUMN first_seq",
        "ALTER TABLE builds DROP COLUMN last_epoch", "ALTER TABLE builds DROP COLUMN last_seq",
        "ALTER TABLE events DROP COLUMN parent_key", "ALTER TABLE events DROP COLUMN exe_sha256",
        "ALTER TABLE events DROP COLUMN dns_name", "ALTER TABLE agents DROP COLUMN mode",
        "ALTER TABLE agents DROP COLUMN lost", "UPDATE meta SET value = 6 WHERE key = 'schema_version'"}) {
    char* err = nullptr;
    CHECK_MESSAGE(sqlite3_exec(raw, sql, nullptr, nullptr, &err) == SQLITE_OK, sql, ": ", (err ? err : ""));
    sqlite3_free(err);
  }
  sqlite3_close(raw);

  auto ro = store::open_sqlite(dir, {.read_only = true});
  REQUIRE_FALSE(ro.ok());
  CHECK_MESSAGE(ro.error().message.find("schema version 6; run serve") != std::string::npos, ro.error().message);

  auto opened = store::open_sqlite(dir);
  REQUIRE_MESSAGE(opened.ok(), (opened.ok() ? "" : opened.error().message));
  auto db = std::move(*opened);
  auto page = db->build_page({}).value();
  REQUIRE(page.size() == 1);
  const auto& b = page[0];
  CHECK(b.lost == 5);
  CHECK(b.first_seq == 1);
  CHECK(b.last_seq == 2);
  CHECK(b.build.branch.empty());
  CHECK(b.mode.empty());
  CHECK(b.unmonitored == 0);
  CHECK(b.integrity == store::Integrity::kLoss);  // what the index can still tell
  auto rows = index_rows_of(*db, b.id);
  REQUIRE(rows.size() == 5);
  CHECK(rows[1].parent_key.empty());
  CHECK(rows[1].exe_sha256.empty());
  CHECK(rows[2].dns_name == "Files.PyPI.org");  // a dns_query's name is its destination
  CHECK(rows[3].dns_name.empty());
  const auto dns = values_of(*db, store::ValueField::kDnsName);
  REQUIRE(dns.size() == 1);
  CHECK(dns[0].value == "org.pypi.files");
  CHECK(dns[0].events == 1);
  CHECK(db->agent("agent-a").value()->lost == 5);
  // New commits fill the new columns.
  auto later = read_api_batches();
  later[1].header.seq = 3;
  later[1].hash = crypto::sha256(crypto::as_bytes("agent-a/1/3"));
  later[1].archive_path = "archive/00/" + crypto::to_hex(later[1].hash) + ".btb";
  REQUIRE(db->commit({later[1]}).ok());
  CHECK(db->build(b.id).value()->last_seq == 3);
  CHECK(values_of(*db, store::ValueField::kDnsName)[0].events == 3);
  db.reset();
  auto again = store::open_sqlite(dir, {.read_only = true});
  REQUIRE_MESSAGE(again.ok(), (again.ok() ? "" : again.error().message));
  again->reset();
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
}
