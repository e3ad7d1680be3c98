// The collector's configuration file (`serve --config FILE`, default
// /etc/buildtrail/collector.toml when it exists): today the outputs that
// forward events and alerts (collector/output/), and who may use the UI and
// the read API besides users and tokens ([access]). One declarative table
// per section (kOutputKeys, kAccessKeys, kCertificateKeys in config.cpp)
// drives the loader and the generated parts of docs/collector-config.md. Unknown keys, wrong types and bad values are
// one-line errors naming the key; serve's flags stay flags.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/markdown.h"
#include "common/result.h"

namespace bt::collector::config {

// One [[output]] table. Keys common to every type first (what it forwards,
// in which format, its limits), then the ones of its type.
struct Output {
  std::string name;  // unique: names its cursors (output.<name>...) and its metrics
  std::string type;
  // What it forwards: "alerts", "events" or "all", and which of them.
  std::string forward = "alerts";
  std::vector<std::string> kinds;  // event kinds; empty: every kind
  std::string min_severity = "informational";
  std::string ci, repository;  // only these builds' records (exact match) when set
  std::string format = "json";
  uint64_t max_backlog = 100000;
  uint64_t max_event_backlog = 10000000;
  uint64_t backoff_base_ms = 500;
  uint64_t backoff_cap_ms = 60000;
  uint64_t timeout_ms = 10000;
  // webhook
  std::string url;
  std::string secret_file;
  std::string secret;  // the key read from secret_file at load; never logged
  // webhook and syslog over TLS
  std::string ca_file;
  // file
  std::string path;
  uint64_t max_bytes = 100ull << 20;
  uint64_t max_files = 5;
  // syslog
  std::string address;  // host:port, [v6]:port
  std::string transport = "tcp";
  std::string cert_file, key_file;  // a client certificate for TLS
  std::string server_name;          // the name the server's certificate must carry; default: the host
  std::string facility = "local0";
  int facility_code = 16;  // of `facility`, set by the loader
  std::string app_name = "buildtrail";
  std::string sd_id = "buildtrail@32473";
  uint64_t max_message = 8192;  // bytes of one UDP message; longer ones are cut
  // splunk_hec and otlp: records per request, bytes per request, gzip
  uint64_t max_records = 500;
  uint64_t max_batch_bytes = 1ull << 20;
  bool gzip = false;
  // splunk_hec
  std::string token_file;
  std::string token;  // read from token_file at load; never logged
  std::string sourcetype, index, host;
  bool ack = false;
  // otlp
  std::string encoding = "protobuf";
  std::vector<std::string> headers;  // "Name: value", sent with every request; never logged
};

// One [[access.certificate]]: a person's client certificate (verified
// against serve --client-ca) and the role it is let in with, on the read
// API and the UI (collector/api/auth.h). Named by the SHA-256 of its DER
// form or by its subject DN, exactly one of the two.
struct Certificate {
  std::string name;     // shown in the log and the UI
  std::string sha256;   // 64 hex digits (lowercased by the loader)
  std::string subject;  // RFC 4514, as `openssl x509 -subject -nameopt RFC2253` prints it
  std::string role = "viewer";
};

// The [access] table: the UI's sessions and who else may come in.
struct Access {
  uint64_t session_hours = 12;
  uint64_t max_login_failures = 5;  // per client address and minute
  std::vector<std::string> origins;
  bool secure_cookie = false;
  std::vector<Certificate> certificates;
};

struct Config {
  std::vector<Output> outputs;
  Access access;
};

std::string default_config_file();  // /etc/buildtrail/collector.toml

// Parses a config file's text; `origin` names it in errors. Reads each
// webhook's secret_file and each splunk_hec's token_file.
Result<Config> parse_toml(const std::string& text, const std::string& origin);
// Loads `file`; an empty name loads the default file when it exists, else
// gives an empty config.
Result<Config> load(const std::string& file);

// The parts of docs/collector-config.md generated from the table.
std::vector<markdown::Part> reference_parts();

}  // namespace bt::collector::config
