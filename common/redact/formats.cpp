// The token formats table and its matcher. Only formats the vendor itself
// documents are listed (the source column), and only with a prefix long or
// specific enough that ordinary build text does not carry it: a bare
// 40-character base64 string may be an AWS secret key or a git object id,
// so those are found by the name next to them (names.cpp), not here.
//
// Matching runs at every word start of every argument, so it is cheap: a
// 256-entry table of the prefixes' first characters rejects most positions
// at once, and a body is scanned at most to its maximum length plus one.
#include "common/redact/formats.h"

#include <algorithm>
#include <array>

#include "common/redact/chars.h"
#include "common/redact/redact.h"

namespace bt::redact {

namespace {

using namespace detail;
using std::string_view;

constexpr string_view kAws =
    "https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_identifiers.html#identifiers-unique-ids";
constexpr string_view kGitHub =
    "https://docs.github.com/en/authentication/keeping-your-account-and-data-secure/"
    "about-authentication-to-github#githubs-token-formats";
constexpr string_view kGitLab = "https://docs.gitlab.com/security/tokens/#token-prefixes";
constexpr string_view kSlack = "https://api.slack.com/authentication/token-types";
constexpr string_view kStripe = "https://docs.stripe.com/keys";
constexpr string_view kDoppler = "https://docs.doppler.com/docs/auth-token-formats";
constexpr string_view kSentry = "https://docs.sentry.io/security-legal-pii/security/token-formats/";
constexpr string_view kVault = "https://developer.hashicorp.com/vault/docs/concepts/tokens#token-prefixes";
constexpr string_view kDocker = "https://docs.docker.com/security/for-developers/access-tokens/";

// vendor, what, prefix, body, min, max, keep_prefix, kind, source. Where two
// prefixes share a start, the longer comes first.
constexpr TokenFormat kFormats[] = {
    {"AWS", "access key id (long-term)", "AKIA", Body::kUpperDigit, 16, 16, false, "aws_access_key", kAws},
    {"AWS", "access key id (temporary, STS)", "ASIA", Body::kUpperDigit, 16, 16, false, "aws_access_key", kAws},
    {"AWS", "STS service bearer token id", "ABIA", Body::kUpperDigit, 16, 16, false, "aws_access_key", kAws},
    {"AWS", "context-specific credential id", "ACCA", Body::kUpperDigit, 16, 16, false, "aws_access_key", kAws},
    {"GitHub", "personal access token (classic)", "ghp_", Body::kAlnum, 36, 0, false, "github_token", kGitHub},
    {"GitHub", "OAuth access token", "gho_", Body::kAlnum, 36, 0, false, "github_token", kGitHub},
    {"GitHub", "user-to-server token", "ghu_", Body::kAlnum, 36, 0, false, "github_token", kGitHub},
    {"GitHub", "server-to-server (app installation, Actions GITHUB_TOKEN)", "ghs_", Body::kAlnum, 36, 0, false,
     "github_token", kGitHub},
    {"GitHub", "refresh token", "ghr_", Body::kAlnum, 36, 0, false, "github_token", kGitHub},
    {"GitHub", "fine-grained personal access token", "github_pat_", Body::kWord, 22, 0, false, "github_token", kGitHub},
    {"GitLab", "personal, project or group access token", "glpat-", Body::kB64url, 20, 0, false, "gitlab_token",
     kGitLab},
    {"GitLab", "CI/CD job token", "glcbt-", Body::kB64url, 20, 0, false, "gitlab_token", kGitLab},
    {"GitLab", "pipeline trigger token", "glptt-", Body::kB64url, 20, 0, false, "gitlab_token", kGitLab},
    {"GitLab", "deploy token", "gldt-", Body::kB64url, 20, 0, false, "gitlab_token", kGitLab},
    {"GitLab", "runner registration token", "glrtr-", Body::kB64url, 20, 0, false, "gitlab_token", kGitLab},
    {"GitLab", "runner authentication token", "glrt-", Body::kB64url, 20, 0, false, "gitlab_token", kGitLab},
    {"GitLab", "runner registration token (legacy)", "GR1348941", Body::kB64url, 20, 0, false, "gitlab_token", kGitLab},
    {"GitLab", "feed token", "glft-", Body::kB64url, 20, 0, false, "gitlab_token", kGitLab},
    {"GitLab", "incoming mail token", "glimt-", Body::kB64url, 20, 0, false, "gitlab_token", kGitLab},
    {"GitLab", "agent for Kubernetes token", "glagent-", Body::kB64url, 20, 0, false, "gitlab_token", kGitLab},
    {"GitLab", "OAuth application secret", "gloas-", Body::kB64url, 20, 0, false, "gitlab_token", kGitLab},
    {"GitLab", "SCIM token", "glsoat-", Body::kB64url, 20, 0, false, "gitlab_token", kGitLab},
    {"GitLab", "feature flags client token", "glffct-", Body::kB64url, 20, 0, false, "gitlab_token", kGitLab},
    {"Slack", "bot token", "xoxb-", Body::kSlack, 10, 0, false, "slack_token", kSlack},
    {"Slack", "user token", "xoxp-", Body::kSlack, 10, 0, false, "slack_token", kSlack},
    {"Slack", "app-level token", "xapp-", Body::kSlack, 10, 0, false, "slack_token", kSlack},
    {"Slack", "rotating user token", "xoxe.xoxp-", Body::kSlack, 10, 0, false, "slack_token", kSlack},
    {"Slack", "rotating bot token", "xoxe.xoxb-", Body::kSlack, 10, 0, false, "slack_token", kSlack},
    {"Slack", "refresh token", "xoxe-", Body::kSlack, 10, 0, false, "slack_token", kSlack},
    {"Slack", "legacy workspace app token", "xoxa-", Body::kSlack, 10, 0, false, "slack_token", kSlack},
    {"Slack", "legacy token", "xoxs-", Body::kSlack, 10, 0, false, "slack_token", kSlack},
    {"Slack", "legacy token", "xoxr-", Body::kSlack, 10, 0, false, "slack_token", kSlack},
    {"Slack", "legacy token", "xoxo-", Body::kSlack, 10, 0, false, "slack_token", kSlack},
    {"Slack", "incoming webhook URL (its path is the secret)", "hooks.slack.com/services/", Body::kPath, 20, 0, true,
     "webhook", "https://api.slack.com/messaging/webhooks"},
    {"npm", "access token", "npm_", Body::kAlnum, 36, 0, false, "npm_token",
     "https://github.blog/changelog/2021-09-23-npm-has-a-new-access-token-format/"},
    {"PyPI", "API token (a macaroon: `pypi-AgE...`)", "pypi-AgE", Body::kB64url, 50, 0, false, "pypi_token",
     "https://pypi.org/help/#apitoken"},
    {"Docker", "Docker Hub personal access token", "dckr_pat_", Body::kB64url, 16, 0, false, "docker_token", kDocker},
    {"Docker", "Docker Hub organization access token", "dckr_oat_", Body::kB64url, 16, 0, false, "docker_token",
     kDocker},
    {"Stripe", "secret key (live)", "sk_live_", Body::kAlnum, 20, 0, false, "stripe_key", kStripe},
    {"Stripe", "secret key (test mode)", "sk_test_", Body::kAlnum, 20, 0, false, "stripe_key", kStripe},
    {"Stripe", "restricted key (live)", "rk_live_", Body::kAlnum, 20, 0, false, "stripe_key", kStripe},
    {"Stripe", "restricted key (test mode)", "rk_test_", Body::kAlnum, 20, 0, false, "stripe_key", kStripe},
    {"Stripe", "webhook signing secret", "whsec_", Body::kAlnum, 24, 0, false, "stripe_key",
     "https://docs.stripe.com/webhooks#verify-events"},
    {"Google", "API key (39 characters)", "AIza", Body::kB64url, 35, 35, false, "google_api_key",
     "https://cloud.google.com/docs/authentication/api-keys"},
    {"SendGrid", "API key (`SG.<id>.<secret>`)", "SG.", Body::kDotted, 60, 0, false, "sendgrid_key",
     "https://www.twilio.com/docs/sendgrid/ui/account-and-settings/api-keys"},
    {"Twilio", "API key SID (its secret has no prefix: found by name, e.g. `-u SK...:secret`)", "SK", Body::kHex, 32,
     32, false, "twilio_key", "https://www.twilio.com/docs/iam/api-keys"},
    {"HashiCorp Vault", "service token", "hvs.", Body::kB64url, 24, 0, false, "vault_token", kVault},
    {"HashiCorp Vault", "batch token", "hvb.", Body::kB64url, 24, 0, false, "vault_token", kVault},
    {"HashiCorp Vault", "recovery token", "hvr.", Body::kB64url, 24, 0, false, "vault_token", kVault},
    {"Hugging Face", "user access token", "hf_", Body::kAlnum, 30, 0, false, "hf_token",
     "https://huggingface.co/docs/hub/security-tokens"},
    {"Databricks", "personal access token", "dapi", Body::kHex, 32, 32, false, "databricks_token",
     "https://docs.databricks.com/en/dev-tools/auth/pat.html"},
    {"New Relic", "user key", "NRAK-", Body::kUpperDigit, 27, 27, false, "newrelic_key",
     "https://docs.newrelic.com/docs/apis/intro-apis/new-relic-api-keys/"},
    {"Sentry", "user auth token", "sntryu_", Body::kHex, 64, 64, false, "sentry_token", kSentry},
    {"Sentry", "organization auth token", "sntrys_", Body::kB64, 40, 0, false, "sentry_token", kSentry},
    {"Doppler", "CLI token", "dp.ct.", Body::kAlnum, 40, 44, false, "doppler_token", kDoppler},
    {"Doppler", "personal token", "dp.pt.", Body::kAlnum, 40, 44, false, "doppler_token", kDoppler},
    {"Doppler", "service token", "dp.st.", Body::kDotted, 40, 0, false, "doppler_token", kDoppler},
    {"Doppler", "service account token", "dp.sa.", Body::kAlnum, 40, 44, false, "doppler_token", kDoppler},
    {"Doppler", "SCIM token", "dp.scim.", Body::kAlnum, 40, 44, false, "doppler_token", kDoppler},
    {"Doppler", "audit token", "dp.audit.", Body::kAlnum, 40, 44, false, "doppler_token", kDoppler},
    {"age", "secret key", "AGE-SECRET-KEY-1", Body::kUpperDigit, 58, 58, false, "private_key",
     "https://age-encryption.org/v1"},
    {"(any)", "JSON Web Token: `eyJ<header>.eyJ<payload>.<signature>`", "eyJ", Body::kJwt, 0, 0, false, "jwt",
     "https://www.rfc-editor.org/rfc/rfc7519"},
    {"(any)", "PEM private key block (`-----BEGIN ... PRIVATE KEY-----` to its END line)", "-----BEGIN ", Body::kPem, 0,
     0, false, "private_key", "https://www.rfc-editor.org/rfc/rfc7468"},
};

static_assert(known_kinds(kFormats), "every token format's kind must be listed in redact.h kKinds");

// The rows whose prefix starts with each character (but PEM's, matched
// anywhere by match_pem), in table order: a position starting with any
// other character is no token, and one starting with 'g' tries only the
// GitHub and GitLab rows.
constexpr std::size_t kMaxPerChar = 24;
struct Candidates {
  std::array<uint8_t, kMaxPerChar> rows{};
  uint8_t n = 0;
};
constexpr std::array<Candidates, 256> kByFirst = [] {
  std::array<Candidates, 256> by{};
  for (std::size_t i = 0; i < std::size(kFormats); ++i) {
    if (kFormats[i].body == Body::kPem) continue;
    Candidates& c = by[static_cast<unsigned char>(kFormats[i].prefix[0])];
    if (c.n == kMaxPerChar) throw "kMaxPerChar too small";  // a compile error in a constant expression
    c.rows[c.n++] = static_cast<uint8_t>(i);
  }
  return by;
}();
static_assert(std::size(kFormats) < 256);
static_assert(
    [] {
      for (const TokenFormat& f : kFormats)
        if (f.prefix.size() < 2) return false;
      return true;
    }(),
    "match_token compares a prefix's second character first");

bool is_b64(char c) { return is_alnum(c) || c == '+' || c == '/' || c == '=' || c == '_'; }
bool is_slack(char c) { return is_alnum(c) || c == '-'; }
bool is_dotted(char c) { return is_b64url(c) || c == '.'; }
bool is_path(char c) { return is_alnum(c) || c == '/'; }

using CharClass = bool (*)(char);

CharClass body_class(Body b) {
  switch (b) {
    case Body::kAlnum:
      return is_alnum;
    case Body::kUpperDigit:
      return is_upper_or_digit;
    case Body::kHex:
      return is_hex;
    case Body::kWord:
      return is_word;
    case Body::kB64url:
      return is_b64url;
    case Body::kB64:
      return is_b64;
    case Body::kSlack:
      return is_slack;
    case Body::kDotted:
      return is_dotted;
    case Body::kPath:
      return is_path;
    case Body::kJwt:
    case Body::kPem:
      break;
  }
  return is_alnum;
}

string_view class_pattern(Body b) {
  switch (b) {
    case Body::kAlnum:
      return "[A-Za-z0-9]";
    case Body::kUpperDigit:
      return "[A-Z0-9]";
    case Body::kHex:
      return "[0-9a-fA-F]";
    case Body::kWord:
      return "[A-Za-z0-9_]";
    case Body::kB64url:
      return "[A-Za-z0-9_-]";
    case Body::kB64:
      return "[A-Za-z0-9+/=_]";
    case Body::kSlack:
      return "[A-Za-z0-9-]";
    case Body::kDotted:
      return "[A-Za-z0-9_.-]";
    case Body::kPath:
      return "[A-Za-z0-9/]";
    case Body::kJwt:
    case Body::kPem:
      break;
  }
  return "";
}

// header.payload.signature, each base64url; both JSON parts start with "{"
// which base64url-encodes to "eyJ".
TokenMatch match_jwt(string_view s, std::size_t* no_jwt_before) {
  std::size_t n = 0;
  for (int part = 0; part < 3; ++part) {
    if (part < 2 && !s.substr(n).starts_with("eyJ")) return {};
    const std::size_t len = run_length(s, n, is_b64url);
    if (len == 0) return {};
    n += len;
    if (part == 0 && no_jwt_before) *no_jwt_before = n;
    if (part < 2) {
      if (n >= s.size() || s[n] != '.') return {};
      ++n;
    }
  }
  return {0, n, "jwt"};
}

}  // namespace

std::span<const TokenFormat> token_formats() { return kFormats; }

TokenMatch match_token(string_view s, std::size_t* no_jwt_before) {
  if (s.empty()) return {};
  const Candidates& candidates = kByFirst[static_cast<unsigned char>(s[0])];
  for (uint8_t row = 0; row < candidates.n; ++row) {
    const TokenFormat& f = kFormats[candidates.rows[row]];
    // Every prefix has two characters or more: the second is compared
    // inline, most candidates stop there.
    if (s.size() < f.prefix.size() || s[1] != f.prefix[1] || !s.starts_with(f.prefix)) continue;
    if (f.body == Body::kJwt) {
      if (TokenMatch m = match_jwt(s, no_jwt_before); m.length) return m;
      continue;
    }
    if (f.body == Body::kPem) continue;
    const std::size_t p = f.prefix.size();
    // Bounded formats are scanned to one past their maximum, so a long run
    // costs the same as a short one; unbounded ones match whatever they scan.
    const std::size_t cap = f.max ? std::min(s.size(), p + f.max + 1) : s.size();
    const std::size_t n = run_length(s.substr(0, cap), p, body_class(f.body));
    if (n < f.min || (f.max && n > f.max)) continue;
    const std::size_t end = p + n;
    if (end < s.size() && is_alnum(s[end])) continue;
    return {f.keep_prefix ? p : 0, end, f.kind};
  }
  return {};
}

std::size_t match_pem(string_view s) {
  constexpr string_view kBegin = "-----BEGIN ";
  if (!s.starts_with(kBegin)) return 0;
  const std::size_t label_end = s.substr(0, kBegin.size() + 64).find("-----", kBegin.size());
  if (label_end == string_view::npos || label_end - kBegin.size() > 40) return 0;
  const string_view label = s.substr(kBegin.size(), label_end - kBegin.size());
  for (char c : label)
    if (!is_upper_or_digit(c) && c != ' ') return 0;
  if (label.find("PRIVATE KEY") == string_view::npos) return 0;
  const std::string end_line = "-----END " + std::string(label) + "-----";
  const std::size_t end = s.find(end_line, label_end + 5);
  return end == string_view::npos ? s.size() : end + end_line.size();
}

string_view shape_kind(string_view v) {
  if (v.empty()) return {};
  if (match_pem(v) == v.size()) return "private_key";
  const TokenMatch m = match_token(v);
  return m.length == v.size() && m.keep == 0 ? m.kind : string_view{};
}

std::string formats_reference() {
  std::string md = "| vendor | token | shape | marker kind | source |\n| --- | --- | --- | --- | --- |\n";
  for (const TokenFormat& f : kFormats) {
    std::string shape;
    if (f.body == Body::kJwt)
      shape = "`eyJ…` `.` `eyJ…` `.` `…` (base64url parts)";
    else if (f.body == Body::kPem)
      shape = "`-----BEGIN … PRIVATE KEY-----` … `-----END … PRIVATE KEY-----`";
    else {
      const std::string n = std::to_string(f.min);
      const std::string count = f.max == f.min ? "{" + n + "}"
                                : f.max        ? "{" + n + "," + std::to_string(f.max) + "}"
                                               : "{" + n + ",}";
      shape = "`" + std::string(f.prefix) + std::string(class_pattern(f.body)) + count + "`";
      if (f.keep_prefix) shape += " (the prefix stays)";
    }
    md += "| " + std::string(f.vendor) + " | " + std::string(f.what) + " | " + shape + " | `" + std::string(f.kind) +
          "` | <" + std::string(f.source) + "> |\n";
  }
  return md;
}

}  // namespace bt::redact
