#include <doctest/doctest.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "common/events/examples.h"
#include "common/events/json.h"
#include "common/events/json_detail.h"
#include "common/events/schema_doc.h"
#include "tests/common/json_reference.h"
#include "tests/common/test_util.h"

using namespace bt;
using namespace bt::events;

TEST_CASE("every event kind round-trips through JSON") {
  for (const auto& info : kKinds) {
    CAPTURE(info.name);
    const Event original = example_event(info.kind);
    REQUIRE(original.kind() == info.kind);
    const std::string line = to_json(original);
    CHECK(line.find('\n') == std::string::npos);
    CHECK(line.rfind("{\"kind\":\"" + std::string(info.name) + "\"", 0) == 0);
    auto back = from_json(line);
    REQUIRE_MESSAGE(back.ok(), back.error().message);
    CHECK(*back == original);
  }
}

TEST_CASE("every declared field survives a round trip with non-default values") {
  // Set every field of every kind to a distinct value so an encoder or
  // decoder that skips a field cannot pass.
  for (const auto& info : kKinds) {
    CAPTURE(info.name);
    Event e = example_event(info.kind);
    int n = 0;
    auto fill = [&](auto& record) {
      std::decay_t<decltype(record)>::visit_fields([&](auto field) {
        auto& v = record.*(field.member);
        using V = std::decay_t<decltype(v)>;
        ++n;
        if constexpr (std::is_same_v<V, std::string>)
          v = "v\"\\\t\u00e9" + std::to_string(n);
        else if constexpr (std::is_same_v<V, uint64_t>)
          v = 1000u + n;
        else if constexpr (std::is_same_v<V, int64_t>)
          v = -n;
        else if constexpr (std::is_same_v<V, StringList>)
          v = {"a" + std::to_string(n), "", "c"};
        else if constexpr (std::is_same_v<V, Counts>)
          v = {{"x", 1u + n}, {"y", 0}};
        else if constexpr (std::is_same_v<V, FileList>)
          v = {FileDigest{"/p", 9, "ab"}, FileDigest{}};
      });
    };
    fill(e.build);
    fill(e.process);
    std::visit(
        [&](auto& body) {
          if constexpr (!std::is_same_v<std::decay_t<decltype(body)>, std::monostate>) fill(body);
        },
        e.body);
    auto back = from_json(to_json(e));
    REQUIRE_MESSAGE(back.ok(), back.error().message);
    CHECK(*back == e);
  }
}

TEST_CASE("malformed event JSON is an error value naming the problem") {
  struct Case {
    std::string input;
    std::string expect;
  };
  const Case cases[] = {
      {"", "invalid JSON at byte 0"},
      {"{", "invalid JSON"},
      {"[1,2]", "not a JSON object"},
      {"{\"time_ns\":1}", "missing field 'kind'"},
      {"{\"kind\":7,\"time_ns\":1}", "field 'kind'"},
      {"{\"kind\":\"no_such_kind\",\"time_ns\":1}", "unknown event kind 'no_such_kind'"},
      {"{\"kind\":\"loss\"}", "missing field 'time_ns'"},
      {"{\"kind\":\"loss\",\"time_ns\":-5}", "field 'time_ns': expected unsigned integer"},
      {"{\"kind\":\"loss\",\"time_ns\":1,\"process\":{\"pid\":\"12\"}}", "process: field 'pid'"},
      {"{\"kind\":\"loss\",\"time_ns\":1,\"data\":{\"counts\":{\"x\":\"y\"}}}", "field 'counts'"},
      {"{\"kind\":\"process_exec\",\"time_ns\":1,\"data\":{\"argv\":[1]}}", "field 'argv'"},
      {"{\"kind\":\"loss\",\"time_ns\":1} trailing", "invalid JSON"},
      {"{\"kind\":\"loss\",\"time_ns\":1,\"host\":\"\xff\xfe\"}", "invalid JSON"},
      {"{\"kind\":\"loss\",\"time_ns\":1,\"host\":\"\xc0\xaf\"}", "invalid JSON"},
      {"{\"kind\":\"loss\",\"time_ns\":1,\"data\":[]}", "field 'data'"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.input);
    auto r = from_json(c.input);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == ErrorCode::kMalformed);
    CHECK_MESSAGE(r.error().message.find(c.expect) != std::string::npos, r.error().message);
  }
}

TEST_CASE("deeply nested JSON is rejected without exhausting the stack") {
  std::string deep =
      "{\"kind\":\"loss\",\"time_ns\":1,\"x\":" + std::string(200000, '[') + std::string(200000, ']') + "}";
  auto r = from_json(deep);
  CHECK(r.ok());  // unknown members are ignored; the point is no crash
  std::string unbalanced = std::string(500000, '[');
  CHECK_FALSE(from_json(unbalanced).ok());
}

TEST_CASE("unknown members are ignored so newer events still decode") {
  auto r = from_json("{\"kind\":\"loss\",\"time_ns\":5,\"future\":{\"a\":1},\"data\":{\"new\":2}}");
  REQUIRE(r.ok());
  CHECK(r->time_ns == 5);
  CHECK(r->kind() == Kind::loss);
}

TEST_CASE("the reader's arena stays bounded over many lines") {
  JsonLineReader reader;
  const std::string line = to_json(example_event(Kind::process_exec));
  for (int i = 0; i < 20000; ++i) REQUIRE(reader.parse(line).ok());
}

TEST_CASE("docs/events.md is generated from events.def") {
  const std::string path = testing::env_or("BUILDTRAIL_SRC", ".") + "/docs/events.md";
  std::ifstream in(path);
  REQUIRE_MESSAGE(in.good(), "cannot read " << path);
  std::stringstream ss;
  ss << in.rdbuf();
  CHECK_MESSAGE(ss.str() == testing::rendered_page("docs/events.md", reference_parts),
                "docs/events.md is stale: run `make docs` and commit the result");
}

TEST_CASE("strings are always written as UTF-8; lone surrogate escapes are refused") {
  auto e = example_event(Kind::process_exec);
  e.process.exe = std::string("/srv/caf\xe9/bin\xff", 14);  // Latin-1 and a stray byte
  auto& argv = std::get<ProcessExec>(e.body).argv;
  argv.push_back("\xc3\xa9t\xc3\xa9 \xf0\x9f\x94\x91 ok");  // valid UTF-8 kept as is
  argv.push_back(std::string("\xed\xa0\x80", 3));           // an encoded surrogate
  const std::string line = to_json(e);
  auto back = from_json(line);
  REQUIRE_MESSAGE(back.ok(), back.error().message);
  CHECK(back->process.exe == "/srv/caf\xef\xbf\xbd/bin\xef\xbf\xbd");
  CHECK(std::get<ProcessExec>(back->body).argv[argv.size() - 2] == argv[argv.size() - 2]);
  CHECK(std::get<ProcessExec>(back->body).argv.back() == "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
  // Encoding what was decoded gives the same line again.
  CHECK(to_json(*back) == line);

  auto r = from_json("{\"kind\":\"loss\",\"time_ns\":1,\"host\":\"\\udc00\"}");
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().message.find("lone surrogate") != std::string::npos);
  CHECK(from_json("{\"kind\":\"loss\",\"time_ns\":1,\"host\":\"\\ud83d\\udd11\"}").ok());
}

namespace {

// The reader's result on `line` is the DOM's: the same event, or the same
// error.
void check_same_result(const Status& got, const Event& got_event, const Result<Event>& dom) {
  REQUIRE(got.ok() == dom.ok());
  if (dom.ok()) {
    CHECK(got_event == dom.value());
  } else {
    CHECK(got.error().code == dom.error().code);
    CHECK(got.error().message == dom.error().message);
  }
}

}  // namespace

TEST_CASE("the fast reader and RapidJSON's DOM agree on the examples and on tricky lines") {
  // The examples: the fast reader takes what the encoder writes, the DOM
  // reads the same event, and the encoder writes what RapidJSON's Writer would.
  std::vector<std::string> lines;
  for (const auto& info : kKinds) {
    CAPTURE(info.name);
    const Event example = example_event(info.kind);
    const std::string line = to_json(example);
    CHECK(line == testing::reference_json(example));
    Event fast;
    REQUIRE(detail::decode_fast(line, fast));
    auto dom = detail::decode_dom(line);
    REQUIRE_MESSAGE(dom.ok(), dom.error().message);
    CHECK(fast == *dom);
    CHECK(*dom == example);
    Event stale = testing::stale_event(info.kind);
    REQUIRE(detail::decode_fast(line, stale));
    CHECK(stale == example);
    lines.push_back(line);
  }
  for (const auto& c : testing::kTrickyLines) {
    CAPTURE(c.what);
    CAPTURE(c.line);
    Event fast;
    const bool took = detail::decode_fast(c.line, fast);
    auto dom = detail::decode_dom(c.line);
    CHECK(took == c.fast_takes);
    CHECK_MESSAGE(dom.ok() == c.dom_accepts, (dom.ok() ? "" : dom.error().message));
    if (took) {
      REQUIRE(dom.ok());
      CHECK(fast == *dom);
    }
    Event overall;
    JsonLineReader reader;
    check_same_result(reader.parse_into(c.line, overall), overall, dom);
    if (dom.ok()) {
      CHECK(to_json(*dom) == testing::reference_json(*dom));
      // Into an event of the same kind with every field set: nothing stale
      // survives.
      Event stale = testing::stale_event(dom->kind());
      check_same_result(reader.parse_into(c.line, stale), stale, dom);
      stale = testing::stale_event(dom->kind());
      if (detail::decode_fast(c.line, stale)) CHECK(stale == *dom);
    }
    lines.emplace_back(c.line);
  }
  // One reader and one event through every line twice, in two orders, as a
  // batch is read: nothing of an earlier line, good or bad, leaks into a
  // later one.
  JsonLineReader reader;
  Event reused, fast_reused;
  for (int pass = 0; pass < 2; ++pass) {
    for (std::size_t i = 0; i < lines.size(); ++i) {
      const std::string& line = pass == 0 ? lines[i] : lines[lines.size() - 1 - i];
      CAPTURE(line);
      auto dom = detail::decode_dom(line);
      check_same_result(reader.parse_into(line, reused), reused, dom);
      if (detail::decode_fast(line, fast_reused)) {
        REQUIRE(dom.ok());
        CHECK(fast_reused == *dom);
      }
    }
  }
}
