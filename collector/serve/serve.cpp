// `buildtrail-collector serve`: wires the store, the ingest writer and the
// HTTP server, then waits for SIGTERM/SIGINT and shuts down in order:
// stop accepting, finish in-flight requests, drain the writer, close the store.
#include "collector/serve/serve.h"

#include <signal.h>

#include <cstdio>

#include "collector/http/server.h"
#include "collector/ingest/ingest.h"
#include "collector/store/store.h"
#include "common/cli.h"
#include "common/fs.h"

namespace bt::collector::serve {

namespace {

const std::vector<cli::Option> kOptions = {
    {"listen", true, "ADDR:PORT to listen on, e.g. 127.0.0.1:8443 or [::1]:8443 (port 0: any free port)"},
    {"data", true, "data folder: SQLite store and batch archive"},
    {"tls-cert", true, "PEM certificate chain for HTTPS"},
    {"tls-key", true, "PEM private key for HTTPS"},
    {"client-ca", true, "PEM CA bundle; requires client certificates signed by it (mTLS)"},
    {"max-body", true, "largest accepted request body in bytes (default 16777216)"},
    {"max-connections", true, "concurrent connections before new ones are refused (default 512)"},
    {"idle-timeout", true, "seconds of silence before a connection is closed (default 30)"},
    {"max-queue", true, "verified batches waiting for the store before 503 (default 256)"},
    {"busy-timeout-ms", true, "how long a store write waits for a lock before answering 503 (default 5000)"},
    {"ready-file", true, "write the bound ADDR:PORT to this file once serving"},
    {"help", false, "show this help"},
};

int fail(const std::string& message) {
  std::fprintf(stderr, "buildtrail-collector serve: %s\n", message.c_str());
  return 1;
}

bool parse_count(const cli::Args& args, const char* name, uint64_t* out) {
  if (!args.has(name)) return true;
  const std::string v = args.get(name);
  char* end = nullptr;
  const unsigned long long n = std::strtoull(v.c_str(), &end, 10);
  if (v.empty() || *end || n == 0) {
    std::fprintf(stderr, "buildtrail-collector serve: --%s: not a positive number: %s\n", name, v.c_str());
    return false;
  }
  *out = n;
  return true;
}

}  // namespace

int run(int argc, char** argv) {
  auto args = cli::parse(argc, argv, 2, kOptions);
  if (!args) {
    std::fprintf(stderr, "buildtrail-collector serve: %s\n", args.error().message.c_str());
    return 2;
  }
  if (args->has("help") || !args->has("data") || !args->positionals.empty()) {
    std::fprintf(args->has("help") ? stdout : stderr,
                 "usage: buildtrail-collector serve --listen ADDR:PORT --data DIR [options]\n%s",
                 cli::usage(kOptions).c_str());
    return args->has("help") ? 0 : 2;
  }
  http::Config http_config;
  http_config.listen = args->get("listen", http_config.listen);
  http_config.tls_cert = args->get("tls-cert");
  http_config.tls_key = args->get("tls-key");
  http_config.client_ca = args->get("client-ca");
  uint64_t max_body = http_config.max_body, max_conn = http_config.max_connections,
           idle = http_config.idle_timeout_s, max_queue = 256, busy_ms = 5000;
  if (!parse_count(*args, "max-body", &max_body) || !parse_count(*args, "max-connections", &max_conn) ||
      !parse_count(*args, "idle-timeout", &idle) || !parse_count(*args, "max-queue", &max_queue) ||
      !parse_count(*args, "busy-timeout-ms", &busy_ms))
    return 2;
  http_config.max_body = max_body;
  http_config.max_connections = static_cast<unsigned>(max_conn);
  http_config.idle_timeout_s = static_cast<unsigned>(idle);

  const std::string data = args->get("data");
  if (auto s = fs::make_dirs(data, 0750); !s) return fail(s.error().message);

  // Block the stop signals before any thread starts so only sigwait sees them.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  ::signal(SIGPIPE, SIG_IGN);

  store::Options store_options;
  store_options.busy_timeout_ms = static_cast<int>(busy_ms);
  auto writer = store::open_sqlite(data, store_options);
  if (!writer) return fail(writer.error().message);
  auto admin = store::open_sqlite(data, store_options);
  if (!admin) return fail(admin.error().message);

  metrics::Metrics metrics;
  ingest::Config ingest_config;
  ingest_config.data_dir = data;
  ingest_config.limits.max_batch_bytes = max_body;
  ingest_config.max_queue = max_queue;
  auto ingest = ingest::Ingest::start(ingest_config, std::move(*writer), std::move(*admin), metrics);
  if (!ingest) return fail(ingest.error().message);

  auto server = http::Server::start(http_config, **ingest, metrics);
  if (!server) return fail(server.error().message);
  const std::string address = (*server)->address();
  if (args->has("ready-file")) {
    if (auto s = fs::write_file_atomic(args->get("ready-file"), address + "\n", 0644); !s)
      return fail(s.error().message);
  }
  std::fprintf(stderr, "buildtrail-collector: serving %s on %s, data in %s\n",
               http_config.tls_cert.empty() ? "http" : "https", address.c_str(), data.c_str());

  int sig = 0;
  sigwait(&stop_signals, &sig);
  std::fprintf(stderr, "buildtrail-collector: %s received, finishing in-flight requests\n",
               sig == SIGTERM ? "SIGTERM" : "SIGINT");
  (*server)->stop();
  (*ingest)->stop();
  std::fprintf(stderr, "buildtrail-collector: stopped\n");
  return 0;
}

}  // namespace bt::collector::serve
