// Fuzzes redaction (common/redact: text and URLs; agent/enrich/rules/redact.h:
// argv, the per-tool table, sh -c scripts, interpreters), which sees every
// argv, URL and script the build runs, including bytes no tool meant as text.
//
// Invariants, any break aborts:
//  - text() is idempotent: a marker is never redacted again and nothing a
//    first pass leaves behind matches a second time (so events redacted at
//    capture and again downstream agree);
//  - url() is idempotent likewise;
//  - a fixture secret from a fixed list, placed as its own word between
//    fuzzed text on both sides, never survives text(); placed as its own
//    argument after any fuzzed argument, never survives argv(). (Skipped
//    when the fuzzed bytes contain that secret themselves.)
// argv() gets the input split at newlines.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "agent/enrich/rules/redact.h"

namespace {

using namespace bt::agent;

[[noreturn]] void fail(const char* what, std::string_view detail) {
  std::fprintf(stderr, "fuzz_redact: invariant broken: %s: %.*s\n", what, static_cast<int>(detail.size()),
               detail.data());
  std::abort();
}

struct Fixture {
  std::string_view before;  // context that makes it a secret ("" for token shapes)
  std::string_view secret;  // must not appear in the output
};

// Fake values only (AWS's documented examples, made-up token bodies).
constexpr Fixture kFixtures[] = {
    {"", "AKIAIOSFODNN7EXAMPLE"},
    {"", "ghp_FAKEFAKEFAKEFAKEFAKEFAKEFAKEFAKEFAKE"},
    {"", "github_pat_11FAKEFAKE0123456789_fakefakefakefakefake"},
    {"", "glpat-FAKEfake1234567890ab"},
    {"", "xoxb-1111111111-2222222222-FAKEfakeFAKE"},
    {"", "npm_FAKEFAKEFAKEFAKEFAKEFAKEFAKEFAKEFAKE"},
    {"", "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJmYWtlIn0.ZmFrZXNpZ25hdHVyZWZha2U"},
    {"AWS_SECRET_ACCESS_KEY=", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"},
    {"DEPLOY_TOKEN=", "fake-deploy-token-42"},
    {"--password=", "hunter2-fake-pass"},
    {"https://ci:", "fake-url-password@"},
    {"", "sk_live_FAKEfakeFAKEfake00000000"},
    {"", "AIzaFAKE_fake-FAKE_fake-FAKE_fake-FAKEf"},
    {"", "dckr_pat_FAKEfakeFAKEfake0123456789a"},
    {"", "hvs.FAKEfakeFAKEfakeFAKEfake0123"},
    {"https://hooks.slack.com/services/", "T00000000/B00000000/FAKEfakeFAKEfakeFAKEfake"},
    {"PGPASSWORD=", "fake-pgpassword-7"},
    {"MYSQL_PWD=", "fake-mysql-pwd-8"},
    {"DEPLOY_KEY=", "fake-deploy-key-9"},
};

std::vector<std::string> split_lines(std::string_view s) {
  std::vector<std::string> out;
  for (;;) {
    const std::size_t nl = s.find('\n');
    out.emplace_back(s.substr(0, nl));
    if (nl == std::string_view::npos) return out;
    s.remove_prefix(nl + 1);
  }
}

void check_idempotent(std::string_view in) {
  const std::string once = redact::text(in);
  if (redact::text(once) != once) fail("text() not idempotent", in);
  const std::string u = redact::url(in);
  if (redact::url(u) != u) fail("url() not idempotent", in);
}

void check_fixtures(std::string_view in, std::vector<std::string> args) {
  for (const Fixture& f : kFixtures) {
    // Inside a longer fuzzed word a token shape is rightly not a token.
    if (in.find(f.secret) != std::string_view::npos) continue;
    std::string word = std::string(f.before) + std::string(f.secret);
    if (f.before.starts_with("https://")) word += "host.example/x";
    const std::string line = std::string(in) + " " + word + " " + std::string(in);
    if (redact::text(line).find(f.secret) != std::string::npos) fail("fixture survived text()", line);
    args.push_back(word);
    for (const auto& a : redact::argv(args))
      if (a.find(f.secret) != std::string::npos) fail("fixture survived argv()", word);
    args.pop_back();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  check_idempotent(in);
  auto args = split_lines(in);
  (void)redact::argv(args);
  check_fixtures(in, std::move(args));
  return 0;
}
