// Secret-bearing names: the tables and how a name is compared with them.
#include "common/redact/names.h"

#include <span>

#include "common/redact/chars.h"
#include "common/redact/redact.h"
#include "common/words.h"

namespace bt::redact {

namespace {

using namespace detail;
using std::string_view;

struct NameRule {
  string_view name;
  string_view kind;
};

// Matched against the whole normalised name or its last "_"-separated words;
// the first rule that fits wins, so the specific ones come first.
constexpr NameRule kNameSuffixes[] = {
    {"secret_access_key", "aws_secret_key"},
    {"shared_access_key", "generic_secret"},  // Azure Service Bus / Event Hubs connection strings
    {"account_key", "generic_secret"},        // Azure Storage (AccountKey=, --account-key)
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
    {"passcode", "password"},
    {"pass", "password"},
    {"authtoken", "token"},
    {"token", "token"},
    {"secret", "generic_secret"},
};

// Environment variables that carry a secret under a name no suffix rule
// catches (the tools read them instead of a flag).
constexpr NameRule kEnvNames[] = {
    {"PGPASSWORD", "password"},               // libpq: psql, pg_dump, ...
    {"SSHPASS", "password"},                  // sshpass -e
    {"SQLCMDPASSWORD", "password"},           // sqlcmd
    {"P4PASSWD", "password"},                 // Perforce
    {"DOCKER_AUTH_CONFIG", "authorization"},  // GitLab runner: a docker config.json with auths
};

// Suffixes that mark a secret in an environment variable's name only: as
// flags (`--key server.key`, `--auth-type`) they usually name a file or a
// mode, in a variable's name they usually hold the value.
constexpr NameRule kEnvSuffixes[] = {
    {"key", "generic_secret"},          // DEPLOY_KEY, ENCRYPTION_KEY, LICENSE_KEY
    {"pwd", "password"},                // MYSQL_PWD (PWD itself is the working directory)
    {"auth", "authorization"},          // REDISCLI_AUTH, NPM_CONFIG__AUTH, BASIC_AUTH
    {"pat", "token"},                   // GH_PAT
    {"credentials", "generic_secret"},  // GOOGLE_CREDENTIALS (JSON key content)
    {"creds", "generic_secret"},
};

// ...except these *_KEY variables, which hold identifiers, not secrets.
constexpr string_view kNotSecretKeys =
    "public pub cache sort primary partition object foreign s3 idempotency lookup hash dedup shard group";
// ...and these, which name a file.
constexpr string_view kNotSecretVariables = "GOOGLE_APPLICATION_CREDENTIALS";

// Dotted property names that are secrets only as a whole (the last part,
// "login", is not): -Dsonar.login=TOKEN.
constexpr NameRule kProperties[] = {
    {"sonar.login", "token"},
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

static_assert(known_kinds(kNameSuffixes) && known_kinds(kEnvNames) && known_kinds(kEnvSuffixes) &&
                  known_kinds(kProperties) && known_kinds(kUrlParams) && known_kinds(kHeaders),
              "every name rule's kind must be listed in redact.h kKinds");

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
    const bool camel_hump = is_upper(c) && i > 0 && (name[i - 1] >= 'a' && name[i - 1] <= 'z');
    if (camel_hump) n.push_back('_');
    n.push_back(c == '-' ? '_' : lower(c));
  }
  return n;
}

// Whether normalised `n` is `suffix` or ends with "_" + suffix; `*before`
// is then the word before it ("" when n == suffix).
bool has_suffix(string_view n, string_view suffix, string_view* before = nullptr) {
  if (n == suffix) {
    if (before) *before = {};
    return true;
  }
  if (n.size() <= suffix.size() || !n.ends_with(suffix) || n[n.size() - suffix.size() - 1] != '_') return false;
  if (before) {
    string_view head = n.substr(0, n.size() - suffix.size() - 1);
    const std::size_t us = head.rfind('_');
    *before = us == string_view::npos ? head : head.substr(us + 1);
  }
  return true;
}

string_view normalised_kind(const std::string& n) {
  if (n.starts_with("no_")) return {};  // --no-password is a switch, not a value
  for (const NameRule& r : kNameSuffixes)
    if (has_suffix(n, r.name)) return r.kind;
  return {};
}

string_view env_kind(string_view raw, const std::string& n) {
  if (in_word_list(kNotSecretVariables, raw)) return {};
  for (const NameRule& r : kEnvNames)
    if (raw == r.name) return r.kind;
  for (const NameRule& r : kEnvSuffixes) {
    string_view before;
    if (n == r.name || !has_suffix(n, r.name, &before)) continue;
    if (r.name == "key" && in_word_list(kNotSecretKeys, before)) return {};
    return r.kind;
  }
  return {};
}

string_view property_kind(string_view name) {
  if (name.find('.') == string_view::npos) return {};
  return rule_kind(kProperties, name);
}

}  // namespace

bool is_env_style(string_view n) {
  if (n.empty() || !(is_upper(n[0]) || n[0] == '_')) return false;
  bool letter = false;
  for (char c : n) {
    if (!(is_upper_or_digit(c) || c == '_')) return false;
    letter = letter || is_upper(c);
  }
  return letter;
}

string_view name_kind(string_view raw) {
  if (iequals(raw, "_auth") || iequals(raw, "_authToken")) return "npm_token";
  std::size_t dashes = 0;
  while (dashes < raw.size() && raw[dashes] == '-') ++dashes;
  const string_view bare = raw.substr(dashes);
  if (bare.empty()) return {};
  if (string_view k = property_kind(bare); !k.empty()) return k;
  const std::string n = normalise_name(bare);
  if (dashes == 0 && is_env_style(bare)) {
    if (in_word_list(kNotSecretVariables, bare)) return {};
    if (string_view k = normalised_kind(n); !k.empty()) return k;
    return env_kind(bare, n);
  }
  if (string_view k = normalised_kind(n); !k.empty()) return k;
  // -Dproperty=value (Maven, Java) and -Pproperty=value (Gradle).
  if (dashes == 1 && (bare[0] == 'D' || bare[0] == 'P') && bare.size() > 1) {
    if (string_view k = property_kind(bare.substr(1)); !k.empty()) return k;
    return normalised_kind(normalise_name(bare.substr(1)));
  }
  return {};
}

string_view url_param_kind(string_view name) { return rule_kind(kUrlParams, name); }

string_view header_kind(string_view name) { return rule_kind(kHeaders, name); }

bool is_auth_scheme(string_view lower_word) { return in_word_list(kAuthSchemes, lower_word); }

bool is_secret_reference(string_view flag, string_view value) {
  if (flag == "-secret") return value.starts_with('@');
  return (flag == "--secret" || flag == "secret") && (value.starts_with("id=") || value.starts_with("type=") ||
                                                      value.starts_with("src=") || value.starts_with("env="));
}

namespace {

std::string rule_list(std::span<const NameRule> rules, string_view prefix, string_view suffix) {
  std::string s;
  for (const NameRule& r : rules)
    s += (s.empty() ? "" : ", ") + std::string("`") + std::string(prefix) + std::string(r.name) + std::string(suffix) +
         "` (" + std::string(r.kind) + ")";
  return s + "\n";
}

}  // namespace

std::string names_reference() {
  std::string md;
  md += "- **Any name** (flag, variable, property, JSON/YAML key) that is, or ends in `_`/`-`/camel-case, one of: " +
        rule_list(kNameSuffixes, "", "");
  md +=
      "- **Environment-variable names** (`[A-Z_][A-Z0-9_]*`, in `NAME=value`, `env NAME=value`, `export "
      "NAME=value`, `docker run -e NAME=value`): the above, these names: " +
      rule_list(kEnvNames, "", "");
  md += "  and names ending in: " + rule_list(kEnvSuffixes, "_", "");
  md += "  but not `*_KEY` after: ";
  for (std::size_t i = 0, b = 0; b <= kNotSecretKeys.size(); ++i) {
    const std::size_t e = std::min(kNotSecretKeys.find(' ', b), kNotSecretKeys.size());
    md += (i ? ", `" : "`") + std::string(kNotSecretKeys.substr(b, e - b)) + "_KEY`";
    b = e + 1;
  }
  md += "; nor `" + std::string(kNotSecretVariables) + "` (a file name).\n";
  md += "- **Dotted properties** as a whole: " + rule_list(kProperties, "", "");
  md += "- **URL query parameters**: " + rule_list(kUrlParams, "", "=");
  md += "- **HTTP headers** (`-H`, `--header`, `http.extraheader`, text): " + rule_list(kHeaders, "", ":");
  md += "  The authorization scheme stays visible: ";
  for (std::size_t b = 0; b <= kAuthSchemes.size();) {
    const std::size_t e = std::min(kAuthSchemes.find(' ', b), kAuthSchemes.size());
    md += (b ? ", `" : "`") + std::string(kAuthSchemes.substr(b, e - b)) + "`";
    b = e + 1;
  }
  md += ".\n";
  return md;
}

}  // namespace bt::redact
