// Redaction of argument vectors: what needs argument boundaries on top of
// common/redact's text scanner.
//
//   - a flag's value in the next argument (`--token X`, `-H "Authorization:
//     ..."`), also Go-style single-dash flags (`-token X`);
//   - the per-tool table (kToolOptions, kToolOperands): options and operands
//     that carry a secret only for some tools (`docker login -p`, `mysql
//     -pX`, `redis-cli -a`, never `mkdir -p`), found after launchers such as
//     `sudo` and `env`, variable assignments and interpreters -- a `#!`
//     script's argv starts with its interpreter, so `python3 ./twine upload
//     -p X` is twine's (agent/enrich/rules/command.h);
//   - a `sh -c` script is text() first, then split into shell words so each
//     simple command in it gets the argv rules too.
//
// Runs on every exec: the table is filtered by the tool's name once per argv
// (most execs, compilers and the like, match no row), and every rule is a
// comparison of whole arguments or a bounded prefix.
//
// Over-redaction is the accepted failure: a value next to a secret-looking
// name is dropped even if it was harmless. Everything that matches no rule is
// copied byte for byte.
#include "agent/enrich/rules/redact.h"

#include <algorithm>
#include <cstdint>
#include <optional>
#include <span>
#include <unordered_map>

#include "agent/enrich/rules/command.h"
#include "common/fs.h"
#include "common/redact/chars.h"
#include "common/redact/formats.h"
#include "common/redact/names.h"
#include "common/words.h"

namespace bt::agent::redact {

namespace {

using namespace bt::redact::detail;
using bt::redact::is_marker;
using bt::redact::name_kind;
using std::string_view;

bool in_list(string_view list, string_view word) { return in_word_list(list, word); }

string_view basename(string_view path) { return fs::base_name(path); }

// ---- the per-tool table ---------------------------------------------------------

// Which part of a value is the secret.
enum class Style : uint8_t {
  kWhole,        // all of it ("-" alone means stdin and stays)
  kUserPass,     // "user:password": after the first ':' (curl -u)
  kCertPass,     // "certfile:password": after the first ':' (curl -E)
  kPassPrefix,   // OpenSSL "pass:secret"; "env:VAR" and "file:path" stay
  kHeader,       // "Name: value" of an HTTP header
  kKeyValue,     // "KEY=secret" (kubectl --from-literal, vault kv put)
  kUserComma,    // "user,password" (lftp -u)
  kUserPercent,  // "user%password" (smbclient -U)
  kUserSlash,    // "user/password@db" (sqlplus)
};

struct ValueRule {
  string_view kind;
  Style style = Style::kWhole;
  string_view flag;  // the flag that announced the value
};

// How an option takes its value (bits).
enum Take : uint8_t {
  kNext = 1,      // the next argument: -p X
  kGlued = 2,     // glued to the flag: -pX
  kEquals = 4,    // --flag=X
  kOptional = 8,  // the value may be absent: a next argument starting with '-' is another option
};

// An option whose value is secret for these tools.
struct ToolOption {
  string_view tools;    // basenames (or script names), space-separated
  string_view command;  // words that must come before the option, in order ("login", "create secret");
                        // alternatives split by '|'; "" = any
  string_view options;  // the option's spellings
  uint8_t take;
  Style style;
  string_view kind;
};

constexpr string_view kMysqlTools =
    "mysql mysqldump mysqladmin mysqlimport mysqlshow mysqlcheck mysqlpump mysqlslap mariadb "
    "mariadb-dump mariadb-admin mariadb-import mariadb-check mariadb-show";

// Flags named like a secret (--password, --token, --api-key, -token) need no
// row: the name rules find them for every tool. A row is for a flag that is a
// secret only for this tool (`-p`, `-a`, `-P`), or whose kind the tool decides.
constexpr ToolOption kToolOptions[] = {
    // registries and platforms
    {"docker podman buildah skopeo nerdctl oras helm crane regctl az oc cf", "login", "-p", kNext, Style::kWhole,
     "password"},
    {"podman buildah skopeo", "", "--creds --src-creds --dest-creds", kNext | kEquals, Style::kUserPass, "password"},
    {"kubectl oc", "create secret", "--from-literal", kNext | kEquals, Style::kKeyValue, "generic_secret"},
    {"gh", "secret set", "-b", kNext, Style::kWhole, "generic_secret"},
    {"gh", "secret set", "--body", kNext | kEquals, Style::kWhole, "generic_secret"},
    {"glab", "variable set|variable create|variable update", "-v", kNext, Style::kWhole, "generic_secret"},
    {"glab", "variable set|variable create|variable update", "--value", kNext | kEquals, Style::kWhole,
     "generic_secret"},
    {"aws", "secretsmanager", "--secret-string --secret-binary", kNext | kEquals, Style::kWhole, "generic_secret"},
    {"aws", "ssm put-parameter", "--value", kNext | kEquals, Style::kWhole, "generic_secret"},
    {"az", "keyvault secret set", "--value", kNext | kEquals, Style::kWhole, "generic_secret"},
    {"gitlab-runner", "register", "-r -t", kNext, Style::kWhole, "gitlab_token"},
    // A job token (artifacts-uploader, artifacts-downloader, cache-archiver).
    {"gitlab-runner gitlab-runner-helper", "", "--token", kNext | kEquals, Style::kWhole, "gitlab_token"},
    {"doctl", "auth", "-t", kNext, Style::kWhole, "token"},
    {"flyctl fly vercel codecov codecovcli influx", "", "-t", kNext, Style::kWhole, "token"},
    {"netlify", "", "--auth", kNext | kEquals, Style::kWhole, "token"},
    // package publishing
    {"twine", "", "-p", kNext, Style::kWhole, "password"},
    {"poetry", "publish", "-p", kNext, Style::kWhole, "password"},
    {"uv", "publish", "-p", kNext, Style::kWhole, "password"},
    {"uv", "publish", "-t", kNext, Style::kWhole, "token"},
    {"hatch", "publish", "-a", kNext, Style::kWhole, "password"},
    {"hatch", "publish", "--auth", kNext | kEquals, Style::kWhole, "password"},
    {"nuget", "", "-ApiKey -apikey", kNext, Style::kWhole, "api_key"},
    {"dotnet", "nuget", "-k", kNext, Style::kWhole, "api_key"},
    // HTTP clients
    {"curl", "", "-u -U", kNext | kGlued, Style::kUserPass, "password"},
    {"curl", "", "--user --proxy-user", kNext, Style::kUserPass, "password"},
    {"curl", "", "-E", kNext | kGlued, Style::kCertPass, "password"},
    {"curl", "", "--cert --proxy-cert", kNext, Style::kCertPass, "password"},
    {"curl", "", "--tlspassword --proxy-tlspassword", kNext, Style::kWhole, "password"},
    {"curl", "", "--oauth2-bearer", kNext, Style::kWhole, "token"},
    {"http https", "", "-a", kNext, Style::kUserPass, "password"},  // HTTPie
    {"http https", "", "--auth", kNext | kEquals, Style::kUserPass, "password"},
    // databases
    {kMysqlTools, "", "-p", kGlued, Style::kWhole, "password"},
    {"mongo mongosh mongodump mongorestore mongoexport mongoimport mongostat mongotop mongofiles", "", "-p",
     kNext | kGlued | kOptional, Style::kWhole, "password"},
    {"redis-cli valkey-cli keydb-cli", "", "-a", kNext, Style::kWhole, "password"},
    {"sqlcmd bcp osql isql", "", "-P", kNext | kGlued, Style::kWhole, "password"},
    {"rabbitmqadmin", "", "-p", kNext, Style::kWhole, "password"},
    // remote access and file transfer
    {"sshpass", "", "-p", kNext | kGlued, Style::kWhole, "password"},
    {"lftp", "", "-u", kNext, Style::kUserComma, "password"},
    {"smbclient rpcclient smbcacls smbget smbtree", "", "-U", kNext | kGlued, Style::kUserPercent, "password"},
    {"smbclient rpcclient smbcacls smbget smbtree", "", "--user", kNext | kEquals, Style::kUserPercent, "password"},
    {"xfreerdp xfreerdp3 wlfreerdp sdl-freerdp sdl-freerdp3", "", "/p:", kGlued, Style::kWhole, "password"},
    {"ldapsearch ldapmodify ldapadd ldapdelete ldapwhoami ldappasswd ldapcompare ldapmodrdn ldapexop", "", "-w",
     kNext | kGlued, Style::kWhole, "password"},
    {"ldappasswd", "", "-a -s", kNext | kGlued, Style::kWhole, "password"},
    {"snmpget snmpgetnext snmpwalk snmpbulkwalk snmpbulkget snmpset snmptrap snmpinform snmptable snmpdelta "
     "snmpstatus snmpdf",
     "", "-A -X -c", kNext | kGlued, Style::kWhole, "password"},
    {"mosquitto_pub mosquitto_sub mosquitto_rr", "", "-P --pw", kNext, Style::kWhole, "password"},
    {"p4", "", "-P", kNext, Style::kWhole, "password"},
    // archives
    {"zip zipcloak unzip", "", "-P", kNext, Style::kWhole, "password"},
    {"7z 7za 7zr 7zz", "", "-p", kGlued, Style::kWhole, "password"},
    {"rar unrar", "", "-hp -p", kGlued, Style::kWhole, "password"},
    // keys and signing
    {"openssl", "", "-pass -passin -passout -password", kNext, Style::kPassPrefix, "password"},
    {"openssl", "", "-k", kNext, Style::kWhole, "password"},
    {"openssl", "", "-K", kNext, Style::kWhole, "generic_secret"},
    {"keytool jarsigner", "", "-storepass -keypass", kNext, Style::kWhole, "password"},
    {"keytool", "", "-srcstorepass -deststorepass -srckeypass -destkeypass", kNext, Style::kWhole, "password"},
    {"apksigner", "", "--ks-pass --key-pass", kNext, Style::kPassPrefix, "password"},
    {"osslsigncode", "", "-pass", kNext, Style::kWhole, "password"},
    {"ssh-keygen", "", "-N -P", kNext | kGlued, Style::kWhole, "password"},
    // CI runners. The Jenkins agent's (remoting's) secret is 64 hex digits
    // ("-secret @file" names a file instead); any java program's -secret is
    // taken as one.
    {"java", "", "-secret", kNext, Style::kWhole, "generic_secret"},
    {"java", "", "-jnlpCredentials -proxyCredentials", kNext, Style::kUserPass, "password"},
};

static_assert(bt::redact::known_kinds(kToolOptions), "every tool rule's kind must be listed in redact.h kKinds");

// Which operand (non-option argument) is secret.
enum class Which : uint8_t {
  kNth,              // the n-th operand after the command (1-based)
  kLast,             // the last operand
  kAfterSecretName,  // the operand after one that names a secret: `aws configure set aws_secret_access_key X`
  kAfterPrefix,      // the n-th operand after one starting with a prefix: `poetry config http-basic.pypi USER PASS`
  kAssignments,      // every KEY=VALUE operand after the first n: `fly secrets set K=V`, `vault kv put PATH K=V`
};

struct ToolOperand {
  string_view tools;
  string_view command;  // the first operands, in order; alternatives split by '|'; "" = none
  Which which;
  uint8_t n;
  string_view prefixes;    // kAfterPrefix: the naming operand's prefixes
  char needs_letter;       // only when a short option cluster holds this letter (htpasswd -b, -nb, -bc); 0 = always
  bool unless_assignment;  // an operand KEY=VALUE is not it (vault login -method=x user=y)
  string_view skip;        // the tool's options whose value is the next argument (not operands)
  Style style;
  string_view kind;  // "" for kAfterSecretName: the kind the name announces
};

constexpr string_view kVaultValueFlags =
    "-address -namespace -ns -method -path -field -format -ca-cert -ca-path -client-cert -client-key "
    "-tls-server-name -header -mfa -mount -wrap-ttl";

constexpr ToolOperand kToolOperands[] = {
    {"vault", "login", Which::kNth, 1, "", 0, true, kVaultValueFlags, Style::kWhole, "token"},
    {"vault", "operator unseal", Which::kNth, 1, "", 0, false, kVaultValueFlags, Style::kWhole, "generic_secret"},
    {"vault", "kv put|kv patch|write", Which::kAssignments, 1, "", 0, false, kVaultValueFlags, Style::kKeyValue,
     "generic_secret"},
    {"aws", "configure set", Which::kAfterSecretName, 0, "", 0, false,
     "--profile --region --output --endpoint-url --query --color --ca-bundle --cli-read-timeout "
     "--cli-connect-timeout",
     Style::kWhole, ""},
    {"npm pnpm yarn", "config set", Which::kAfterSecretName, 0, "", 0, false, "--location -L --userconfig",
     Style::kWhole, ""},
    {"git", "config", Which::kAfterSecretName, 0, "", 0, false, "-f --file --blob --type --default", Style::kWhole, ""},
    {"poetry", "config", Which::kAfterPrefix, 1, "pypi-token.", 0, false, "", Style::kWhole, "pypi_token"},
    {"poetry", "config", Which::kAfterPrefix, 2, "http-basic.", 0, false, "", Style::kWhole, "password"},
    {"cargo", "login", Which::kNth, 1, "", 0, false, "--registry --config -Z", Style::kWhole, "token"},
    {"htpasswd", "", Which::kLast, 0, "", 'b', false, "-C -r", Style::kWhole, "password"},
    {"mc mcli", "alias set|config host add", Which::kNth, 4, "", 0, false, "--api --path", Style::kWhole,
     "generic_secret"},
    {"cf", "auth", Which::kNth, 2, "", 0, false, "--origin", Style::kWhole, "password"},
    {"rabbitmqctl", "add_user|change_password", Which::kNth, 2, "", 0, false, "-n --node -t --timeout", Style::kWhole,
     "password"},
    {"snyk", "auth", Which::kNth, 1, "", 0, false, "", Style::kWhole, "token"},
    {"rclone", "obscure", Which::kNth, 1, "", 0, false, "--config", Style::kWhole, "password"},
    {"glab", "variable set|variable create|variable update", Which::kNth, 2, "", 0, false,
     "-g --group -R --repo -t --type -s --scope -d --description -v --value", Style::kWhole, "generic_secret"},
    {"netlify", "env:set", Which::kNth, 2, "", 0, false, "--context --scope", Style::kWhole, "generic_secret"},
    {"flyctl fly", "secrets set", Which::kAssignments, 0, "", 0, false, "-a --app -c --config", Style::kKeyValue,
     "generic_secret"},
    {"doppler", "secrets set", Which::kAssignments, 0, "", 0, false, "-p --project -c --config", Style::kKeyValue,
     "generic_secret"},
    {"heroku", "config:set", Which::kAssignments, 0, "", 0, false, "-a --app -r --remote", Style::kKeyValue,
     "generic_secret"},
    {"sqlplus sqlldr expdp impdp dgmgrl", "", Which::kNth, 1, "", 0, false, "-R -M", Style::kUserSlash, "password"},
};

static_assert(
    [] {
      for (const ToolOperand& r : kToolOperands)
        if (!(r.which == Which::kAfterSecretName ? r.kind.empty() : bt::redact::is_kind(r.kind))) return false;
      return true;
    }(),
    "every tool operand rule's kind must be listed in redact.h kKinds (\"\" only after a secret name)");

// ---- applying the table ----------------------------------------------------------

bool is_option(string_view a) { return a.size() > 1 && a[0] == '-'; }

// The words of `list` split at `sep`.
std::vector<string_view> split(string_view list, char sep) {
  std::vector<string_view> out;
  for (std::size_t b = 0; b <= list.size();) {
    const std::size_t e = std::min(list.find(sep, b), list.size());
    out.push_back(list.substr(b, e - b));
    b = e + 1;
  }
  return out;
}

// Index of the argument that completes `command` (alternatives split by
// '|'), its words found in order among args[from..]; npos if none does;
// `from - 1` when command is empty. Lenient: other arguments may come
// between (`docker --config x login`).
std::size_t command_end(std::span<const std::string> args, std::size_t from, string_view command) {
  if (command.empty()) return from - 1;
  std::size_t best = string_view::npos;
  for (string_view alt : split(command, '|')) {
    const auto words = split(alt, ' ');
    std::size_t w = 0;
    for (std::size_t i = from; i < args.size() && i < best; ++i)
      if (args[i] == words[w] && ++w == words.size()) {
        best = i;
        break;
      }
  }
  return best;
}

// The operands after `from`: arguments that are not options nor the value
// of one of `skip`.
std::vector<std::size_t> operands(std::span<const std::string> args, std::size_t from, string_view skip) {
  std::vector<std::size_t> out;
  for (std::size_t i = from; i < args.size(); ++i) {
    if (!is_option(args[i])) {
      out.push_back(i);
    } else if (in_list(skip, args[i])) {
      ++i;
    }
  }
  return out;
}

// Strict: the command is the leading operands (`aws configure set ...`).
// The index in `ops` of the first operand after it, or npos.
std::size_t leading_command(std::span<const std::string> args, const std::vector<std::size_t>& ops,
                            string_view command) {
  if (command.empty()) return 0;
  for (string_view alt : split(command, '|')) {
    const auto words = split(alt, ' ');
    std::size_t k = 0;
    while (k < words.size() && k < ops.size() && args[ops[k]] == words[k]) ++k;
    if (k == words.size()) return k;
  }
  return string_view::npos;
}

bool has_option_letter(std::span<const std::string> args, std::size_t from, char letter) {
  for (std::size_t i = from; i < args.size(); ++i) {
    const string_view a = args[i];
    if (a.size() < 2 || a[0] != '-' || a[1] == '-') continue;
    if (a.find(letter, 1) != string_view::npos) return true;
  }
  return false;
}

// The part of an operand that names a secret: "//registry.npmjs.org/:_authToken"
// -> "_authToken"; name_kind() itself takes the last dotted part.
string_view secret_name_kind(string_view operand) {
  if (operand.find('=') != string_view::npos) return {};
  const std::size_t colon = operand.rfind(':');
  return name_kind(colon == string_view::npos ? operand : operand.substr(colon + 1));
}

// An option row that applies from `after` on (its command came before).
struct LiveOption {
  const ToolOption* row;
  std::size_t after;
};

struct Plan {
  command::Tool tool;
  std::vector<LiveOption> options;
  std::vector<std::pair<std::size_t, ValueRule>> operands;  // secret operands by index
};

// The rows of both tables by tool name, built once: most execs name a tool
// with no row, and one hash lookup tells.
struct ToolRows {
  std::vector<const ToolOption*> options;
  std::vector<const ToolOperand*> operands;
};

const ToolRows* rows_of(string_view tool) {
  static const auto* index = [] {
    auto* m = new std::unordered_map<string_view, ToolRows>;
    for (const ToolOption& r : kToolOptions)
      for (string_view t : split(r.tools, ' ')) (*m)[t].options.push_back(&r);
    for (const ToolOperand& r : kToolOperands)
      for (string_view t : split(r.tools, ' ')) (*m)[t].operands.push_back(&r);
    return m;
  }();
  const auto it = index->find(tool);
  return it == index->end() ? nullptr : &it->second;
}

Plan plan(const std::vector<std::string>& args) {
  Plan p;
  p.tool = command::tool_of(args);
  const ToolRows* rows = p.tool.name.empty() ? nullptr : rows_of(p.tool.name);
  if (!rows) return p;
  const std::span<const std::string> all(args);
  for (const ToolOption* r : rows->options) {
    const std::size_t c = command_end(all, p.tool.at + 1, r->command);
    if (c != string_view::npos) p.options.push_back({r, c});
  }
  for (const ToolOperand* rp : rows->operands) {
    const ToolOperand& r = *rp;
    if (r.needs_letter && !has_option_letter(all, p.tool.at + 1, r.needs_letter)) continue;
    const auto ops = operands(all, p.tool.at + 1, r.skip);
    const std::size_t k = leading_command(all, ops, r.command);
    if (k == string_view::npos) continue;
    auto secret = [&](std::size_t at, string_view kind) {
      if (r.unless_assignment && args[ops[at]].find('=') != std::string::npos) return;
      p.operands.push_back({ops[at], ValueRule{kind, r.style, {}}});
    };
    switch (r.which) {
      case Which::kNth:
        if (k + r.n - 1 < ops.size()) secret(k + r.n - 1, r.kind);
        break;
      case Which::kLast:
        if (k < ops.size()) secret(ops.size() - 1, r.kind);
        break;
      case Which::kAfterSecretName:
        for (std::size_t j = k; j + 1 < ops.size(); ++j)
          if (const string_view kind = secret_name_kind(args[ops[j]]); !kind.empty()) {
            secret(j + 1, kind);
            ++j;
          }
        break;
      case Which::kAfterPrefix:
        for (std::size_t j = k; j < ops.size(); ++j)
          for (string_view pre : split(r.prefixes, ' '))
            if (args[ops[j]].starts_with(pre) && j + r.n < ops.size()) secret(j + r.n, r.kind);
        break;
      case Which::kAssignments:
        for (std::size_t j = k + r.n; j < ops.size(); ++j)
          if (args[ops[j]].find('=') != std::string::npos) secret(j, r.kind);
        break;
    }
  }
  return p;
}

// ---- values -----------------------------------------------------------------------

std::string header_arg(string_view h);

std::string redact_value(string_view v, const ValueRule& rule);

// `v` with what follows the first `sep` redacted; text() when there is none.
std::string after_separator(string_view v, char sep, const ValueRule& rule) {
  const std::size_t at = v.find(sep);
  if (at == string_view::npos || at + 1 == v.size()) return text(v);
  return text(v.substr(0, at)) + sep + redact_value(v.substr(at + 1), {rule.kind, Style::kWhole, {}});
}

std::string redact_value(string_view v, const ValueRule& rule) {
  switch (rule.style) {
    case Style::kWhole: {
      if (v.empty() || v == "-" || is_marker(v)) return std::string(v);
      if (bt::redact::is_secret_reference(rule.flag, v)) return text(v);
      const string_view shape = bt::redact::shape_kind(v);
      return marker(shape.empty() ? rule.kind : shape);
    }
    case Style::kUserPass:
    case Style::kCertPass:
      return after_separator(v, ':', rule);
    case Style::kUserComma:
      return after_separator(v, ',', rule);
    case Style::kUserPercent:
      return after_separator(v, '%', rule);
    case Style::kKeyValue: {
      const std::size_t eq = v.find('=');
      if (eq == string_view::npos || eq == 0) return text(v);
      const string_view named = name_kind(v.substr(0, eq));
      return std::string(v.substr(0, eq + 1)) +
             redact_value(v.substr(eq + 1), {named.empty() ? rule.kind : named, Style::kWhole, {}});
    }
    case Style::kUserSlash: {
      // user/password@connect: "/ as sysdba" and "/nolog" carry none.
      const std::size_t slash = v.find('/');
      if (slash == string_view::npos || slash == 0) return text(v);
      const std::size_t at = v.rfind('@');
      const std::size_t end = at != string_view::npos && at > slash ? at : v.size();
      if (end == slash + 1) return text(v);
      return text(v.substr(0, slash + 1)) +
             redact_value(v.substr(slash + 1, end - slash - 1), {rule.kind, Style::kWhole, {}}) + text(v.substr(end));
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
  const string_view kind = bt::redact::header_kind(h.substr(b, e - b));
  if (kind.empty()) return text(h);
  std::size_t v = colon + 1;
  v += run_length(h, v, is_blank);
  const std::size_t scheme = run_length(h, v, is_scheme_char);
  if (v + scheme < h.size() && is_blank(h[v + scheme]) && bt::redact::is_auth_scheme(lower_copy(h.substr(v, scheme))))
    v += scheme + run_length(h, v + scheme, is_blank);
  return std::string(h.substr(0, v)) + redact_value(h.substr(v), {kind, Style::kWhole, {}});
}

// Go-style single-dash long flags (`-token X`, `-password X`): lower case
// words only, so `-Dprop`, `-PsigningPassword` and short clusters are not.
bool is_single_dash_word(string_view a) {
  if (a.size() < 4 || a[0] != '-' || a[1] == '-') return false;
  for (char c : a.substr(1))
    if (!((c >= 'a' && c <= 'z') || is_digit(c) || c == '-')) return false;
  return true;
}

// A flag whose value is the next argument.
std::optional<ValueRule> value_in_next(const Plan& p, std::size_t i, string_view a, string_view next) {
  for (const LiveOption& o : p.options) {
    const ToolOption& r = *o.row;
    if (i <= o.after || !(r.take & kNext) || !in_list(r.options, a)) continue;
    if ((r.take & kOptional) && is_option(next)) return std::nullopt;
    return ValueRule{r.kind, r.style, a};
  }
  if (a == "-H" || a == "--header") return ValueRule{"authorization", Style::kHeader, a};
  const bool dashes2 = a.starts_with("--") && a.find('=') == string_view::npos;
  if (!(dashes2 ? !next.starts_with("--") : is_single_dash_word(a) && !is_option(next))) return std::nullopt;
  const string_view kind = name_kind(a);
  if (kind.empty()) return std::nullopt;
  // mysql's --password takes its value only as --password=x.
  if (kind == "password" && in_list(kMysqlTools, p.tool.name)) return std::nullopt;
  return ValueRule{kind, Style::kWhole, a};
}

bool is_env_name(string_view n) {
  if (n.empty() || !(is_alpha(n[0]) || n[0] == '_')) return false;
  for (char c : n)
    if (!is_word(c) && c != '.') return false;
  return true;
}

// Secrets inside the argument itself: --flag=value, -pvalue, NAME=value.
std::optional<std::string> redact_attached(const Plan& p, std::size_t i, string_view a) {
  for (const LiveOption& o : p.options) {
    const ToolOption& r = *o.row;
    if (i <= o.after || !(r.take & (kEquals | kGlued))) continue;
    for (std::size_t b = 0; b <= r.options.size();) {
      const std::size_t sp = std::min(r.options.find(' ', b), r.options.size());
      const string_view opt = r.options.substr(b, sp - b);
      b = sp + 1;
      if (a.size() <= opt.size() || !a.starts_with(opt)) continue;
      if ((r.take & kEquals) && a[opt.size()] == '=')
        return std::string(a.substr(0, opt.size() + 1)) +
               redact_value(a.substr(opt.size() + 1), {r.kind, r.style, opt});
      if (r.take & kGlued) return std::string(opt) + redact_value(a.substr(opt.size()), {r.kind, r.style, opt});
    }
  }
  const std::size_t eq = a.find('=');
  if (eq != string_view::npos && eq > 0) {
    const string_view name = a.substr(0, eq), value = a.substr(eq + 1);
    if (name == "--header" || name == "-H") return std::string(a.substr(0, eq + 1)) + header_arg(value);
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
// shell is itself an argument (docker exec c sh -c ..., ssh host sh -c ...),
// or of `su [user] -c SCRIPT`.
bool is_shell_script(const std::vector<std::string>& args, std::size_t i, string_view tool) {
  if (i < 2) return false;
  if (in_list("su runuser", tool) && (args[i - 1] == "-c" || args[i - 1] == "--command")) return true;
  if (!is_command_option(args[i - 1])) return false;
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

// text() first (token formats, assignments -- `PGPASSWORD=x psql`, `export
// MYSQL_PWD=x` --, headers anywhere), then each simple command through the
// argv rules, for what only they know: `docker login -p X`, `curl -u
// user:pass`, `--password X`.
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

bool is_hex64(string_view a) { return a.size() == 64 && std::all_of(a.begin(), a.end(), is_hex); }

// The Jenkins inbound agent's older command line, `java -cp agent.jar
// hudson.remoting.jnlp.Main [options] <secret> <name>`, passes its secret
// (64 hex digits) as a bare argument: the index after which one is taken
// as the secret, or npos.
std::size_t jnlp_main_at(const Plan& p, const std::vector<std::string>& args) {
  if (p.tool.name != "java") return std::string::npos;
  for (std::size_t i = p.tool.at + 1; i < args.size(); ++i)
    if (args[i] == "hudson.remoting.jnlp.Main") return i;
  return std::string::npos;
}

}  // namespace

std::vector<std::string> argv(const std::vector<std::string>& args) {
  std::vector<std::string> out;
  out.reserve(args.size());
  const Plan p = plan(args);
  const std::size_t jnlp_main = jnlp_main_at(p, args);
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
    if (auto op = std::find_if(p.operands.begin(), p.operands.end(), [&](const auto& o) { return o.first == i; });
        op != p.operands.end()) {
      out.push_back(redact_value(a, op->second));
      continue;
    }
    if (is_shell_script(args, i, p.tool.name)) {
      out.push_back(shell_script(a));
      continue;
    }
    if (i > 0) {
      if (auto r = redact_attached(p, i, a)) {
        out.push_back(std::move(*r));
        continue;
      }
      pending = value_in_next(p, i, a, i + 1 < args.size() ? string_view(args[i + 1]) : "");
      if (pending) {
        out.push_back(a);
        continue;
      }
    }
    out.push_back(text(a));
  }
  return out;
}

namespace {

// ---- docs/redaction.md ---------------------------------------------------------

std::string code_list(string_view words) {
  std::string s;
  for (string_view w : split(words, ' ')) s += (s.empty() ? "`" : ", `") + std::string(w) + "`";
  return s;
}

std::string when_cell(string_view command) {
  if (command.empty()) return "";
  std::string s;
  for (string_view alt : split(command, '|')) s += (s.empty() ? "`" : " or `") + std::string(alt) + "`";
  return s;
}

string_view placeholder(Style style) {
  switch (style) {
    case Style::kWhole:
    case Style::kHeader:
      return "SECRET";
    case Style::kUserPass:
      return "USER:SECRET";
    case Style::kCertPass:
      return "CERT:SECRET";
    case Style::kPassPrefix:
      return "pass:SECRET";
    case Style::kKeyValue:
      return "KEY=SECRET";
    case Style::kUserComma:
      return "USER,SECRET";
    case Style::kUserPercent:
      return "USER%SECRET";
    case Style::kUserSlash:
      return "USER/SECRET@DB";
  }
  return "SECRET";
}

std::string option_cell(const ToolOption& r) {
  const std::string v(placeholder(r.style));
  std::string s;
  for (string_view o : split(r.options, ' ')) {
    const std::string opt(o);
    if (r.take & kNext) s += (s.empty() ? "" : ", ") + ("`" + opt + " " + v + "`");
    if (r.take & kGlued) s += (s.empty() ? "" : ", ") + ("`" + opt + v + "`");
    if (r.take & kEquals) s += (s.empty() ? "" : ", ") + ("`" + opt + "=" + v + "`");
  }
  if (r.take & kOptional) s += " (the value may be absent)";
  return s;
}

std::string ordinal(unsigned n) {
  constexpr string_view kWords[] = {"", "1st", "2nd", "3rd", "4th", "5th"};
  return n < 6 ? std::string(kWords[n]) : std::to_string(n) + "th";
}

std::string operand_cell(const ToolOperand& r) {
  const std::string v(placeholder(r.style));
  std::string s;
  switch (r.which) {
    case Which::kNth:
      s = "the " + ordinal(r.n) + " operand" + (r.command.empty() ? "" : " after the command") + ": `" + v + "`";
      break;
    case Which::kLast:
      s = "the last operand: `" + v + "`";
      break;
    case Which::kAfterSecretName:
      s = "the operand after one that names a secret (`aws_secret_access_key`, `//host/:_authToken`, "
          "`user.password`)";
      break;
    case Which::kAfterPrefix:
      s = "the " + ordinal(r.n) + " operand after ";
      for (string_view pre : split(r.prefixes, ' ')) s += "`" + std::string(pre) + "*`";
      break;
    case Which::kAssignments:
      s = std::string("every `") + v + "` operand" + (r.n ? " after the " + ordinal(r.n) : "");
      break;
  }
  if (r.needs_letter) s += std::string(" (with `-") + r.needs_letter + "`)";
  if (r.unless_assignment) s += " (unless `KEY=VALUE` or `-`)";
  return s;
}

std::string tools_table() {
  std::string md = "| tool | command | secret | kind |\n| --- | --- | --- | --- |\n";
  for (const ToolOption& r : kToolOptions)
    md += "| " + code_list(r.tools) + " | " + when_cell(r.command) + " | " + option_cell(r) + " | `" +
          std::string(r.kind) + "` |\n";
  for (const ToolOperand& r : kToolOperands)
    md += "| " + code_list(r.tools) + " | " + when_cell(r.command) + " | " + operand_cell(r) + " | " +
          (r.kind.empty() ? std::string("the name's") : "`" + std::string(r.kind) + "`") + " |\n";
  return md;
}

std::string kinds_list() {
  std::string s;
  for (string_view k : bt::redact::kKinds) s += (s.empty() ? "`" : ", `") + std::string(k) + "`";
  return s + ".\n";
}

}  // namespace

std::vector<markdown::Part> reference_parts() {
  return {{"formats", bt::redact::formats_reference()},
          {"names", bt::redact::names_reference()},
          {"tools", tools_table()},
          {"kinds", kinds_list()}};
}

}  // namespace bt::agent::redact
