// The query language of GET /v1/search (docs/collector-api.md "Search"):
// terms `field:value` separated by spaces, all of which must hold. A value
// is bare (no space, no ") or "quoted" (\" and \\ escaped). Fields:
//   exe_sha256:HEX  a process_exec of an executable with this SHA-256
//   dest:GLOB       a DNS name the build asked for, connected to by name, or
//                   reached a metadata endpoint by (dns_query name,
//                   net_connect dns_name, secret_access dest_name)
//   exe:GLOB        a process_exec of an executable at this path
//   argv:TEXT       a process_exec with an argument containing TEXT (read
//                   back from the batches: bounded per request)
//   since:T until:T the matching events' times (as the `since` parameter)
//   ci: repo: job: branch:  the build's, exact
// Globs: * any run of characters (dots and slashes too), ? one character,
// [...] one of a set (fnmatch(3), no escapes); DNS names compare in lower
// case. Parsing is apart from searching so that it can be fuzzed alone
// (tests/fuzz/fuzz_search_query.cpp).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/result.h"

namespace bt::collector::api {

inline constexpr std::size_t kMaxSearchQuery = 2048;  // bytes of q
inline constexpr std::size_t kMaxSearchValue = 1024;  // bytes of one value

struct SearchQuery {
  std::string exe_sha256;  // 64 lowercase hex digits
  std::string dest;        // lower case
  std::string exe;
  std::string argv;
  std::optional<uint64_t> since_ns, until_ns;
  std::string ci, repository, job, branch;

  // At least one of exe_sha256, dest, exe, argv.
  bool has_event_term() const { return !exe_sha256.empty() || !dest.empty() || !exe.empty() || !argv.empty(); }
};

// An error names the term and says what is wrong, in one line.
Result<SearchQuery> parse_search(std::string_view q, uint64_t now_ns);

// One term as the language writes it (`field:value`, the value quoted
// when it must be), and a whole query: parse_search() reads it back to
// the same query (times as ns).
std::string term_text(std::string_view field, std::string_view value);
std::string query_text(const SearchQuery& q);

// The values of an index range: lo <= value < hi; hi empty: no bound.
struct ValueRange {
  std::string lo, hi;
};

// Where the DNS names a `dest` glob can match lie among the stored DNS
// values (store::dns_value, labels reversed): the complete labels at its
// end that no wildcard touches, as a prefix; every value when there are
// none (`*example`): a scan of every stored name.
ValueRange dns_range(std::string_view glob);
// Where the paths an `exe` glob can match lie: its text before the first
// wildcard, as a prefix.
ValueRange exe_range(std::string_view glob);

// fnmatch(3) without escapes: whether `text` matches `glob` whole.
bool glob_matches(std::string_view glob, std::string_view text);

}  // namespace bt::collector::api
