// common/bounds: identity fields over their bounds, cut with a marker.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "common/bounds.h"
#include "common/events/examples.h"
#include "common/text.h"

using namespace bt;

TEST_CASE("bounds: a value over its bound is cut, marked, and told apart from its neighbours") {
  const std::string a = std::string(1 << 20, 'a') + "1", b = std::string(1 << 20, 'a') + "2";
  const std::string ca = bounds::cut(a, 1024), cb = bounds::cut(b, 1024);
  CHECK(ca.size() <= 1024);
  CHECK(ca.rfind("aaaa", 0) == 0);
  CHECK(ca.find("...[cut from 1048577 bytes, sha256 ") != std::string::npos);
  CHECK(ca != cb);  // two builds whose ids share a megabyte stay two builds
  CHECK(bounds::cut("short", 1024) == "short");
  // Cut on a code point boundary.
  std::string accents;
  for (int i = 0; i < 2000; ++i) accents += "\xc3\xa9";
  const std::string cut = bounds::cut(accents, 300);
  CHECK(cut.size() <= 300);
  CHECK(text::printable(cut).find("\\x") == std::string::npos);

  // An event with a megabyte host, build id and exe: each cut, flagged by
  // its bit; a secret straddling the cut is redacted first, not kept in part.
  auto e = events::example_event(events::Kind::secret_access);
  e.host = std::string(2 << 20, 'h');
  e.build.id = std::string(1 << 20, 'b');
  e.process.exe = "/" + std::string(5000, 'x');
  // A token where the cut falls (a prefix kept as is would be 20 of its 40
  // characters, too short for redaction to know it afterwards).
  e.build.job = std::string(960, 'j') + " ghp_" + std::string(36, 'Z') + " " + std::string(200, 'k');
  const uint32_t cut_fields = bounds::bound_event(e);
  std::vector<std::string_view> names;
  for (std::size_t i = 0; i < bounds::event_fields().size(); ++i)
    if (cut_fields & (1u << i)) names.push_back(bounds::event_fields()[i].name);
  CHECK(names == std::vector<std::string_view>{"host", "build.job", "build.id", "process.exe"});
  CHECK(e.host.size() <= 253);
  CHECK(e.build.id.size() <= 1024);
  CHECK(e.process.exe.size() <= 4096);
  CHECK(e.build.job.size() <= 1024);
  CHECK(e.build.job.find("ZZZZ") == std::string::npos);
  // Fields within their bounds, and kinds without the field, are untouched.
  auto plain = events::example_event(events::Kind::net_connect);
  const auto before = plain;
  CHECK(bounds::bound_event(plain) == 0);
  CHECK(plain == before);
  for (const auto& f : bounds::event_fields()) CHECK(f.max_bytes >= bounds::kMinCutBytes);
  CHECK(bounds::inventory_max("hostname") == 253);
  CHECK(bounds::inventory_max("nope") == 0);
}
