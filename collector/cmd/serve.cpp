// `buildtrail-collector serve`: wires the store, the ingest writer, the
// read API, the HTTP server, the detector and the outputs of the config
// file, then waits for SIGTERM/SIGINT and shuts down in order: stop accepting, finish in-flight requests, drain the
// writer, let the detector finish its step, close the store. The outputs
// are told to stop first: a request stuck at a receiver is aborted within
// about a second, in parallel with the rest.
#include <curl/curl.h>
#include <malloc.h>
#include <signal.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>

#include "collector/access/access_db.h"
#include "collector/api/api.h"
#include "collector/cmd/commands.h"
#include "collector/config/config.h"
#include "collector/detect/service.h"
#include "collector/detect/sigma_rules.h"
#include "collector/http/server.h"
#include "collector/ingest/ingest.h"
#include "collector/output/output.h"
#include "collector/store/store.h"
#include "collector/ui/front.h"
#include "collector/view/time.h"
#include "common/cli.h"
#include "common/fs.h"
#include "common/text.h"

namespace bt::collector::cmd {

namespace {

// Verified batches kept for the detector and the outputs to share (each
// about 1,000 events: some 30 MiB at the most).
constexpr std::size_t kSharedBatches = 24;

const std::vector<cli::Option> kOptions = {
    {"config", true,
     "TOML config file: outputs that forward alerts (docs/collector-config.md; default "
     "/etc/buildtrail/collector.toml if present)"},
    {"listen", true, "ADDR:PORT to listen on, e.g. 127.0.0.1:8443 or [::1]:8443 (port 0: any free port)"},
    {"data", true, "data folder: SQLite store and batch archive"},
    {"tls-cert", true, "PEM certificate chain for HTTPS"},
    {"tls-key", true, "PEM private key for HTTPS"},
    {"client-ca", true, "PEM CA bundle; requires client certificates signed by it (mTLS)"},
    {"health-listen", true, "also serve /healthz and /metrics on ADDR:PORT (plain HTTP), apart from agents' traffic"},
    {"max-body", true, "largest accepted request body in bytes (default: the largest batch an agent can seal)"},
    {"max-inflight-bytes", true,
     "bytes of request bodies held at once, beyond which requests get 503 (default 268435456)"},
    {"max-connections", true, "concurrent connections before new ones are refused (default 512)"},
    {"max-connections-per-address", true, "concurrent connections from one client address (default 128)"},
    {"idle-timeout", true, "seconds of silence before a connection is closed (default 30)"},
    {"header-timeout", true, "seconds a connection has to send a request's headers (default 10)"},
    {"body-min-rate", true, "bytes per second a request body may not fall below, after the grace (default 32768)"},
    {"body-grace", true, "seconds a request body gets beyond its length at --body-min-rate (default 10)"},
    {"max-queue", true, "verified batches waiting for the store before 503 (default 256)"},
    {"busy-timeout-ms", true, "how long a store write waits for a lock before answering 503 (default 5000)"},
    {"max-clock-skew", true,
     "seconds an event's time may be after the collector's clock; later ones are indexed at their receive time and "
     "flagged (default 300)"},
    {"max-build-duration", true,
     "a build open longer than this with no build_end raises BT-30 (default 6h; 90m, 2h, 1d or seconds)"},
    {"heartbeat-interval", true,
     "the agents' heartbeat in seconds (their batch.heartbeat_s, default 30): an agent silent for twice this while "
     "one of its builds is open raises BT-30"},
    {"rules", true,
     "a folder of Sigma rules to detect with, beside the built-in CI rule pack (repeatable; `rules check DIR` "
     "first: a rule that cannot be loaded is named and skipped)"},
    {"no-detect", false,
     "store only: run no detector (another collector detects over the same store, or a benchmark wants ingest alone)"},
    {"baseline-branch", true,
     "a branch (or fnmatch glob) whose clean builds teach the per-job baselines, beside main and master "
     "(repeatable)"},
    {"baseline-builds", true, "clean builds a job's baseline learns from before it raises anything (default 10)"},
    {"ready-file", true, "write the bound ADDR:PORT to this file once serving"},
    {"help", false, "show this help"},
};

int fail(const std::string& message) {
  cli::print_error("buildtrail-collector serve", message);
  return 1;
}

bool parse_count(const cli::Args& args, const char* name, uint64_t* out) {
  if (!args.has(name)) return true;
  const std::string v = args.get(name);
  char* end = nullptr;
  const unsigned long long n = std::strtoull(v.c_str(), &end, 10);
  if (v.empty() || v[0] < '0' || v[0] > '9' || *end || n == 0) {
    std::fprintf(stderr, "buildtrail-collector serve: --%s: not a positive number: %s\n", name,
                 text::printable(v).c_str());
    return false;
  }
  *out = n;
  return true;
}

// What the flags ask for.
struct ServeConfig {
  std::string data;
  std::optional<std::string> ready_file;
  http::Config http;
  ingest::Config ingest;
  store::Options store;
  detect::OpenBuildLimits open_builds;
  std::vector<std::string> rule_dirs;
  bool detect = true;
  detect::BaselineConfig baseline;
  config::Config file;  // what --config (or the default file) gives
};

// Parses the flags; on failure or --help prints and sets `exit`.
bool parse_flags(int argc, char** argv, ServeConfig* out, int* exit) {
  auto args = cli::parse(argc, argv, 2, kOptions);
  if (!args) {
    cli::print_error("buildtrail-collector serve", args.error().message);
    *exit = 2;
    return false;
  }
  if (args->has("help") || !args->has("data") || !args->positionals.empty()) {
    std::fprintf(args->has("help") ? stdout : stderr,
                 "usage: buildtrail-collector serve --listen ADDR:PORT --data DIR [options]\n%s",
                 cli::usage(kOptions).c_str());
    *exit = args->has("help") ? 0 : 2;
    return false;
  }
  http::Config& http_config = out->http;
  http_config.listen = args->get("listen", http_config.listen);
  http_config.tls_cert = args->get("tls-cert");
  http_config.tls_key = args->get("tls-key");
  http_config.client_ca = args->get("client-ca");
  http_config.health_listen = args->get("health-listen");
  uint64_t max_body = http_config.max_body, max_conn = http_config.max_connections, idle = http_config.idle_timeout_s,
           max_queue = 256, busy_ms = 5000, per_address = http_config.max_connections_per_address,
           inflight = http_config.guard.max_inflight_bytes, header_s = 10, grace_s = 10,
           min_rate = http_config.guard.body_min_rate, skew_s = store::kDefaultMaxClockSkewNs / 1000000000;
  if (!parse_count(*args, "max-body", &max_body) || !parse_count(*args, "max-connections", &max_conn) ||
      !parse_count(*args, "idle-timeout", &idle) || !parse_count(*args, "max-queue", &max_queue) ||
      !parse_count(*args, "busy-timeout-ms", &busy_ms) ||
      !parse_count(*args, "max-connections-per-address", &per_address) ||
      !parse_count(*args, "max-inflight-bytes", &inflight) || !parse_count(*args, "header-timeout", &header_s) ||
      !parse_count(*args, "body-min-rate", &min_rate) || !parse_count(*args, "body-grace", &grace_s) ||
      !parse_count(*args, "max-clock-skew", &skew_s)) {
    *exit = 2;
    return false;
  }
  http_config.max_body = max_body;
  http_config.max_connections = static_cast<unsigned>(max_conn);
  http_config.max_connections_per_address = static_cast<unsigned>(per_address);
  http_config.idle_timeout_s = static_cast<unsigned>(idle);
  http_config.guard.max_inflight_bytes = inflight;
  http_config.guard.header_timeout = std::chrono::seconds(header_s);
  http_config.guard.body_min_rate = min_rate;
  http_config.guard.body_grace = std::chrono::seconds(grace_s);
  out->data = args->get("data");
  if (args->has("ready-file")) out->ready_file = args->get("ready-file");
  out->rule_dirs = args->all("rules");
  out->detect = !args->has("no-detect");
  for (const auto& b : args->all("baseline-branch")) out->baseline.protected_branches.push_back(b);
  if (!parse_count(*args, "baseline-builds", &out->baseline.min_builds)) {
    *exit = 2;
    return false;
  }
  if (args->has("max-build-duration")) {
    auto d = view::parse_duration(args->get("max-build-duration"));
    if (!d || *d == 0) {
      cli::print_error("buildtrail-collector serve",
                       "--max-build-duration: not a duration: " + text::printable(args->get("max-build-duration")));
      *exit = 2;
      return false;
    }
    out->open_builds.max_build_ns = *d;
  }
  uint64_t heartbeat_s = out->open_builds.heartbeat_ns / 1000000000;
  if (!parse_count(*args, "heartbeat-interval", &heartbeat_s)) {
    *exit = 2;
    return false;
  }
  out->open_builds.heartbeat_ns = heartbeat_s > UINT64_MAX / 1000000000 ? UINT64_MAX / 2 : heartbeat_s * 1000000000;
  out->store.busy_timeout_ms = static_cast<int>(busy_ms);
  out->ingest.data_dir = out->data;
  out->ingest.limits.max_batch_bytes = max_body;
  out->ingest.max_queue = max_queue;
  // Seconds as ns, saturated: any skew beyond 2^64 ns bounds nothing.
  out->ingest.max_clock_skew_ns = skew_s > UINT64_MAX / 1000000000 ? UINT64_MAX : skew_s * 1000000000;
  auto file = config::load(args->get("config"));
  if (!file) {
    cli::print_error("buildtrail-collector serve", file.error().message);
    *exit = 2;
    return false;
  }
  out->file = std::move(*file);
  return true;
}

// Blocks the stop signals before any thread starts so only sigwait sees them.
sigset_t block_stop_signals() {
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  ::signal(SIGPIPE, SIG_IGN);
  return stop_signals;
}

// The detector and every output read each stored batch back: its lines
// decompressed, its events parsed, a few megabytes allocated and freed per
// batch, thousands of times a minute. From mmap (glibc's default for
// blocks over 128 KiB until it adapts) each of those pages is faulted in
// and zeroed again: measured, a third of a file output's CPU. Blocks up to
// 8 MiB come from the arenas and stay there; request bodies, which a
// client controls, have memory of their own (http/body.h).
void keep_large_blocks_in_the_arenas() { ::mallopt(M_MMAP_THRESHOLD, 8 << 20); }

// "syslog (tls to siem:6514), events (process_exec, net_connect) and alerts of severity high and above, as ocsf"
std::string output_summary(const config::Output& o) {
  std::string where = o.type == "syslog" ? " (" + o.transport + " to " + o.address + ")"
                      : o.type == "file" ? " (" + o.path + ")"
                                         : "";
  std::string what;
  if (o.forward != "alerts") {
    what = "events";
    if (!o.kinds.empty()) {
      what += " (";
      for (std::size_t i = 0; i < o.kinds.size(); ++i) what += (i ? ", " : "") + o.kinds[i];
      what += ")";
    }
  }
  if (o.forward != "events")
    what += (what.empty() ? "" : " and ") + std::string("alerts of severity ") + o.min_severity + " and above";
  if (!o.ci.empty()) what += ", ci " + o.ci;
  if (!o.repository.empty()) what += ", repository " + o.repository;
  return text::printable(o.type + where + ": " + what + ", as " + o.format);
}

// Who may use the read API and the UI besides tokens and users: the
// config's [access] table, and whether the session cookie is Secure.
api::AccessSettings access_settings(const config::Access& access, bool tls) {
  api::AccessSettings out;
  out.origins = access.origins;
  out.secure_cookie = tls || access.secure_cookie;
  for (const auto& c : access.certificates)
    out.certificates.push_back(
        {c.name, c.sha256, c.subject, store::parse_api_role(c.role).value_or(store::ApiRole::kViewer)});
  return out;
}

ui::LoginSettings login_settings(const config::Access& access) {
  ui::LoginSettings out;
  out.session_ns = access.session_hours * 3600ull * 1000000000ull;
  out.limits.max_failures = access.max_login_failures;
  return out;
}

}  // namespace

int serve(int argc, char** argv) {
  ServeConfig config;
  int exit = 0;
  if (!parse_flags(argc, argv, &config, &exit)) return exit;
  keep_large_blocks_in_the_arenas();
  if (auto s = fs::make_dirs(config.data, 0750); !s) return fail(s.error().message);
  const sigset_t stop_signals = block_stop_signals();

  auto writer = store::open_sqlite(config.data, config.store);
  if (!writer) return fail(writer.error().message);
  auto admin = store::open_sqlite(config.data, config.store);
  if (!admin) return fail(admin.error().message);
  metrics::Metrics metrics;
  auto ingest = ingest::Ingest::start(config.ingest, std::move(*writer), std::move(*admin), metrics);
  if (!ingest) return fail(ingest.error().message);
  auto access = access::AccessDb::open(config.data, config.store.busy_timeout_ms);
  if (!access) return fail(access.error().message);
  const bool tls = !config.http.tls_cert.empty();
  auto read_api = api::Api::open(config.data, config.store, access->get(), access_settings(config.file.access, tls));
  if (!read_api) return fail(read_api.error().message);
  ui::Front ui((*read_api)->authenticator(), **access, api::log_line, login_settings(config.file.access));
  const std::string& where = config.http.listen;
  const bool loopback = where.rfind("127.", 0) == 0 || where.rfind("[::1]", 0) == 0 || where.rfind("localhost", 0) == 0;
  if (!tls && !config.file.access.secure_cookie && !loopback)
    std::fprintf(stderr,
                 "buildtrail-collector: the UI's session cookie is not Secure on plain HTTP: it travels in clear; "
                 "serve with --tls-cert/--tls-key (or behind a TLS proxy, [access] secure_cookie) beyond loopback\n");
  auto server = http::Server::start(config.http, **ingest, metrics, read_api->get(), &ui);
  if (!server) return fail(server.error().message);
  // The detector and the outputs walk the same committed batches at about
  // the same time: each is read from the archive and verified once.
  readback::SharedBatches shared_batches(kSharedBatches);
  std::unique_ptr<detect::Service> detection;
  if (config.detect) {
    auto sigma = detect::load_sigma_rules(config.rule_dirs);
    if (!sigma) return fail(sigma.error().message);
    for (const auto& r : sigma->rejected)
      std::fprintf(stderr, "buildtrail-collector: rule %s not loaded: %s\n", text::printable(r.file).c_str(),
                   text::printable(r.reason).c_str());
    std::fprintf(stderr, "buildtrail-collector: detecting with %zu Sigma rules, %zu correlations (%zu not loaded)\n",
                 sigma->rules.size(), sigma->correlations.size(), sigma->rejected.size());
    auto started = detect::Service::start(config.data, config.store,
                                          detect::builtin_rule_sets(config.data, std::move(*sigma), config.baseline),
                                          config.open_builds, metrics, &shared_batches);
    if (!started) return fail(started.error().message);
    detection = std::move(*started);
  }

  curl_global_init(CURL_GLOBAL_DEFAULT);
  auto outputs = output::Outputs::start(config.file, config.data, config.store, metrics, &shared_batches);
  if (!outputs) return fail(outputs.error().message);
  for (const auto& o : config.file.outputs)
    std::fprintf(stderr, "buildtrail-collector: output %s: %s\n", o.name.c_str(), output_summary(o).c_str());

  const std::string address = (*server)->address();
  if (config.ready_file) {
    // The main address first; the health listener's, when there is one, next.
    const std::string health = (*server)->health_address();
    if (auto s =
            fs::write_file_atomic(*config.ready_file, address + "\n" + (health.empty() ? "" : health + "\n"), 0644);
        !s)
      return fail(s.error().message);
  }
  std::fprintf(stderr, "buildtrail-collector: serving %s on %s, data in %s\n",
               config.http.tls_cert.empty() ? "http" : "https", address.c_str(), config.data.c_str());

  int sig = 0;
  sigwait(&stop_signals, &sig);
  std::fprintf(stderr, "buildtrail-collector: %s received, finishing in-flight requests\n",
               sig == SIGTERM ? "SIGTERM" : "SIGINT");
  outputs->stop();
  (*server)->stop();
  (*ingest)->stop();
  if (detection) detection->stop();
  std::fprintf(stderr, "buildtrail-collector: stopped\n");
  return 0;
}

}  // namespace bt::collector::cmd
