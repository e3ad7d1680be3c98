// Redaction of argument vectors: what needs argument boundaries on top of
// common/redact's text scanner (text(), url()).
//
// argv() adds a flag's value in the next argument (`--token X`, `-H
// "Authorization: ..."`), flags that mean a secret only for some tools
// (`docker login -p`, `mysql -pX`, `curl -u user:pass`, the Jenkins agent's
// `-secret HEX`; never `mkdir -p`), found after wrappers such as `sudo` and
// `env`. A `sh -c` script is text() first, then split into shell words so
// each simple command in it gets the argv rules too.
//
// Over-redaction is the accepted failure: a value next to a secret-looking
// name is dropped even if it was harmless. Everything that matches no rule is
// copied byte for byte.
#include "agent/enrich/rules/redact.h"

#include <algorithm>
#include <cctype>
#include <optional>

#include "common/fs.h"
#include "common/redact/chars.h"
#include "common/redact/formats.h"
#include "common/redact/names.h"
#include "common/words.h"

namespace bt::agent::redact {

namespace {

using namespace bt::redact::detail;
using bt::redact::is_marker;
using bt::redact::is_secret_reference;
using bt::redact::name_kind;
using bt::redact::shape_kind;
using std::string_view;

bool in_list(string_view list, string_view word) { return in_word_list(list, word); }

string_view basename(string_view path) { return fs::base_name(path); }

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
  const string_view kind = bt::redact::header_kind(h.substr(b, e - b));
  if (kind.empty()) return text(h);
  std::size_t v = colon + 1;
  v += run_length(h, v, is_blank);
  const std::size_t scheme = run_length(h, v, is_scheme_char);
  if (v + scheme < h.size() && is_blank(h[v + scheme]) && bt::redact::is_auth_scheme(lower_copy(h.substr(v, scheme))))
    v += scheme + run_length(h, v + scheme, is_blank);
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
    if (is_shell_script(args, i)) {
      out.push_back(shell_script(a));
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
    out.push_back(text(a));
  }
  return out;
}

}  // namespace bt::agent::redact
