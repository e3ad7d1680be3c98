// agent/route/job_protocol: the `job begin|end` request and reply lines. The
// daemon end to end (peer credentials, hooks, jobs spanning steps) is in
// daemon_test.cpp.
#include <doctest/doctest.h>

#include "agent/route/job_protocol.h"

using namespace bt::agent::job;

TEST_CASE("job protocol: a request survives its line; only identity variables travel") {
  Request r;
  r.op = Op::kEnd;
  r.id = "nightly-42";
  r.status = 3;
  r.env = {{"GITHUB_RUN_ID", "5151"}, {"GITHUB_JOB", "build"}};
  auto back = parse_request(to_json(r));
  REQUIRE(back);
  CHECK(back->op == Op::kEnd);
  CHECK(back->id == "nightly-42");
  CHECK(back->status == 3);
  CHECK(back->env == r.env);

  // A token variable sent anyway is dropped, never carried into events.
  auto smuggled = parse_request(R"({"op":"begin","env":{"GITHUB_RUN_ID":"1","ACTIONS_RUNTIME_TOKEN":"fake-token"}})");
  REQUIRE(smuggled);
  CHECK(smuggled->env.size() == 1);
  CHECK(smuggled->env.count("ACTIONS_RUNTIME_TOKEN") == 0);
  CHECK(bt::agent::attribution::identity_only({{"CI_JOB_TOKEN", "fake"}, {"CI_JOB_ID", "8"}}) ==
        bt::agent::attribution::Environment{{"CI_JOB_ID", "8"}});
}

TEST_CASE("job protocol: bad requests are one-line errors naming the member") {
  const std::pair<const char*, const char*> cases[] = {
      {"", "not a JSON object"},
      {"[1]", "not a JSON object"},
      {R"({"op":"start"})", "\"op\""},
      {R"({"id":"x"})", "\"op\""},
      {R"({"op":"end","status":256})", "\"status\""},
      {R"({"op":"end","status":-1})", "\"status\""},
      {R"({"op":"end","status":"0"})", "\"status\""},
      {R"({"op":"begin","id":7})", "\"id\""},
      {"{\"op\":\"begin\",\"id\":\"a\\nb\"}", "\"id\""},
      {R"({"op":"begin","env":{"GITHUB_RUN_ID":1}})", "\"env\""},
      {R"({"op":"begin","env":[]})", "\"env\""},
  };
  for (const auto& c : cases) {
    const char* line = c.first;  // not a structured binding: INFO captures it
    const char* member = c.second;
    auto r = parse_request(line);
    INFO(line);
    REQUIRE_FALSE(r);
    CHECK(r.error().message.find(member) != std::string::npos);
    CHECK(r.error().message.find('\n') == std::string::npos);
  }
  auto huge = parse_request(std::string(kMaxRequestBytes + 1, ' '));
  REQUIRE_FALSE(huge);
  CHECK(huge.error().code == bt::ErrorCode::kTooLarge);
  CHECK_FALSE(parse_request(R"({"op":"begin","id":")" + std::string(kMaxIdBytes + 1, 'x') + "\"}"));
}

TEST_CASE("job protocol: replies") {
  auto r = parse_reply(to_json(Reply{true, "job github ci/build 5151.1 begun"}));
  REQUIRE(r);
  CHECK(r->ok);
  CHECK(r->message == "job github ci/build 5151.1 begun");
  CHECK_FALSE(parse_reply(R"({"ok":true})"));
  CHECK_FALSE(parse_reply("garbage"));
  auto multi = parse_reply(R"({"ok":false,"message":"a\nb"})");
  REQUIRE(multi);
  CHECK(multi->message == "a b");
}
