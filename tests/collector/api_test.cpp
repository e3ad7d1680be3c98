// The read API (collector/api/) in the real collector over real HTTP:
// bearer tokens made and revoked by `tokens`, GET /v1/alerts paged and
// filtered against what `alerts list --format jsonl` prints, failed tokens
// refused, logged without the token and rate-limited per address, and a
// token refused where agents post batches. Also the token format and the
// failure limiter on their own.
#include <curl/curl.h>
#include <doctest/doctest.h>
#include <rapidjson/document.h>
#include <sqlite3.h>

#include <algorithm>
#include <chrono>
#include <set>
#include <sstream>
#include <thread>

#include "collector/api/limiter.h"
#include "collector/api/token.h"
#include "collector/store/store.h"
#include "common/clock.h"
#include "tests/collector/alert_fixtures.h"
#include "tests/collector/collector_process.h"

using namespace bt;
using namespace bt::testing;

namespace {

struct Answer {
  long status = 0;
  std::string body;
  std::string www_authenticate, retry_after, allow;
};

// One request with an optional Authorization header (the whole value).
Answer request(const std::string& url, const std::string& authorization = "", const std::string* post_body = nullptr) {
  Answer a;
  CURL* c = curl_easy_init();
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_TIMEOUT, 60L);
  curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
  curl_slist* headers = nullptr;
  if (!authorization.empty()) headers = curl_slist_append(headers, ("Authorization: " + authorization).c_str());
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
  if (post_body) {
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, post_body->data());
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(post_body->size()));
  }
  auto write = +[](char* p, size_t s, size_t n, void* out) -> size_t {
    static_cast<std::string*>(out)->append(p, s * n);
    return s * n;
  };
  auto header = +[](char* p, size_t s, size_t n, void* out) -> size_t {
    auto* ans = static_cast<Answer*>(out);
    const std::string line(p, s * n);
    const auto colon = line.find(':');
    if (colon != std::string::npos) {
      std::string name = line.substr(0, colon);
      std::transform(name.begin(), name.end(), name.begin(), ::tolower);
      std::string value = line.substr(colon + 1);
      value.erase(0, value.find_first_not_of(' '));
      value.erase(value.find_last_not_of("\r\n ") + 1);
      if (name == "www-authenticate") ans->www_authenticate = value;
      if (name == "retry-after") ans->retry_after = value;
      if (name == "allow") ans->allow = value;
    }
    return s * n;
  };
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, write);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &a.body);
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, header);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, &a);
  curl_easy_perform(c);
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &a.status);
  curl_slist_free_all(headers);
  curl_easy_cleanup(c);
  return a;
}

std::string tool() { return build_path("collector/buildtrail-collector"); }

// `tokens create`: the token is the last line of its output.
std::string create_token(const std::string& data, const std::string& name, const std::string& role) {
  auto r = run_command(tool() + " tokens create --data " + data + " --name " + name + " --role " + role);
  REQUIRE_MESSAGE(r.exit_code == 0, r.output);
  std::string out = r.output;
  while (!out.empty() && out.back() == '\n') out.pop_back();
  return out.substr(out.rfind('\n') + 1);
}

rapidjson::Document parse(const std::string& text) {
  rapidjson::Document d;
  d.Parse(text.c_str());
  REQUIRE_MESSAGE(!d.HasParseError(), text);
  return d;
}

// The ids of a page's alerts, and its cursor ("" for null).
std::pair<std::vector<int64_t>, std::string> page_of(const rapidjson::Document& d) {
  std::vector<int64_t> ids;
  for (const auto& a : d["alerts"].GetArray()) ids.push_back(a["id"].GetInt64());
  return {ids, d["next"].IsNull() ? "" : d["next"].GetString()};
}

// The random part of a token: what must never be kept or shown.
std::string secret_of(const std::string& token) { return token.substr(std::string("btk_0123456789abcdef_").size()); }

std::string bytes_of(const std::string& path) {
  auto text = fs::read_file(path, 64 << 20);
  return text ? *text : std::string();
}

}  // namespace

TEST_CASE("api: tokens look like btk_<id>_<secret>, are made at random and match only themselves") {
  auto a = collector::api::make_token("ci-reader", collector::store::ApiRole::kViewer, kT0).value();
  auto b = collector::api::make_token("ci-reader", collector::store::ApiRole::kViewer, kT0).value();
  CHECK(a.text.rfind("btk_", 0) == 0);
  CHECK(a.text.size() == 64);
  CHECK(a.text != b.text);
  CHECK(collector::api::token_id(a.text) == a.row.id);
  CHECK(collector::api::token_matches(a.row, a.text));
  CHECK_FALSE(collector::api::token_matches(a.row, b.text));
  std::string flipped = a.text;
  flipped.back() = flipped.back() == 'A' ? 'B' : 'A';
  CHECK(collector::api::token_id(flipped) == a.row.id);
  CHECK_FALSE(collector::api::token_matches(a.row, flipped));
  CHECK(a.row.hash == crypto::sha256(crypto::as_bytes(a.text)));
  CHECK_FALSE(collector::api::token_id("btk_short"));
  CHECK_FALSE(collector::api::token_id(std::string("xtk_") + a.text.substr(4)));
  CHECK_FALSE(collector::api::make_token("two words", collector::store::ApiRole::kAdmin, kT0).ok());
  CHECK_FALSE(collector::api::make_token("", collector::store::ApiRole::kAdmin, kT0).ok());
}

TEST_CASE("api: the failure limiter refuses an address after 10 failures in a window, until the oldest ages out") {
  collector::api::FailureLimiter limiter({10, 60'000'000'000ull, 3});
  for (int i = 0; i < 9; ++i) CHECK_FALSE(limiter.failed("192.0.2.1", kT0 + i));
  CHECK(limiter.refused_for_s("192.0.2.1", kT0 + 9) == 0);
  CHECK(limiter.failed("192.0.2.1", kT0 + 9));
  CHECK(limiter.refused_for_s("192.0.2.1", kT0 + 10) == 60);
  CHECK(limiter.refused_for_s("192.0.2.2", kT0 + 10) == 0);
  CHECK(limiter.refused_for_s("192.0.2.1", kT0 + 30'000'000'000ull) == 30);
  CHECK(limiter.refused_for_s("192.0.2.1", kT0 + 60'000'000'000ull) == 0);
  // IPv6 addresses count by their /64.
  CHECK(collector::api::FailureLimiter::key_of("2001:db8:1:2:3:4:5:6") ==
        collector::api::FailureLimiter::key_of("2001:db8:1:2:ffff::1"));
  CHECK(collector::api::FailureLimiter::key_of("2001:db8:1:2::1") !=
        collector::api::FailureLimiter::key_of("2001:db8:1:3::1"));
  // At most 3 addresses remembered: a fourth forgets the oldest.
  for (int i = 0; i < 10; ++i) limiter.failed("192.0.2.2", kT0 + 100 + i);
  limiter.failed("192.0.2.3", kT0 + 200);
  limiter.failed("192.0.2.4", kT0 + 300);
  CHECK(limiter.refused_for_s("192.0.2.2", kT0 + 400) > 0);
  CHECK(limiter.refused_for_s("192.0.2.1", kT0 + 400) == 0);
}

TEST_CASE("api: GET /v1/alerts with a bearer token: refusals, pages, filters, one alert, revocation") {
  CollectorData env("api");
  const auto key = test_key(41);
  const std::string agent = "agent-api-1";
  env.add_agent(agent, key);
  CollectorProcess c(env.data);
  REQUIRE(c.running());

  // 24 batches of losses in two builds, then seq 26 (25 never sent: a gap)
  // with an event an hour ahead of the collector's clock (a clock finding);
  // seq 27 is kept for later.
  std::vector<std::pair<uint64_t, std::vector<events::Event>>> plan;
  for (uint64_t seq = 1; seq <= 24; ++seq)
    plan.push_back({seq, {loss(agent, kT0 + seq * 1000, seq % 2 ? "run-odd" : "run-even")}});
  const uint64_t ahead = clock::now_ns() + 3600ull * 1000000000;
  plan.push_back({26, {build_event(agent, ahead, events::ProcessExit{}, "run-odd")}});
  plan.push_back({27, {build_event(agent, kT0 + 99000, events::ProcessExit{}, "run-odd")}});
  const auto chain = seal_seqs(key, agent, plan);
  for (std::size_t i = 0; i + 1 < chain.size(); ++i) REQUIRE(post(c.url("/v1/batches"), chain[i].bytes).status == 200);
  REQUIRE(detected_all(env.data));

  const std::string viewer = create_token(env.data, "ci-reader", "viewer");
  const std::string admin = create_token(env.data, "ops", "admin");
  const std::string doomed = create_token(env.data, "temporary", "viewer");
  const std::string url = c.url("/v1/alerts");

  SUBCASE("a bearer token is refused where agents post batches; the batch goes in without it") {
    const std::string last(chain.back().bytes.begin(), chain.back().bytes.end());
    auto with_token = request(c.url("/v1/batches"), "Bearer " + viewer, &last);
    CHECK(with_token.status == 403);
    CHECK(with_token.body.find("API tokens only read") != std::string::npos);
    auto st = collector::store::open_sqlite(env.data, {true, 5000}).value();
    CHECK(st->batches_after(0, 1000).value().size() == 25);
    CHECK(request(c.url("/v1/batches"), "", &last).status == 200);
    CHECK(st->batches_after(0, 1000).value().size() == 26);
  }
  REQUIRE(detected_all(env.data));

  // What the API must answer: `alerts list --format jsonl`, line by line.
  auto listed = run_command(tool() + " alerts list --data " + env.data + " --format jsonl");
  REQUIRE(listed.exit_code == 0);
  std::vector<std::string> lines;
  {
    std::istringstream in(listed.output);
    for (std::string line; std::getline(in, line);) lines.push_back(line);
  }
  const auto stored = collector::store::open_sqlite(env.data, {true, 5000}).value()->alerts({}).value();
  REQUIRE(stored.size() == lines.size());
  REQUIRE(stored.size() >= 26);
  std::vector<int64_t> all_ids;
  for (const auto& a : stored) all_ids.push_back(a.id);

  SUBCASE("no token, a wrong one, another scheme: 401 with a Bearer challenge") {
    auto none = request(url);
    CHECK(none.status == 401);
    CHECK(none.www_authenticate.rfind("Bearer", 0) == 0);
    CHECK(parse(none.body).HasMember("error"));
    std::string wrong_secret = viewer;
    wrong_secret.back() = wrong_secret.back() == 'A' ? 'B' : 'A';
    for (const std::string& bad :
         {"Bearer " + wrong_secret, std::string("Bearer btk_0000000000000000_") + std::string(43, 'A'),
          std::string("Bearer not-a-token"), "Basic " + viewer}) {
      auto r = request(url, bad);
      CHECK_MESSAGE(r.status == 401, bad);
      CHECK(r.www_authenticate.find("invalid_token") != std::string::npos);
    }
    CHECK(request(c.url("/v1/no-such-thing")).status == 401);  // every endpoint needs the token
    CHECK(request(c.url("/v1/no-such-thing"), "Bearer " + viewer).status == 404);
    // Logged with the address and why, never with a token.
    const std::string log = c.log();
    CHECK(log.find("api: refused a token from 127.0.0.1: wrong secret (token 'ci-reader')") != std::string::npos);
    CHECK(log.find("unknown token") != std::string::npos);
    CHECK(log.find("btk_") == std::string::npos);
  }

  SUBCASE("pages of 7 by the `after` cursor cover every alert once, in id order, as alerts list prints them") {
    std::vector<int64_t> seen;
    std::string cursor;
    int pages = 0;
    do {
      auto r = request(url + "?limit=7" + (cursor.empty() ? "" : "&after=" + cursor), "Bearer " + viewer);
      REQUIRE(r.status == 200);
      auto d = parse(r.body);
      auto [ids, next] = page_of(d);
      CHECK(ids.size() <= 7);
      for (const auto& a : d["alerts"].GetArray()) {
        const std::size_t at = seen.size();
        REQUIRE(at < lines.size());
        CHECK(a == parse(lines[at]));  // the same object, field for field
        seen.push_back(a["id"].GetInt64());
      }
      if (!next.empty()) CHECK(next == std::to_string(ids.back()));
      cursor = next;
      ++pages;
    } while (!cursor.empty() && pages < 100);
    CHECK(seen == all_ids);
    CHECK(pages == static_cast<int>((all_ids.size() + 6) / 7));
    // The default page holds them all (fewer than 100), with no next page.
    auto whole = parse(request(url, "Bearer " + admin).body);
    CHECK(page_of(whole).first == all_ids);
    CHECK(page_of(whole).second.empty());
  }

  SUBCASE("filters: severity, build, since, open") {
    auto ids_for = [&](const std::string& query) {
      auto r = request(url + "?" + query, "Bearer " + viewer);
      REQUIRE_MESSAGE(r.status == 200, r.body);
      return page_of(parse(r.body)).first;
    };
    auto expect = [&](auto keep) {
      std::vector<int64_t> out;
      for (const auto& a : stored)
        if (keep(a)) out.push_back(a.id);
      return out;
    };
    const auto high = expect([](const auto& a) { return collector::store::severity_rank(a.severity) >= 3; });
    const auto medium = expect([](const auto& a) { return collector::store::severity_rank(a.severity) >= 2; });
    CHECK(!high.empty());
    CHECK(high.size() < medium.size());
    CHECK(medium.size() < stored.size());  // the clock finding's alert is low
    CHECK(ids_for("severity=high") == high);
    CHECK(ids_for("severity=medium") == medium);
    const auto builds = collector::store::open_sqlite(env.data, {true, 5000}).value()->builds({}).value();
    REQUIRE(builds.size() == 2);
    for (const auto& b : builds) {
      const auto of_build = expect([&](const auto& a) { return a.build_ref == b.id; });
      CHECK(of_build.size() >= 12);
      CHECK(ids_for("build=" + std::to_string(b.id)) == of_build);
    }
    const uint64_t middle = stored[stored.size() / 2].raised_ns;
    CHECK(ids_for("since=" + std::to_string(middle)) == expect([&](const auto& a) { return a.raised_ns >= middle; }));
    CHECK(ids_for("since=1h") == all_ids);
    CHECK(ids_for("since=2099-01-01T00:00:00Z").empty());
    CHECK(ids_for("severity=high&build=" + std::to_string(builds[0].id) + "&limit=3").size() == 3);
    REQUIRE(run_command(tool() + " alerts ack --data " + env.data + " " + std::to_string(all_ids[0])).exit_code == 0);
    CHECK(ids_for("open=1") == std::vector<int64_t>(all_ids.begin() + 1, all_ids.end()));
    CHECK(ids_for("open=0") == all_ids);
  }

  SUBCASE("bad parameters: 400 with a one-line JSON error; other methods 405") {
    for (const char* q : {"limit=5000", "limit=0", "limit=ten", "severity=bogus", "build=-1", "after=x", "open=yes",
                          "since=yesterday", "colour=red", "limit=5&limit=6"}) {
      auto r = request(url + "?" + q, "Bearer " + viewer);
      CHECK_MESSAGE(r.status == 400, q);
      CHECK(parse(r.body)["error"].IsString());
      CHECK(r.body.find('\n') == r.body.size() - 1);
    }
    CHECK(request(url + "?limit=1000", "Bearer " + viewer).status == 200);
    const std::string body = "{}";
    auto posted = request(url, "Bearer " + admin, &body);
    CHECK(posted.status == 405);
    CHECK(posted.allow == "GET, HEAD");
  }

  SUBCASE("GET /v1/alerts/{id}: the alert with its evidence, or 404") {
    for (std::size_t i : {std::size_t{0}, stored.size() - 1}) {
      auto r = request(url + "/" + std::to_string(stored[i].id), "Bearer " + viewer);
      REQUIRE(r.status == 200);
      CHECK(parse(r.body) == parse(lines[i]));
    }
    auto first = parse(request(url + "/" + std::to_string(stored[0].id), "Bearer " + viewer).body);
    REQUIRE(first["evidence"].Size() == 1);
    CHECK(std::string(first["evidence"][0]["agent_id"].GetString()) == agent);
    CHECK(first["evidence"][0]["seq"].GetUint64() == stored[0].evidence[0].seq);
    CHECK(request(url + "/999999", "Bearer " + viewer).status == 404);
    CHECK(request(url + "/abc", "Bearer " + viewer).status == 404);
    CHECK(request(url + "/1", "").status == 401);
  }

  SUBCASE("a revoked token is refused from the next request on; list and store never hold a token") {
    CHECK(request(url, "Bearer " + doomed).status == 200);
    auto revoked = run_command(tool() + " tokens revoke --data " + env.data + " temporary");
    REQUIRE_MESSAGE(revoked.exit_code == 0, revoked.output);
    auto r = request(url, "Bearer " + doomed);
    CHECK(r.status == 401);
    CHECK(c.log().find("revoked (token 'temporary')") != std::string::npos);
    CHECK(request(url, "Bearer " + viewer).status == 200);  // the others still work
    CHECK(run_command(tool() + " tokens revoke --data " + env.data + " temporary").exit_code == 1);  // already
    // A revoked token's name may be given again; a valid one's may not.
    CHECK(run_command(tool() + " tokens create --data " + env.data + " --name ci-reader").exit_code == 1);
    const std::string again = create_token(env.data, "temporary", "viewer");
    CHECK(request(url, "Bearer " + again).status == 200);
    CHECK(request(url, "Bearer " + doomed).status == 401);
    // When each was last used is kept (for `tokens list`).
    {
      auto st = collector::store::open_sqlite(env.data, {true, 5000}).value();
      CHECK(st->api_token(*collector::api::token_id(viewer)).value()->last_used_ns > 0);
    }

    auto list = run_command(tool() + " tokens list --data " + env.data);
    CHECK(list.exit_code == 0);
    CHECK(list.output.find("ci-reader") != std::string::npos);
    CHECK(list.output.find("admin") != std::string::npos);
    for (const auto& t : {viewer, admin, doomed}) {
      const std::string secret = secret_of(t);
      CHECK(list.output.find(secret) == std::string::npos);
      const auto hash = crypto::to_hex(crypto::sha256(crypto::as_bytes(t)));
      CHECK(list.output.find(hash) == std::string::npos);
    }
    // The store keeps the SHA-256, not the token: neither the database nor
    // its WAL holds a secret.
    sqlite3* db = nullptr;
    REQUIRE(sqlite3_open_v2((env.data + "/buildtrail.db").c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK);
    sqlite3_stmt* q = nullptr;
    REQUIRE(sqlite3_prepare_v2(db, "SELECT id, sha256, revoked_ns FROM api_tokens ORDER BY created_ns", -1, &q,
                               nullptr) == SQLITE_OK);
    int rows = 0;
    while (sqlite3_step(q) == SQLITE_ROW) {
      const std::string id(reinterpret_cast<const char*>(sqlite3_column_text(q, 0)));
      const std::string hash(static_cast<const char*>(sqlite3_column_blob(q, 1)),
                             static_cast<std::size_t>(sqlite3_column_bytes(q, 1)));
      for (const auto& t : {viewer, admin, doomed}) {
        CHECK(hash != t);
        if (collector::api::token_id(t) == id) {
          const auto digest = crypto::sha256(crypto::as_bytes(t));
          CHECK(hash == std::string(digest.begin(), digest.end()));
          CHECK((sqlite3_column_int64(q, 2) != 0) == (t == doomed));
        }
      }
      ++rows;
    }
    sqlite3_finalize(q);
    sqlite3_close(db);
    CHECK(rows == 4);
    const std::string files = bytes_of(env.data + "/buildtrail.db") + bytes_of(env.data + "/buildtrail.db-wal");
    CHECK(files.find("api_tokens") != std::string::npos);  // the files were read
    for (const auto& t : {viewer, admin, doomed}) CHECK(files.find(secret_of(t)) == std::string::npos);
    // Nor does the collector's log, whatever was presented.
    const std::string log = c.log();
    for (const auto& t : {viewer, admin, doomed}) CHECK(log.find(secret_of(t)) == std::string::npos);
  }
}

TEST_CASE("api: 12 invalid tokens in a row from one address: the last ones are 429 with Retry-After") {
  CollectorData env("api-limit");
  CollectorProcess c(env.data);
  REQUIRE(c.running());
  const std::string valid = create_token(env.data, "reader", "viewer");
  CHECK(request(c.url("/v1/alerts"), "Bearer " + valid).status == 200);
  std::vector<long> statuses;
  Answer last;
  for (int i = 0; i < 12; ++i) {
    last = request(c.url("/v1/alerts"), "Bearer btk_" + std::string(16, 'f') + "_" + std::to_string(i) +
                                            std::string(42 - std::to_string(i).size(), 'x') + "A");
    statuses.push_back(last.status);
  }
  CHECK(std::vector<long>(statuses.begin(), statuses.begin() + 10) == std::vector<long>(10, 401));
  CHECK(statuses[10] == 429);
  CHECK(statuses[11] == 429);
  const int wait = std::atoi(last.retry_after.c_str());
  CHECK(wait >= 1);
  CHECK(wait <= 60);
  CHECK(parse(last.body)["error"].IsString());
  // While refused, the address is refused with a valid token too.
  CHECK(request(c.url("/v1/alerts"), "Bearer " + valid).status == 429);
  const std::string log = c.log();
  CHECK(log.find("api: 127.0.0.1 refused for a while") != std::string::npos);
  CHECK(log.find("btk_") == std::string::npos);
  // Agents are not held back by it: the health and batch endpoints still answer.
  CHECK(get(c.url("/healthz")).status == 200);
}
