// Redaction of secret values in argv, URLs and free text.
//
// Runs on every exec the sensor sees (thousands per second on a busy build),
// so everything is a hand-written single pass over the bytes: no regex, no
// backtracking, one output string per input. Matching rules, in the order the
// scanner tries them at each position:
//   1. a marker already in the text is copied untouched, which makes text()
//      idempotent: text(text(x)) == text(x) (the fuzzer checks this);
//   2. token shapes with a fixed prefix (AKIA..., ghp_..., glpat-..., xoxb-...,
//      npm_..., JWTs) where a word starts, and PEM private key blocks anywhere;
//   3. `scheme://user:pass@` userinfo;
//   4. `name=value` and `Header: value` where the name says secret;
//   5. `--secret-flag value` separated by blanks.
// Names are read back from the output already written, never from the input,
// so a rule sees exactly what a second pass over the output would see.
//
// argv() adds what needs argument boundaries: a flag's value in the next
// argument (`--token X`, `-H "Authorization: ..."`), flags that mean a
// secret only for some tools (`docker login -p`, `mysql -pX`, `curl -u
// user:pass`, the Jenkins agent's `-secret HEX`; never `mkdir -p`), found
// after wrappers such as `sudo` and `env`. A `sh -c` script is text() first, then split into shell words so each
// simple command in it gets the argv rules too.
//
// Over-redaction is the accepted failure: a value next to a secret-looking
// name is dropped even if it was harmless. Everything that matches no rule is
// copied byte for byte.
#include "agent/enrich/rules/redact.h"
#include "common/fs.h"
#include "common/words.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <cstddef>
#include <optional>
#include <span>

namespace bt::agent::redact {

namespace {

using std::string_view;

constexpr string_view kOpen = "[REDACTED:";

constexpr std::array<string_view, 14> kKinds = {
    "password",
    "token",
    "api_key",
    "authorization",
    "url_credentials",
    "aws_access_key",
    "aws_secret_key",
    "github_token",
    "gitlab_token",
    "slack_token",
    "jwt",
    "private_key",
    "npm_token",
    "generic_secret",
};

// ---- characters ---------------------------------------------------------------

bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_alnum(char c) { return is_alpha(c) || is_digit(c); }
bool is_upper_or_digit(char c) { return (c >= 'A' && c <= 'Z') || is_digit(c); }
bool is_word(char c) { return is_alnum(c) || c == '_'; }
bool is_b64url(char c) { return is_word(c) || c == '-'; }
bool is_slack(char c) { return is_alnum(c) || c == '-'; }
bool is_blank(char c) { return c == ' ' || c == '\t'; }
bool is_space(char c) { return is_blank(c) || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }
bool is_quote(char c) { return c == '"' || c == '\'' || c == '`'; }
bool is_name_char(char c) { return is_word(c) || c == '-' || c == '.'; }
bool is_scheme_char(char c) { return is_alnum(c) || c == '+' || c == '-' || c == '.'; }
char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

// A URL ends where a shell word or a quoted string would.
bool ends_url(char c) { return is_space(c) || is_quote(c) || c == '<' || c == '>'; }

// An unquoted value ends where the shell would end a word.
bool ends_value(char c, bool in_url) {
  return is_space(c) || is_quote(c) || c == ';' || c == '&' || c == '|' || c == '<' || c == '>' || (in_url && c == '#');
}

bool iequals(string_view a, string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (lower(a[i]) != lower(b[i])) return false;
  return true;
}

std::size_t run_length(string_view s, std::size_t from, bool (*in_class)(char)) {
  std::size_t n = from;
  while (n < s.size() && in_class(s[n])) ++n;
  return n - from;
}

bool in_list(string_view list, string_view word) { return in_word_list(list, word); }

string_view basename(string_view path) { return fs::base_name(path); }

// ---- markers ------------------------------------------------------------------

bool is_kind(string_view k) {
  for (string_view known : kKinds)
    if (k == known) return true;
  return false;
}

// Length of the marker `s` starts with, or 0. Only known kinds count, so a
// secret cannot hide from the scanner by dressing up as a marker.
std::size_t marker_length(string_view s) {
  if (!s.starts_with(kOpen)) return 0;
  const std::size_t close = s.substr(0, kOpen.size() + 17).find(']', kOpen.size());
  if (close == string_view::npos) return 0;
  return is_kind(s.substr(kOpen.size(), close - kOpen.size())) ? close + 1 : 0;
}

bool is_marker(string_view s) { return !s.empty() && marker_length(s) == s.size(); }

// The first ':' that is not the one inside a marker, so "user:pass" tests
// agree before and after redaction.
std::size_t find_colon(string_view s) {
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == ':') return i;
    if (s[i] == '[') {
      if (const std::size_t n = marker_length(s.substr(i))) i += n - 1;
    }
  }
  return string_view::npos;
}

// ---- token shapes -------------------------------------------------------------

struct Shape {
  string_view prefix;
  string_view kind;
  bool (*body)(char);
  std::size_t min_body;
  bool exact;  // the body is exactly min_body long (AWS key ids are 20 characters)
};

constexpr Shape kShapes[] = {
    {"AKIA", "aws_access_key", is_upper_or_digit, 16, true},
    {"ASIA", "aws_access_key", is_upper_or_digit, 16, true},
    {"ABIA", "aws_access_key", is_upper_or_digit, 16, true},
    {"ACCA", "aws_access_key", is_upper_or_digit, 16, true},
    {"ghp_", "github_token", is_alnum, 36, false},
    {"gho_", "github_token", is_alnum, 36, false},
    {"ghu_", "github_token", is_alnum, 36, false},
    {"ghs_", "github_token", is_alnum, 36, false},
    {"ghr_", "github_token", is_alnum, 36, false},
    {"github_pat_", "github_token", is_word, 22, false},
    {"glpat-", "gitlab_token", is_b64url, 20, false},
    {"glptt-", "gitlab_token", is_b64url, 20, false},
    {"gldt-", "gitlab_token", is_b64url, 20, false},
    {"glrt-", "gitlab_token", is_b64url, 20, false},
    {"xoxa-", "slack_token", is_slack, 10, false},
    {"xoxb-", "slack_token", is_slack, 10, false},
    {"xoxp-", "slack_token", is_slack, 10, false},
    {"xoxo-", "slack_token", is_slack, 10, false},
    {"xoxs-", "slack_token", is_slack, 10, false},
    {"xoxr-", "slack_token", is_slack, 10, false},
    {"npm_", "npm_token", is_alnum, 36, false},
};

struct Match {
  std::size_t length = 0;
  string_view kind;
};

Match match_prefixed(string_view s) {
  for (const Shape& shape : kShapes) {
    if (!s.starts_with(shape.prefix)) continue;
    const std::size_t p = shape.prefix.size();
    const std::size_t n = run_length(s.substr(0, shape.exact ? p + shape.min_body + 1 : s.size()), p, shape.body);
    if (n < shape.min_body) continue;
    const std::size_t end = p + (shape.exact ? shape.min_body : n);
    if (end < s.size() && is_alnum(s[end])) continue;
    return {end, shape.kind};
  }
  return {};
}

// header.payload.signature, each base64url; both JSON parts start with "{"
// which base64url-encodes to "eyJ". On failure `*no_jwt_before` is where the
// header's run ended: a JWT starting inside that run fails the same way, so
// the caller need not look again (keeps "eyJ-eyJ-eyJ-..." linear).
Match match_jwt(string_view s, std::size_t* no_jwt_before = nullptr) {
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
  return {n, "jwt"};
}

// A token shape starting at s[0]; the caller has checked a word starts there.
Match match_shape(string_view s, std::size_t* no_jwt_before = nullptr) {
  switch (s[0]) {
    case 'A':
    case 'g':
    case 'x':
    case 'n':
      return match_prefixed(s);
    case 'e':
      return match_jwt(s, no_jwt_before);
    default:
      return {};
  }
}

// "-----BEGIN <label> PRIVATE KEY-----" up to its END line, or to the end of
// the input when the block was cut off.
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

// The kind of a value that is one token shape from end to end, else empty.
string_view shape_kind(string_view v) {
  if (v.empty()) return {};
  if (match_pem(v) == v.size()) return "private_key";
  const Match m = match_shape(v);
  return m.length == v.size() ? m.kind : string_view{};
}

// ---- secret-bearing names -----------------------------------------------------

struct NameRule {
  string_view name;
  string_view kind;
};

// Matched against the whole normalised name or its last "_"-separated words;
// the first rule that fits wins, so the specific ones come first.
constexpr NameRule kNameSuffixes[] = {
    {"secret_access_key", "aws_secret_key"},
    {"github_token", "github_token"},
    {"gh_token", "github_token"},
    {"gitlab_token", "gitlab_token"},
    {"npm_token", "npm_token"},
    {"slack_token", "slack_token"},
    {"private_key", "private_key"},
    {"signing_key", "private_key"},
    {"client_secret", "generic_secret"},
    {"secret_key", "generic_secret"},
    {"api_key", "api_key"},
    {"apikey", "api_key"},
    {"password", "password"},
    {"passwd", "password"},
    {"passphrase", "password"},
    {"pass", "password"},
    {"token", "token"},
    {"secret", "generic_secret"},
};

// URL query parameters that carry credentials or signatures.
constexpr NameRule kUrlParams[] = {
    {"token", "token"},
    {"access_token", "token"},
    {"refresh_token", "token"},
    {"id_token", "token"},
    {"private_token", "gitlab_token"},
    {"api_key", "api_key"},
    {"apikey", "api_key"},
    {"key", "api_key"},
    {"password", "password"},
    {"passwd", "password"},
    {"secret", "generic_secret"},
    {"client_secret", "generic_secret"},
    {"sig", "generic_secret"},
    {"signature", "generic_secret"},
    {"X-Amz-Signature", "generic_secret"},
    {"X-Amz-Credential", "aws_access_key"},
    {"X-Amz-Security-Token", "token"},
    {"X-Goog-Signature", "generic_secret"},
    {"X-Goog-Credential", "generic_secret"},
};

constexpr NameRule kHeaders[] = {
    {"Authorization", "authorization"},
    {"Proxy-Authorization", "authorization"},
    {"X-Api-Key", "api_key"},
    {"Api-Key", "api_key"},
    {"X-Goog-Api-Key", "api_key"},
    {"X-JFrog-Art-Api", "api_key"},
    {"PRIVATE-TOKEN", "gitlab_token"},
    {"JOB-TOKEN", "gitlab_token"},
    {"DEPLOY-TOKEN", "gitlab_token"},
    {"X-Auth-Token", "token"},
    {"X-Vault-Token", "token"},
    {"X-Amz-Security-Token", "token"},
    {"X-Registry-Auth", "authorization"},
    {"Cookie", "token"},
    {"Set-Cookie", "token"},
};

// Authorization schemes stay visible: "Bearer [REDACTED:...]".
constexpr string_view kAuthSchemes = "bearer basic token bot digest negotiate ntlm aws4-hmac-sha256";

string_view rule_kind(std::span<const NameRule> rules, string_view name) {
  for (const NameRule& r : rules)
    if (iequals(r.name, name)) return r.kind;
  return {};
}

// "signingPassword", "X-Api-Key", "gpg.passphrase" -> "signing_password",
// "x_api_key", "passphrase": lower case, one separator, last dotted part.
std::string normalise_name(string_view name) {
  if (const std::size_t dot = name.rfind('.'); dot != string_view::npos) name.remove_prefix(dot + 1);
  std::string n;
  n.reserve(name.size() + 4);
  for (std::size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    const bool camel_hump = c >= 'A' && c <= 'Z' && i > 0 && (name[i - 1] >= 'a' && name[i - 1] <= 'z');
    if (camel_hump) n.push_back('_');
    n.push_back(c == '-' ? '_' : lower(c));
  }
  return n;
}

string_view normalised_kind(const std::string& n) {
  if (n.starts_with("no_")) return {};  // --no-password is a switch, not a value
  for (const NameRule& r : kNameSuffixes) {
    if (n == r.name) return r.kind;
    if (n.size() > r.name.size() && n.ends_with(r.name) && n[n.size() - r.name.size() - 1] == '_') return r.kind;
  }
  return {};
}

// The kind of secret a variable, flag or property name announces, else
// empty. Accepts "--api-key", "AWS_SECRET_ACCESS_KEY", "-Dgpg.passphrase",
// "-PsigningPassword" and npm's "_authToken".
string_view name_kind(string_view raw) {
  if (iequals(raw, "_auth") || iequals(raw, "_authToken")) return "npm_token";
  std::size_t dashes = 0;
  while (dashes < raw.size() && raw[dashes] == '-') ++dashes;
  const string_view bare = raw.substr(dashes);
  if (bare.empty()) return {};
  if (string_view k = normalised_kind(normalise_name(bare)); !k.empty()) return k;
  // -Dproperty=value (Maven, Java) and -Pproperty=value (Gradle).
  if (dashes == 1 && (bare[0] == 'D' || bare[0] == 'P') && bare.size() > 1)
    return normalised_kind(normalise_name(bare.substr(1)));
  return {};
}

// docker/buildx `--secret id=x,src=file` names a secret, it does not carry
// one; nor does the Jenkins agent's `-secret @file` (the file holds it).
bool is_secret_reference(string_view flag, string_view value) {
  if (flag == "-secret") return value.starts_with('@');
  return (flag == "--secret" || flag == "secret") && (value.starts_with("id=") || value.starts_with("type=") ||
                                                      value.starts_with("src=") || value.starts_with("env="));
}

bool is_ssh_scheme(string_view scheme) {
  return iequals(scheme, "ssh") || iequals(scheme, "git+ssh") || iequals(scheme, "ssh+git") || iequals(scheme, "sftp");
}

// ---- the text scanner ---------------------------------------------------------

class Scanner {
 public:
  Scanner(string_view in, bool in_url) : in_(in), in_url_(in_url) { out_.reserve(in.size() + 16); }

  std::string run() && {
    if (in_url_) bare_userinfo();
    while (i_ < in_.size()) step();
    return std::move(out_);
  }

 private:
  void step() {
    if (copy_marker() || pem() || shape() || scheme() || separator() || spaced_flag()) return;
    const char c = in_[i_++];
    if (ends_url(c)) in_url_ = false;
    out_.push_back(c);
  }

  string_view rest() const { return in_.substr(i_); }
  bool at_word_start() const { return out_.empty() || !is_alnum(out_.back()); }

  void copy(std::size_t n) {
    out_.append(in_.substr(i_, n));
    i_ += n;
  }

  // Replaces the next n input bytes; a value that is already a marker stays.
  void replace(std::size_t n, string_view kind) {
    const string_view v = in_.substr(i_, n);
    if (v.empty() || is_marker(v)) {
      copy(n);
      return;
    }
    const string_view shape = shape_kind(v);
    out_ += marker(shape.empty() ? kind : shape);
    i_ += n;
  }

  bool copy_marker() {
    const std::size_t n = in_[i_] == '[' ? marker_length(rest()) : 0;
    if (n) copy(n);
    return n != 0;
  }

  bool pem() {
    const std::size_t n = in_[i_] == '-' ? match_pem(rest()) : 0;
    if (n) replace(n, "private_key");
    return n != 0;
  }

  bool shape() {
    if (!at_word_start() || (in_[i_] == 'e' && i_ < no_jwt_before_)) return false;
    std::size_t run = 0;
    const Match m = match_shape(rest(), &run);
    no_jwt_before_ = std::max(no_jwt_before_, i_ + run);
    if (m.length) replace(m.length, m.kind);
    return m.length != 0;
  }

  // "scheme://" then the userinfo, if any.
  bool scheme() {
    if (in_[i_] != ':' || !rest().starts_with("://")) return false;
    std::size_t b = out_.size();
    while (b > 0 && is_scheme_char(out_[b - 1])) --b;
    while (b < out_.size() && !is_alpha(out_[b])) ++b;  // "(https" or "+https" -> https
    if (b == out_.size()) return false;
    const std::string scheme = out_.substr(b);
    copy(3);
    in_url_ = true;
    userinfo(scheme);
    return true;
  }

  // Where the authority ends: at the path, query or fragment, or wherever a
  // value would end, so that redacting a value never widens it.
  static std::size_t authority_end(string_view r) {
    std::size_t n = 0;
    while (n < r.size() && r[n] != '/' && r[n] != '?' && !ends_value(r[n], true)) ++n;
    return n;
  }

  // Where the userinfo ends: the last '@' of the authority. A password with
  // an unescaped '/' ends the authority early; if what precedes it has a
  // "user:" that is not "host:port", the next '@' still closes the userinfo.
  static std::optional<std::size_t> userinfo_end(string_view r) {
    const std::size_t auth_end = authority_end(r);
    const std::size_t at = r.substr(0, auth_end).rfind('@');
    if (at != string_view::npos) return at;
    const std::size_t colon = find_colon(r.substr(0, auth_end));
    if (colon == string_view::npos) return std::nullopt;
    const string_view port = r.substr(colon + 1, auth_end - colon - 1);
    if (port.empty() || run_length(port, 0, is_digit) == port.size()) return std::nullopt;
    // Passwords are short: look for the '@' a little way only, so a long
    // run of "a:b/..." stays linear.
    std::size_t url_end = auth_end;
    while (url_end < r.size() && url_end < auth_end + 256 && !ends_url(r[url_end])) ++url_end;
    const std::size_t first = r.substr(0, url_end).find('@', auth_end);
    if (first == string_view::npos) return std::nullopt;
    // Through any further '@' of the same authority, as a second pass sees it.
    const std::size_t last = r.substr(0, first + 1 + authority_end(r.substr(first + 1))).rfind('@');
    return last;
  }

  void userinfo(string_view scheme) {
    const auto at = userinfo_end(rest());
    if (!at || *at == 0) return;
    const string_view info = in_.substr(i_, *at);
    const bool has_password = find_colon(info) != string_view::npos;
    // A bare user name (git@, ci@) is not a secret; a long one is a token.
    if (!has_password && (is_ssh_scheme(scheme) || info.size() < 16)) return;
    if (is_marker(info)) {
      copy(*at);
    } else {
      out_ += marker("url_credentials");
      i_ += *at;
    }
  }

  // url() input without a scheme: "user:pass@host/path".
  void bare_userinfo() {
    const std::size_t scheme = run_length(in_, 0, is_scheme_char);
    if (scheme > 0 && is_alpha(in_[0]) && in_.substr(scheme).starts_with("://")) return;
    const std::size_t at = in_.substr(0, authority_end(in_)).rfind('@');
    if (at == string_view::npos || find_colon(in_.substr(0, at)) == string_view::npos) return;
    // Brackets and control characters are never part of a userinfo; text
    // with them (a marker left by another rule, a PEM block's last line)
    // is not one, or a second pass would find credentials the first did not.
    const string_view info = in_.substr(0, at);
    if (std::any_of(info.begin(), info.end(),
                    [](char c) { return c == '[' || c == ']' || static_cast<unsigned char>(c) < 0x20 || c == 0x7f; }))
      return;
    replace(at, "url_credentials");
  }

  // The name just written: the run of name characters at the end of the
  // output, ignoring one closing quote ("password": ...).
  string_view written_name() const {
    std::size_t end = out_.size();
    if (end > 0 && (out_[end - 1] == '"' || out_[end - 1] == '\'')) --end;
    std::size_t b = end;
    while (b > 0 && end - b < 128 && is_name_char(out_[b - 1])) --b;
    return string_view(out_).substr(b, end - b);
  }

  // "Authorization", or curl's glued "-HAuthorization".
  static string_view header_kind(string_view name) {
    if (name.starts_with("-H")) name.remove_prefix(2);
    return rule_kind(kHeaders, name);
  }

  string_view assignment_kind(string_view name) const {
    if (in_url_)
      if (string_view k = rule_kind(kUrlParams, name); !k.empty()) return k;
    return name_kind(name);
  }

  bool separator() {
    const char c = in_[i_];
    if (c != '=' && c != ':') return false;
    const string_view name = written_name();
    if (name.empty()) return false;
    if (c == '=') {
      const string_view kind = assignment_kind(name);
      if (kind.empty() || is_secret_reference(name, rest().substr(1))) return false;
      copy(1);
      value(kind);
      return true;
    }
    if (string_view kind = header_kind(name); !kind.empty()) {
      copy(1);
      header_value(kind);
      return true;
    }
    // "password: x" and "password":"x" (YAML, JSON), but not "user:pass".
    const string_view kind = name_kind(name);
    if (kind.empty() || i_ + 1 >= in_.size() || !(is_blank(in_[i_ + 1]) || is_quote(in_[i_ + 1]))) return false;
    copy(1);
    copy(run_length(in_, i_, is_blank));
    value(kind);
    return true;
  }

  // One shell word: quoted up to the matching quote, else up to a word end.
  void value(string_view kind) {
    if (i_ >= in_.size()) return;
    const char q = in_[i_];
    if (q == '"' || q == '\'') {
      const std::size_t close = in_.find(q, i_ + 1);
      copy(1);
      replace((close == string_view::npos ? in_.size() : close) - i_, kind);
      if (close != string_view::npos) copy(1);
      return;
    }
    std::size_t n = 0;
    while (i_ + n < in_.size() && !ends_value(in_[i_ + n], in_url_)) ++n;
    replace(n, kind);
  }

  // A header value runs to the end of the line or of the quoted string.
  void header_value(string_view kind) {
    copy(run_length(in_, i_, is_blank));
    if (i_ >= in_.size()) return;
    const char q = in_[i_];
    const bool quoted = q == '"' || q == '\'';
    if (quoted) copy(1);
    std::size_t n = 0;
    while (i_ + n < in_.size() && in_[i_ + n] != '\n' && in_[i_ + n] != '\r' &&
           !(quoted ? in_[i_ + n] == q : is_quote(in_[i_ + n])))
      ++n;
    const std::size_t scheme = run_length(in_, i_, is_scheme_char);
    if (scheme < n && is_blank(in_[i_ + scheme]) && in_list(kAuthSchemes, lower_copy(in_.substr(i_, scheme)))) {
      const std::size_t keep = scheme + run_length(in_, i_ + scheme, is_blank);
      copy(keep);
      n -= keep;
    }
    replace(n, kind);
    if (quoted && i_ < in_.size() && in_[i_] == q) copy(1);
  }

  static std::string lower_copy(string_view s) {
    std::string l(s);
    for (char& c : l) c = lower(c);
    return l;
  }

  // "--password value": the word before these blanks is a secret flag.
  bool spaced_flag() {
    if (!is_blank(in_[i_])) return false;
    std::size_t b = out_.size();
    while (b > 0 && !is_space(out_[b - 1])) --b;
    string_view word = string_view(out_).substr(b);
    while (!word.empty() && is_quote(word[0])) word.remove_prefix(1);
    if (!word.starts_with("--") || word.find('=') != string_view::npos) return false;
    const string_view kind = name_kind(word);
    if (kind.empty()) return false;
    const std::string flag(word);
    copy(run_length(in_, i_, is_blank));
    in_url_ = false;
    if (rest().starts_with("--") || is_secret_reference(flag, rest())) return true;
    value(kind);
    return true;
  }

  string_view in_;
  std::size_t i_ = 0;
  bool in_url_;
  std::size_t no_jwt_before_ = 0;
  std::string out_;
};

// ---- argv ---------------------------------------------------------------------

enum class Style {
  kWhole,       // the whole value is secret
  kUserPass,    // "user:password": the part after the first ':'
  kPassPrefix,  // OpenSSL "pass:secret"; "env:VAR" and "file:path" stay
  kHeader,      // "Name: value" of an HTTP header
};

struct ValueRule {
  string_view kind;
  Style style = Style::kWhole;
  string_view flag;  // the flag that announced the value
};

constexpr string_view kMysqlTools =
    "mysql mysqldump mysqladmin mysqlimport mysqlshow mysqlcheck mysqlpump mysqlslap mariadb "
    "mariadb-dump mariadb-admin mariadb-import mariadb-check mariadb-show";

// Flags that carry a secret only for some tools (`mkdir -p` must stay), or
// whose secret is of a kind the tool decides (gitlab-runner's --token).
struct ToolFlag {
  string_view tools;  // space-separated basenames
  string_view needs;  // only with one of these arguments, compared by file name
                      // (`docker login -p`, `java -jar agent.jar -secret`); "" = always
  string_view flag;
  bool next;      // value in the next argument
  bool attached;  // value glued to the flag (-pSECRET)
  ValueRule rule;
};

constexpr ToolFlag kToolFlags[] = {
    {"docker podman buildah skopeo nerdctl oras helm crane az",
     "login",
     "-p",
     true,
     false,
     {"password", Style::kWhole, "-p"}},
    {"sshpass", "", "-p", true, true, {"password", Style::kWhole, "-p"}},
    {"twine", "", "-p", true, false, {"password", Style::kWhole, "-p"}},
    {kMysqlTools, "", "-p", false, true, {"password", Style::kWhole, "-p"}},
    {"curl", "", "-u", true, true, {"password", Style::kUserPass, "-u"}},
    {"curl", "", "--user", true, false, {"password", Style::kUserPass, "--user"}},
    {"curl", "", "-U", true, true, {"password", Style::kUserPass, "-U"}},
    {"curl", "", "--proxy-user", true, false, {"password", Style::kUserPass, "--proxy-user"}},
    {"curl", "", "--oauth2-bearer", true, false, {"token", Style::kWhole, "--oauth2-bearer"}},
    {"openssl", "", "-pass", true, false, {"password", Style::kPassPrefix, "-pass"}},
    {"openssl", "", "-passin", true, false, {"password", Style::kPassPrefix, "-passin"}},
    {"openssl", "", "-passout", true, false, {"password", Style::kPassPrefix, "-passout"}},
    {"keytool jarsigner", "", "-storepass", true, false, {"password", Style::kWhole, "-storepass"}},
    {"keytool jarsigner", "", "-keypass", true, false, {"password", Style::kWhole, "-keypass"}},
    {"keytool", "", "-srcstorepass", true, false, {"password", Style::kWhole, "-srcstorepass"}},
    {"keytool", "", "-deststorepass", true, false, {"password", Style::kWhole, "-deststorepass"}},
    {"keytool", "", "-srckeypass", true, false, {"password", Style::kWhole, "-srckeypass"}},
    {"keytool", "", "-destkeypass", true, false, {"password", Style::kWhole, "-destkeypass"}},
    // The Jenkins agent's (remoting's) secret is 64 hex digits ("-secret
    // @file" names a file instead); any java program's -secret is taken as one.
    {"java", "", "-secret", true, false, {"generic_secret", Style::kWhole, "-secret"}},
    {"java", "", "-jnlpCredentials", true, false, {"password", Style::kUserPass, "-jnlpCredentials"}},
    {"java", "", "-proxyCredentials", true, false, {"password", Style::kUserPass, "-proxyCredentials"}},
    // A job token (artifacts-uploader, artifacts-downloader, cache-archiver).
    {"gitlab-runner gitlab-runner-helper", "", "--token", true, false, {"gitlab_token", Style::kWhole, "--token"}},
};

struct ToolContext {
  string_view tool;  // basename of argv[0], or the module of `python -m`
  std::span<const std::string> args;
};

// Commands that run the next word as the real tool (`sudo docker login`),
// with those of their flags that take a value.
struct Wrapper {
  string_view name;
  string_view value_flags;
};

constexpr Wrapper kWrappers[] = {
    {"sudo", "-u -g -C -D -h -p -r -t -U -T"},
    {"doas", "-u -C"},
    {"env", "-u -C -S"},
    {"nohup", ""},
    {"time", "-f -o"},
    {"command", ""},
    {"exec", "-a"},
    {"nice", "-n"},
    {"ionice", "-c -n -p"},
    {"stdbuf", "-i -o -e"},
    {"timeout", "-s -k"},
    {"xargs", "-a -d -E -I -L -n -P -s"},
};

// Index of the word after the wrapper's flags, assignments and durations.
std::size_t skip_wrapper(const std::vector<std::string>& args, std::size_t i, string_view value_flags) {
  for (++i; i < args.size(); ++i) {
    const std::string& a = args[i];
    const bool assignment = a.find('=') != std::string::npos && is_alpha(a[0]);
    const bool duration = !a.empty() && is_digit(a[0]);
    if (in_list(value_flags, a))
      ++i;
    else if (!(a.starts_with('-') || assignment || duration))
      break;
  }
  return i;
}

ToolContext tool_context(const std::vector<std::string>& args) {
  ToolContext ctx;
  ctx.args = args;
  std::size_t i = 0;
  while (i < args.size()) {
    const Wrapper* w = nullptr;
    for (const Wrapper& cand : kWrappers)
      if (basename(args[i]) == cand.name) w = &cand;
    if (!w) break;
    i = skip_wrapper(args, i, w->value_flags);
  }
  if (i >= args.size()) return ctx;
  ctx.tool = basename(args[i]);
  if (ctx.tool.starts_with("python") && i + 2 < args.size() && args[i + 1] == "-m") ctx.tool = args[i + 2];
  return ctx;
}

bool applies(const ToolFlag& tf, const ToolContext& ctx) {
  if (!in_list(tf.tools, ctx.tool)) return false;
  if (tf.needs.empty()) return true;
  return std::any_of(ctx.args.begin(), ctx.args.end(),
                     [&](const std::string& a) { return in_list(tf.needs, basename(a)); });
}

std::string header_arg(string_view h);

std::string redact_value(string_view v, const ValueRule& rule) {
  switch (rule.style) {
    case Style::kWhole: {
      if (v.empty() || is_marker(v)) return std::string(v);
      if (is_secret_reference(rule.flag, v)) return text(v);
      const string_view shape = shape_kind(v);
      return marker(shape.empty() ? rule.kind : shape);
    }
    case Style::kUserPass: {
      const std::size_t colon = v.find(':');
      if (colon == string_view::npos || colon + 1 == v.size()) return text(v);
      return text(v.substr(0, colon)) + ":" + redact_value(v.substr(colon + 1), {rule.kind, Style::kWhole, {}});
    }
    case Style::kPassPrefix:
      if (!v.starts_with("pass:")) return text(v);
      return "pass:" + redact_value(v.substr(5), {rule.kind, Style::kWhole, {}});
    case Style::kHeader:
      return header_arg(v);
  }
  return std::string(v);
}

// An argument that is a whole header: everything after "Name:" is the value.
std::string header_arg(string_view h) {
  const std::size_t colon = h.find(':');
  if (colon == string_view::npos) return text(h);
  std::size_t b = 0, e = colon;
  while (b < e && is_blank(h[b])) ++b;
  while (e > b && is_blank(h[e - 1])) --e;
  const string_view kind = rule_kind(kHeaders, h.substr(b, e - b));
  if (kind.empty()) return text(h);
  std::size_t v = colon + 1;
  v += run_length(h, v, is_blank);
  const std::size_t scheme = run_length(h, v, is_scheme_char);
  if (v + scheme < h.size() && is_blank(h[v + scheme])) {
    std::string s(h.substr(v, scheme));
    for (char& c : s) c = lower(c);
    if (in_list(kAuthSchemes, s)) v += scheme + run_length(h, v + scheme, is_blank);
  }
  return std::string(h.substr(0, v)) + redact_value(h.substr(v), {kind, Style::kWhole, {}});
}

// A flag whose value is the next argument.
std::optional<ValueRule> value_in_next(const ToolContext& ctx, string_view a, string_view next) {
  for (const ToolFlag& tf : kToolFlags)
    if (tf.next && a == tf.flag && applies(tf, ctx)) return tf.rule;
  if (a == "-H" || a == "--header") return ValueRule{"authorization", Style::kHeader, a};
  if (!a.starts_with("--") || a.find('=') != string_view::npos || next.starts_with("--")) return std::nullopt;
  const string_view kind = name_kind(a);
  if (kind.empty()) return std::nullopt;
  // mysql's --password takes its value only as --password=x.
  if (kind == "password" && in_list(kMysqlTools, ctx.tool)) return std::nullopt;
  return ValueRule{kind, Style::kWhole, a};
}

bool is_env_name(string_view n) {
  if (n.empty() || !(is_alpha(n[0]) || n[0] == '_')) return false;
  for (char c : n)
    if (!is_word(c) && c != '.') return false;
  return true;
}

// Secrets inside the argument itself: --flag=value, -pvalue, NAME=value.
std::optional<std::string> redact_attached(const ToolContext& ctx, string_view a) {
  const std::size_t eq = a.find('=');
  if (eq != string_view::npos && eq > 0) {
    const string_view name = a.substr(0, eq), value = a.substr(eq + 1);
    if (name == "--header" || name == "-H") return std::string(a.substr(0, eq + 1)) + header_arg(value);
    // --token=X of a tool whose --token X has its own kind.
    if (name.starts_with("--"))
      for (const ToolFlag& tf : kToolFlags)
        if (tf.next && name == tf.flag && applies(tf, ctx))
          return std::string(a.substr(0, eq + 1)) + redact_value(value, tf.rule);
    if (a[0] == '-' || is_env_name(name)) {
      const string_view kind = name_kind(name);
      if (!kind.empty()) return std::string(a.substr(0, eq + 1)) + redact_value(value, {kind, Style::kWhole, name});
    }
  }
  // curl -HAuthorization:...; harmless elsewhere, only secret headers change.
  if (a.size() > 2 && a.starts_with("-H")) {
    std::string h = header_arg(a.substr(2));
    if (h != a.substr(2)) return "-H" + h;
  }
  for (const ToolFlag& tf : kToolFlags)
    if (tf.attached && a.size() > tf.flag.size() && a.starts_with(tf.flag) && applies(tf, ctx))
      return std::string(tf.flag) + redact_value(a.substr(tf.flag.size()), tf.rule);
  return std::nullopt;
}

// ---- shell scripts (sh -c "...") -------------------------------------------------

bool is_shell(string_view path) { return in_list("sh bash dash zsh ksh mksh ash busybox", basename(path)); }

// "-c", "-ec", "-xc": the shell option that makes the next word a script.
bool is_command_option(string_view a) {
  if (a.size() < 2 || a[0] != '-' || a[1] == '-') return false;
  for (char c : a.substr(1))
    if (!is_alpha(c)) return false;
  return a.find('c') != string_view::npos;
}

// Whether args[i] is the script of `sh [-opts] -c SCRIPT`, also when the
// shell is itself an argument (docker exec c sh -c ..., ssh host sh -c ...).
bool is_shell_script(const std::vector<std::string>& args, std::size_t i) {
  if (i < 2 || !is_command_option(args[i - 1])) return false;
  for (std::size_t j = i - 1; j-- > 0;) {
    if (is_shell(args[j])) return true;
    if (!args[j].starts_with('-')) return false;
  }
  return false;
}

struct ShellWord {
  std::size_t begin, end;  // bytes of the script
  std::string value;       // after quote removal
};

bool ends_shell_word(char c) { return is_space(c) || string_view(";&|()<>").find(c) != string_view::npos; }

// One word from s[i], quotes removed as the shell would.
ShellWord shell_word(string_view s, std::size_t& i) {
  ShellWord w{i, i, {}};
  while (i < s.size() && !ends_shell_word(s[i])) {
    const char c = s[i];
    if (c == '\\' && i + 1 < s.size()) {
      w.value += s[i + 1];
      i += 2;
    } else if (c == '\'') {
      const std::size_t close = std::min(s.find('\'', i + 1), s.size());
      w.value.append(s.substr(i + 1, close - i - 1));
      i = std::min(close + 1, s.size());
    } else if (c == '"') {
      std::size_t j = i + 1;
      for (; j < s.size() && s[j] != '"'; ++j) {
        if (s[j] == '\\' && j + 1 < s.size() && string_view("\"\\$`").find(s[j + 1]) != string_view::npos) ++j;
        w.value += s[j];
      }
      i = std::min(j + 1, s.size());
    } else {
      w.value += c;
      ++i;
    }
  }
  w.end = i;
  return w;
}

// The simple commands of a script, split at ; & | ( ) and newlines.
std::vector<std::vector<ShellWord>> shell_commands(string_view s) {
  std::vector<std::vector<ShellWord>> commands(1);
  std::size_t i = 0;
  while (i < s.size()) {
    const char c = s[i];
    if (c == '\n' || string_view(";&|()").find(c) != string_view::npos) {
      if (!commands.back().empty()) commands.emplace_back();
      ++i;
    } else if (is_space(c) || c == '<' || c == '>') {
      ++i;
    } else {
      commands.back().push_back(shell_word(s, i));
    }
  }
  return commands;
}

// A word put back into the script: bare when the shell would read it back
// unchanged, else single-quoted.
std::string shell_quote(string_view v) {
  bool plain = !v.empty();
  for (char c : v) plain = plain && !ends_shell_word(c) && !is_quote(c) && c != '\\' && c != '$';
  if (plain) return std::string(v);
  std::string q = "'";
  for (char c : v) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

// text() first (token shapes, assignments, headers anywhere), then each
// simple command through the argv rules, for what only they know: `docker
// login -p X`, `curl -u user:pass`, `--password X`.
std::string shell_script(string_view script) {
  std::string s = text(script);
  struct Edit {
    std::size_t begin, end;
    std::string with;
  };
  std::vector<Edit> edits;
  for (const auto& words : shell_commands(s)) {
    std::vector<std::string> args;
    for (const auto& w : words) args.push_back(w.value);
    const auto red = argv(args);
    for (std::size_t k = 0; k < words.size(); ++k)
      if (red[k] != args[k]) edits.push_back({words[k].begin, words[k].end, shell_quote(red[k])});
  }
  if (edits.empty()) return s;
  std::string out;
  std::size_t at = 0;
  for (const Edit& e : edits) {
    out.append(s, at, e.begin - at).append(e.with);
    at = e.end;
  }
  return out.append(s, at);
}

}  // namespace

std::string marker(std::string_view kind) {
  std::string m;
  m.reserve(kOpen.size() + kind.size() + 1);
  m.append(kOpen).append(kind).push_back(']');
  return m;
}

std::string text(std::string_view s) { return Scanner(s, false).run(); }

std::string url(std::string_view u) { return Scanner(u, true).run(); }

namespace {

bool is_hex64(string_view a) {
  return a.size() == 64 &&
         std::all_of(a.begin(), a.end(), [](char c) { return std::isxdigit(static_cast<unsigned char>(c)) != 0; });
}

// The Jenkins inbound agent's older command line, `java -cp agent.jar
// hudson.remoting.jnlp.Main [options] <secret> <name>`, passes its secret
// (64 hex digits) as a bare argument: the index after which one is taken
// as the secret, or npos.
std::size_t jnlp_main_at(const ToolContext& ctx, const std::vector<std::string>& args) {
  if (ctx.tool != "java") return std::string::npos;
  for (std::size_t i = 1; i < args.size(); ++i)
    if (args[i] == "hudson.remoting.jnlp.Main") return i;
  return std::string::npos;
}

}  // namespace

std::vector<std::string> argv(const std::vector<std::string>& args) {
  std::vector<std::string> out;
  out.reserve(args.size());
  const ToolContext ctx = tool_context(args);
  const std::size_t jnlp_main = jnlp_main_at(ctx, args);
  std::optional<ValueRule> pending;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (jnlp_main != std::string::npos && i > jnlp_main && is_hex64(a)) {
      out.push_back(marker("generic_secret"));
      continue;
    }
    if (pending) {
      out.push_back(redact_value(a, *pending));
      pending.reset();
      continue;
    }
    if (i > 0) {
      if (auto r = redact_attached(ctx, a)) {
        out.push_back(std::move(*r));
        continue;
      }
      pending = value_in_next(ctx, a, i + 1 < args.size() ? string_view(args[i + 1]) : "");
      if (pending) {
        out.push_back(a);
        continue;
      }
    }
    out.push_back(is_shell_script(args, i) ? shell_script(a) : text(a));
  }
  return out;
}

}  // namespace bt::agent::redact
