// Fuzzes the query language of GET /v1/search (collector/api/search_query.h):
// q is whatever a client sends.
//
// Input: the query; after a first newline, a name or path to try the
// query's globs on.
// Invariants, any break aborts:
//  - an error is one non-empty line;
//  - a parsed query has an event term, a digest of 64 lowercase hex digits
//    or none, a lower-case dest, no control character in any value, since
//    not after until;
//  - query_text() of it parses back to the same query;
//  - a name its dest glob matches lies in the glob's index range
//    (dns_range over store::dns_value), and a path its exe glob matches in
//    exe_range: the index never hides a match.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "collector/api/search_query.h"
#include "collector/store/store.h"

namespace {

using namespace bt::collector;

[[noreturn]] void fail(const char* what, std::string_view detail) {
  std::fprintf(stderr, "fuzz_search_query: invariant broken: %s: %.*s\n", what, static_cast<int>(detail.size()),
               detail.data());
  std::abort();
}

constexpr uint64_t kNow = 1795775400000000000ull;

bool has_control(std::string_view s) {
  for (unsigned char c : s)
    if (c < 0x20 || c == 0x7f) return true;
  return false;
}

bool same(const api::SearchQuery& a, const api::SearchQuery& b) {
  return a.exe_sha256 == b.exe_sha256 && a.dest == b.dest && a.exe == b.exe && a.argv == b.argv &&
         a.since_ns == b.since_ns && a.until_ns == b.until_ns && a.ci == b.ci && a.repository == b.repository &&
         a.job == b.job && a.branch == b.branch;
}

bool in(const api::ValueRange& r, const std::string& v) { return v >= r.lo && (r.hi.empty() || v < r.hi); }

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const std::size_t newline = input.find('\n');
  const std::string_view text = input.substr(0, newline);
  const std::string subject(newline == std::string_view::npos ? std::string_view() : input.substr(newline + 1));

  auto q = api::parse_search(text, kNow);
  if (!q) {
    const std::string& m = q.error().message;
    if (m.empty() || m.find('\n') != std::string::npos) fail("error not one line", m);
    return 0;
  }
  if (!q->has_event_term()) fail("no event term", text);
  if (!q->exe_sha256.empty() &&
      (q->exe_sha256.size() != 64 || q->exe_sha256.find_first_not_of("0123456789abcdef") != std::string::npos))
    fail("digest not 64 lowercase hex digits", q->exe_sha256);
  for (char c : q->dest)
    if (c >= 'A' && c <= 'Z') fail("dest not lower case", q->dest);
  for (const std::string* v :
       {&q->exe_sha256, &q->dest, &q->exe, &q->argv, &q->ci, &q->repository, &q->job, &q->branch})
    if (has_control(*v)) fail("control character in a value", *v);
  if (q->since_ns && q->until_ns && *q->since_ns > *q->until_ns) fail("since after until", text);

  const std::string again_text = api::query_text(*q);
  auto again = api::parse_search(again_text, kNow);
  if (!again) fail("query_text does not parse", again_text);
  if (!same(*q, *again)) fail("query_text parses to another query", again_text);

  if (!q->dest.empty() && subject.find('\0') == std::string::npos) {
    std::string name = subject;
    for (char& c : name)
      if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (api::glob_matches(q->dest, name) && !in(api::dns_range(q->dest), store::dns_value(name)))
      fail("a name the dest glob matches is outside its index range", name);
  }
  if (!q->exe.empty() && api::glob_matches(q->exe, subject) && !in(api::exe_range(q->exe), subject))
    fail("a path the exe glob matches is outside its index range", subject);
  return 0;
}
