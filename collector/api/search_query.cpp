#include "collector/api/search_query.h"

#include <fnmatch.h>

#include <algorithm>

#include "collector/store/store.h"
#include "collector/view/time.h"

namespace bt::collector::api {

namespace {

constexpr std::string_view kWildcards = "*?[";

Error bad(const std::string& message) { return make_error(ErrorCode::kInvalidArgument, "q: " + message); }

bool space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

// One value, bare or quoted, from `at`; `at` moves past it.
Result<std::string> value_at(std::string_view q, std::size_t& at, std::string_view field) {
  std::string out;
  if (at < q.size() && q[at] == '"') {
    for (++at;; ++at) {
      if (at >= q.size()) return bad("the value of " + std::string(field) + ": a quote is not closed");
      if (q[at] == '"') {
        ++at;
        break;
      }
      if (q[at] == '\\') {
        if (at + 1 >= q.size() || (q[at + 1] != '"' && q[at + 1] != '\\'))
          return bad("the value of " + std::string(field) + ": only \\\" and \\\\ are escapes");
        ++at;
      }
      out.push_back(q[at]);
    }
    if (at < q.size() && !space(q[at]))
      return bad("the value of " + std::string(field) + ": a space must follow the closing quote");
  } else {
    while (at < q.size() && !space(q[at])) {
      if (q[at] == '"') return bad("the value of " + std::string(field) + ": quote the whole value");
      out.push_back(q[at++]);
    }
  }
  if (out.empty()) return bad(std::string(field) + " needs a value");
  if (out.size() > kMaxSearchValue)
    return bad("the value of " + std::string(field) + " is longer than " + std::to_string(kMaxSearchValue) + " bytes");
  if (std::any_of(out.begin(), out.end(), [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f; }))
    return bad("the value of " + std::string(field) + " has a control character");
  return out;
}

std::string lower(std::string s) {
  for (char& c : s)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return s;
}

// The smallest string above every string that starts with `prefix`; empty
// (no bound) when there is none.
std::string after_prefix(std::string prefix) {
  while (!prefix.empty() && static_cast<unsigned char>(prefix.back()) == 0xff) prefix.pop_back();
  if (!prefix.empty()) prefix.back() = static_cast<char>(static_cast<unsigned char>(prefix.back()) + 1);
  return prefix;
}

Status set_once(std::string& slot, std::string value, std::string_view field) {
  if (!slot.empty()) return bad(std::string(field) + " is given twice");
  slot = std::move(value);
  return Ok{};
}

Status set_time(std::optional<uint64_t>& slot, const std::string& value, std::string_view field, uint64_t now_ns) {
  if (slot) return bad(std::string(field) + " is given twice");
  auto ns = view::parse_since(value, now_ns);
  if (!ns) return bad(std::string(field) + ": " + ns.error().message);
  slot = *ns;
  return Ok{};
}

Status set_term(SearchQuery& out, std::string_view field, std::string value, uint64_t now_ns) {
  if (field == "exe_sha256") {
    value = lower(std::move(value));
    if (value.size() != 64 || value.find_first_not_of("0123456789abcdef") != std::string::npos)
      return bad("exe_sha256 is 64 hex digits");
    return set_once(out.exe_sha256, std::move(value), field);
  }
  if (field == "dest") return set_once(out.dest, lower(std::move(value)), field);
  if (field == "exe") return set_once(out.exe, std::move(value), field);
  if (field == "argv") return set_once(out.argv, std::move(value), field);
  if (field == "ci") return set_once(out.ci, std::move(value), field);
  if (field == "repo") return set_once(out.repository, std::move(value), field);
  if (field == "job") return set_once(out.job, std::move(value), field);
  if (field == "branch") return set_once(out.branch, std::move(value), field);
  if (field == "since") return set_time(out.since_ns, value, field, now_ns);
  if (field == "until") return set_time(out.until_ns, value, field, now_ns);
  return bad("unknown field '" + std::string(field) +
             "' (fields: exe_sha256, dest, exe, argv, since, until, ci, repo, job, branch)");
}

}  // namespace

Result<SearchQuery> parse_search(std::string_view q, uint64_t now_ns) {
  if (q.size() > kMaxSearchQuery) return bad("longer than " + std::to_string(kMaxSearchQuery) + " bytes");
  SearchQuery out;
  std::size_t at = 0;
  while (true) {
    while (at < q.size() && space(q[at])) ++at;
    if (at >= q.size()) break;
    const std::size_t colon = q.find(':', at);
    const std::size_t end = std::find_if(q.begin() + static_cast<std::ptrdiff_t>(at), q.end(), space) - q.begin();
    if (colon == std::string_view::npos || colon > end || colon == at)
      return bad("a term is field:value, not '" + std::string(q.substr(at, std::min<std::size_t>(end - at, 64))) + "'");
    const std::string_view field = q.substr(at, colon - at);
    at = colon + 1;
    auto value = value_at(q, at, field);
    if (!value) return value.error();
    if (Status s = set_term(out, field, std::move(*value), now_ns); !s) return s.error();
  }
  if (!out.has_event_term()) return bad("give at least one of exe_sha256:, dest:, exe:, argv:");
  if (out.since_ns && out.until_ns && *out.since_ns > *out.until_ns) return bad("since is after until");
  return out;
}

std::string term_text(std::string_view field, std::string_view value) {
  if (!value.empty() && value.find_first_of(" \t\r\n\"\\") == std::string_view::npos)
    return std::string(field) + ":" + std::string(value);
  std::string out = std::string(field) + ":\"";
  for (char c : value) {
    if (c == '"' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  return out + "\"";
}

std::string query_text(const SearchQuery& q) {
  std::string out;
  const auto add = [&](std::string_view field, std::string_view value) {
    if (!value.empty()) out += (out.empty() ? "" : " ") + term_text(field, value);
  };
  add("exe_sha256", q.exe_sha256);
  add("dest", q.dest);
  add("exe", q.exe);
  add("argv", q.argv);
  if (q.since_ns) add("since", std::to_string(*q.since_ns));
  if (q.until_ns) add("until", std::to_string(*q.until_ns));
  add("ci", q.ci);
  add("repo", q.repository);
  add("job", q.job);
  add("branch", q.branch);
  return out;
}

ValueRange dns_range(std::string_view glob) {
  // After the last wildcard or bracket: what a match must end with as it is.
  const std::size_t wild = glob.find_last_of("*?[]");
  if (glob.find_first_of(kWildcards) == std::string_view::npos) {
    std::string v = store::dns_value(glob);
    return {v, v + '\x01'};  // the value itself (a DNS value holds no byte below 0x01 after it)
  }
  // Its first label may be cut by the wildcard; the others are whole.
  const std::string_view tail = wild == std::string_view::npos ? glob : glob.substr(wild + 1);
  const std::size_t dot = tail.find('.');
  if (dot == std::string_view::npos || dot + 1 >= tail.size()) return {};
  const std::string prefix = store::dns_value(tail.substr(dot + 1)) + ".";
  return {prefix, after_prefix(prefix)};
}

ValueRange exe_range(std::string_view glob) {
  const std::size_t wild = glob.find_first_of(kWildcards);
  if (wild == std::string_view::npos) return {std::string(glob), std::string(glob) + '\x01'};
  const std::string prefix(glob.substr(0, wild));
  return {prefix, after_prefix(prefix)};
}

bool glob_matches(std::string_view glob, std::string_view text) {
  // fnmatch takes C strings: a NUL inside either would end it early.
  if (glob.find('\0') != std::string_view::npos || text.find('\0') != std::string_view::npos) return false;
  return fnmatch(std::string(glob).c_str(), std::string(text).c_str(), FNM_NOESCAPE) == 0;
}

}  // namespace bt::collector::api
