#include "agent/runtime/config.h"

#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <toml++/toml.h>
#include <cstdlib>

#include "common/batch/batch.h"
#include "common/fs.h"
#include "common/markdown.h"

namespace bt::agent::config {

namespace {

// One row per option: TOML key (dotted = table.key), flag name, the member
// it fills, and its documentation. Everything else is derived from this.
struct Key {
  std::string_view toml;
  std::string_view flag;
  std::string Config::*text = nullptr;
  uint64_t Config::*number = nullptr;
  std::string_view doc;
};

constexpr Key kKeys[] = {
    {"collector", "collector", &Config::collector, nullptr,
     "Collector base URL (http:// or https://). Empty: keep batches in the spool only."},
    {"enroll_token", "enroll-token", &Config::enroll_token, nullptr,
     "Enrollment token from `buildtrail-collector agents token`, used once on first contact."},
    {"state_dir", "state-dir", &Config::state_dir, nullptr,
     "Key, agent id, chain state and spool; must be the running user's, writable by no one else. Default "
     "/var/lib/buildtrail (root) or $XDG_STATE_HOME/buildtrail (else ~/.local/state/buildtrail)."},
    {"tls.ca_file", "tls-ca-file", &Config::tls_ca_file, nullptr,
     "PEM CA bundle trusted for the collector instead of the system store."},
    {"tls.client_cert", "tls-client-cert", &Config::tls_client_cert, nullptr,
     "PEM client certificate for collectors that require mTLS."},
    {"tls.client_key", "tls-client-key", &Config::tls_client_key, nullptr,
     "PEM private key of the client certificate."},
    {"batch.max_bytes", "batch-max-bytes", nullptr, &Config::batch_max_bytes,
     "Seal a batch when its JSON reaches this many bytes (at most 4194304: a collector refuses larger batches)."},
    {"batch.max_age_ms", "batch-max-age-ms", nullptr, &Config::batch_max_age_ms,
     "Seal a batch when its oldest event is this old."},
    {"batch.heartbeat_s", "heartbeat-s", nullptr, &Config::heartbeat_s,
     "Send an agent_heartbeat event after this many idle seconds."},
    {"batch.queue_capacity", "queue-capacity", nullptr, &Config::queue_capacity,
     "Events waiting between capture and batcher; beyond it events are dropped and counted (queue_full)."},
    {"spool.max_bytes", "spool-max-bytes", nullptr, &Config::spool_max_bytes,
     "Bytes of unsent batches kept on disk; beyond it new events are dropped and counted (spool_full)."},
    {"send.connect_timeout_ms", "connect-timeout-ms", nullptr, &Config::send_connect_timeout_ms,
     "Give up connecting to the collector after this long (then retry with backoff)."},
    {"send.timeout_ms", "send-timeout-ms", nullptr, &Config::send_timeout_ms,
     "Give up on one request after this long (then retry with backoff)."},
    {"send.backoff_base_ms", "backoff-base-ms", nullptr, &Config::send_backoff_base_ms,
     "Smallest retry delay; delays grow as uniform(base, min(cap, base*2^n))."},
    {"send.backoff_cap_ms", "backoff-cap-ms", nullptr, &Config::send_backoff_cap_ms,
     "Largest retry delay (a collector's Retry-After may ask for more); also how often an agent the collector "
     "refuses (401/403) offers its oldest batch again."},
    {"send.flush_timeout_s", "flush-timeout", nullptr, &Config::flush_timeout_s,
     "How long a finishing command waits for delivery before leaving batches in the spool."},
    {"log.level", "log-level", &Config::log_level, nullptr, "debug, info, warn or error."},
    {"secrets.rules_file", "secret-rules", &Config::secret_rules_file, nullptr,
     "File of extra secret rules, one `<name> <class> <pattern>` a line (docs/secret-rules.md); added to the built-in "
     "ones."},
    {"secrets.metadata_endpoints", "metadata-endpoints", &Config::metadata_endpoints, nullptr,
     "Extra cloud metadata endpoints (host names or IPs), comma-separated; `run --metadata-endpoint` adds more."},
    {"watch.rules_file", "watch-rules", &Config::watch_rules_file, nullptr,
     "File of extra file watch rules, one `<name> <pattern>` a line (docs/file-watch.md); added to the built-in ones. "
     "A "
     "build process creating, writing, renaming, unlinking or making executable a watched file is a `file_write` "
     "event."},
    {"watch.workspace", "watch-workspace", &Config::watch_workspace, nullptr,
     "Opt-in workspace watch: comma-separated globs relative to the build's starting folder (`src/**,*.go`); a build "
     "process changing a matching file that existed before the build began is a `file_write` event (rule "
     "`workspace`). Empty: off."},
    {"daemon.runners", "runners", &Config::daemon_runners, nullptr,
     "Extra CI runner rules for `daemon` and `run --session`, comma-separated `ci:name[:argument[:cgroup-substring]]`: "
     "a process whose task name or program file name is `name`, with an argument that is `argument` or a path ending "
     "in `/argument`, is a runner; the children of a runner are builds."},
    {"daemon.socket", "daemon-socket", &Config::daemon_socket, nullptr,
     "The daemon's job socket: `buildtrail-agent job begin|end` (the CI hooks) tell the daemon there where a job "
     "starts and ends; any local user may connect, the caller is known by its peer credentials, and each client has "
     "a small budget (2 s for its request line, 64 KiB, 64 connections at once, 16 per user)."},
    {"daemon.job_idle_s", "job-idle", nullptr, &Config::daemon_job_idle_s,
     "A job begun by `job begin` whose processes have all exited ends after this many seconds when no `job end` came "
     "(GitLab skips post_build_script when a job fails)."},
    {"wrap.tree", "wrap-tree", &Config::wrap_tree, nullptr,
     "How `run` follows the process tree: `detached` (Linux 6.15+: each process ptraced only at its exec, so builds "
     "may use ptrace, gdb and LeakSanitizer) or `ptrace` (every process ptraced throughout; what older kernels get). "
     "Environment: BUILDTRAIL_WRAP_TREE."},
    {"ebpf.btf_file", "btf-file", &Config::ebpf_btf_file, nullptr,
     "Kernel BTF for `daemon` when the kernel does not expose /sys/kernel/btf/vmlinux (e.g. from BTFHub)."},
    {"ebpf.ring_kb", "ring-kb", nullptr, &Config::ebpf_ring_kb,
     "Size of the daemon's BPF ring buffer in KiB (a power of two, at least 4): the burst it absorbs while the agent "
     "is busy; beyond it records are lost and counted (ring_full)."},
};

// Settings an environment variable may give, between the file and the
// flags: troubleshooting switches that must reach an agent started deep
// inside a CI script, where neither a flag nor the file can be changed.
struct EnvKey {
  std::string_view variable;
  std::string_view toml;
};
constexpr EnvKey kEnvKeys[] = {
    {"BUILDTRAIL_WRAP_TREE", "wrap.tree"},
};

const Key* key_named(std::string_view toml) {
  for (const auto& k : kKeys)
    if (k.toml == toml) return &k;
  return nullptr;
}

Status set_number(Config& c, const Key& k, std::string_view text, const std::string& origin) {
  char* end = nullptr;
  const std::string s(text);
  const unsigned long long v = std::strtoull(s.c_str(), &end, 10);
  if (s.empty() || *end || s[0] == '-')
    return make_error(ErrorCode::kInvalidArgument,
                      origin + ": " + std::string(k.toml) + ": not a non-negative integer: " + s);
  c.*(k.number) = v;
  return Ok{};
}

void collect_leaves(const toml::table& table, const std::string& prefix,
                    std::vector<std::pair<std::string, const toml::node*>>& out) {
  for (const auto& [key, node] : table) {
    const std::string path = prefix.empty() ? std::string(key.str()) : prefix + "." + std::string(key.str());
    if (const auto* sub = node.as_table())
      collect_leaves(*sub, path, out);
    else
      out.emplace_back(path, &node);
  }
}

}  // namespace

Result<std::string> default_state_dir() {
  if (::geteuid() == 0) return std::string("/var/lib/buildtrail");
  // Relative values are invalid (XDG Base Directory spec) and ignored.
  if (const char* xdg = std::getenv("XDG_STATE_HOME"); xdg && *xdg == '/') return std::string(xdg) + "/buildtrail";
  if (const char* home = std::getenv("HOME"); home && *home == '/')
    return std::string(home) + "/.local/state/buildtrail";
  // HOME is unset in some CI steps and service units: the passwd entry's
  // home is the same folder a login would have given. A made-up one under
  // /tmp would be a path any other user can create first.
  const uid_t uid = ::getuid();
  std::string home;
  passwd pw{};
  passwd* found = nullptr;
  std::vector<char> buf(16384);
  if (::getpwuid_r(uid, &pw, buf.data(), buf.size(), &found) == 0 && found && found->pw_dir) home = found->pw_dir;
  struct stat st {};
  if (home.size() > 1 && home[0] == '/' && ::stat(home.c_str(), &st) == 0 && S_ISDIR(st.st_mode) && st.st_uid == uid)
    return home + "/.local/state/buildtrail";
  return make_error(ErrorCode::kInvalidArgument,
                    "no state folder: HOME and XDG_STATE_HOME are unset and uid " + std::to_string(uid) +
                        " has no home folder of its own; give one with --state-dir DIR (or state_dir in " +
                        default_config_file() + ")");
}

Result<std::string> state_dir(const Config& config) {
  if (!config.state_dir.empty()) return config.state_dir;
  return default_state_dir();
}

Result<Invocation> parse_invocation(int argc, char** argv, std::vector<cli::Option> extra) {
  std::vector<cli::Option> all = options();
  all.insert(all.end(), extra.begin(), extra.end());
  all.push_back({"help", false, "show this help"});
  auto args = cli::parse(argc, argv, 2, all);
  if (!args) return args.error();
  auto config = load(*args);
  if (!config) return config.error();
  return Invocation{std::move(*args), std::move(*config)};
}

std::string default_config_file() { return "/etc/buildtrail/agent.toml"; }

std::vector<cli::Option> options() {
  std::vector<cli::Option> out = {{"config", true, "TOML config file (default /etc/buildtrail/agent.toml if present)"}};
  for (const auto& k : kKeys) out.push_back({k.flag, true, k.doc});
  return out;
}

Result<Config> parse_toml(const std::string& text, const std::string& origin, Config base) {
  toml::table table;
  try {
    table = toml::parse(text, origin);
  } catch (const toml::parse_error& e) {
    return make_error(ErrorCode::kInvalidArgument,
                      origin + ":" + std::to_string(e.source().begin.line) + ": " + std::string(e.description()));
  }
  std::vector<std::pair<std::string, const toml::node*>> leaves;
  collect_leaves(table, "", leaves);
  for (const auto& [path, node] : leaves) {
    const Key* key = key_named(path);
    if (!key) return make_error(ErrorCode::kInvalidArgument, origin + ": unknown key '" + path + "'");
    if (key->text) {
      const auto* s = node->as_string();
      if (!s) return make_error(ErrorCode::kInvalidArgument, origin + ": " + path + ": expected a string");
      base.*(key->text) = s->get();
    } else {
      const auto* n = node->as_integer();
      if (!n || n->get() < 0)
        return make_error(ErrorCode::kInvalidArgument, origin + ": " + path + ": expected a non-negative integer");
      base.*(key->number) = static_cast<uint64_t>(n->get());
    }
  }
  return base;
}

Result<Config> load(const cli::Args& args) {
  Config c;
  std::string file = args.get("config");
  const bool explicit_file = !file.empty();
  if (!explicit_file && ::access(default_config_file().c_str(), R_OK) == 0) file = default_config_file();
  if (!file.empty()) {
    auto text = fs::read_file(file, 1 << 20);
    if (!text) return text.error();
    auto parsed = parse_toml(*text, file, c);
    if (!parsed) return parsed.error();
    c = *parsed;
  }
  for (const auto& e : kEnvKeys) {
    const char* value = std::getenv(std::string(e.variable).c_str());
    if (value && *value) c.*(key_named(e.toml)->text) = value;
  }
  for (const auto& k : kKeys) {
    if (!args.has(k.flag)) continue;
    const std::string v = args.get(k.flag);
    if (k.text) {
      c.*(k.text) = v;
    } else if (Status s = set_number(c, k, v, "--" + std::string(k.flag)); !s) {
      return s.error();
    }
  }
  if (c.state_dir.empty())
    if (auto d = default_state_dir(); d) c.state_dir = *d;
  if (c.batch_max_age_ms == 0 || c.batch_max_bytes == 0 || c.heartbeat_s == 0 || c.queue_capacity == 0)
    return make_error(ErrorCode::kInvalidArgument,
                      "batch.max_bytes, batch.max_age_ms, batch.heartbeat_s and queue_capacity must be positive");
  // The collector refuses batches larger than an agent can seal (batch::kMaxWireBytes).
  if (c.batch_max_bytes > batch::kMaxSealJsonBytes)
    return make_error(
        ErrorCode::kInvalidArgument,
        "batch.max_bytes: at most " + std::to_string(batch::kMaxSealJsonBytes) + " (what a collector accepts)");
  if (c.wrap_tree != "detached" && c.wrap_tree != "ptrace")
    return make_error(ErrorCode::kInvalidArgument, "wrap.tree must be detached or ptrace, not '" + c.wrap_tree + "'");
  return c;
}

namespace {

std::string keys_table() {
  std::string md = "| key | flag | type | default | meaning |\n| --- | --- | --- | --- | --- |\n";
  const Config defaults;
  for (const auto& k : kKeys) {
    const std::string def = k.text ? (defaults.*(k.text)).empty() ? "" : "`\"" + defaults.*(k.text) + "\"`"
                                   : "`" + std::to_string(defaults.*(k.number)) + "`";
    md += "| `" + std::string(k.toml) + "` | `--" + std::string(k.flag) + "` | " + (k.text ? "string" : "integer") +
          " | " + def + " | " + std::string(k.doc) + " |\n";
  }
  return md;
}

// Every key with its default, as a file: a test parses it.
std::string example_toml() {
  std::string md = "```toml\n# /etc/buildtrail/agent.toml\n";
  std::string table;
  const Config defaults;
  for (const auto& k : kKeys) {
    const std::string path(k.toml);
    const auto dot = path.find('.');
    const std::string t = dot == std::string::npos ? "" : path.substr(0, dot);
    const std::string name = dot == std::string::npos ? path : path.substr(dot + 1);
    if (t != table) {
      md += "\n[" + t + "]\n";
      table = t;
    }
    md += "# " + std::string(k.doc) + "\n";
    if (k.text) {
      std::string v = defaults.*(k.text);
      if (k.toml == "collector") v = "https://collector.example.com:8443";
      if (k.toml == "state_dir") v = "/var/lib/buildtrail";
      if (k.toml == "enroll_token" || k.toml.rfind("tls.", 0) == 0) md += "# ";
      md += name + " = \"" + v + "\"\n";
    } else {
      md += name + " = " + std::to_string(defaults.*(k.number)) + "\n";
    }
  }
  return md + "```\n";
}

}  // namespace

std::vector<markdown::Part> reference_parts() { return {{"keys", keys_table()}, {"example", example_toml()}}; }

}  // namespace bt::agent::config
