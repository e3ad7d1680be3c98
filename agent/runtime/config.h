// The agent's configuration: one declarative table (kKeys in config.cpp)
// from which the TOML loader, the command-line flags, --help and
// docs/agent-config.md are all derived. Precedence: defaults < config file
// < flags. Unknown keys and wrong types are one-line errors.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/cli.h"
#include "common/markdown.h"
#include "common/result.h"

namespace bt::agent::config {

struct Config {
  std::string collector;  // collector base URL; empty: spool only
  std::string enroll_token;
  std::string state_dir;
  std::string tls_ca_file, tls_client_cert, tls_client_key;
  uint64_t batch_max_bytes = 1u << 20;
  uint64_t batch_max_age_ms = 1000;
  uint64_t heartbeat_s = 30;
  uint64_t queue_capacity = 1024;
  uint64_t spool_max_bytes = 512ull << 20;
  uint64_t send_connect_timeout_ms = 10000;
  uint64_t send_timeout_ms = 60000;
  uint64_t send_backoff_base_ms = 500;
  uint64_t send_backoff_cap_ms = 60000;
  uint64_t flush_timeout_s = 10;
  std::string log_level = "info";
  std::string secret_rules_file;                              // extra secret rules (docs/secret-rules.md format)
  std::string metadata_endpoints;                             // extra metadata endpoints, comma-separated
  std::string daemon_runners;                                 // extra CI runner rules (agent/enrich/rules/runners.h)
  std::string watch_rules_file;                               // extra file watch rules (docs/file-watch.md format)
  std::string watch_workspace;                                // workspace watch globs, comma-separated; empty: off
  std::string daemon_socket = "/run/buildtrail/daemon.sock";  // `job begin|end` reach the daemon here
  uint64_t daemon_job_idle_s = 300;    // a begun job with no process left ends after this without `job end`
  std::string wrap_tree = "detached";  // run's process tree: detached or ptrace
  std::string ebpf_btf_file;           // BTF for kernels without /sys/kernel/btf/vmlinux
  uint64_t ebpf_ring_kb = 8192;        // the BPF ring buffer (a power of two, >= 4)
};

// The default state folder: /var/lib/buildtrail for root; otherwise
// $XDG_STATE_HOME/buildtrail, or <home>/.local/state/buildtrail with home
// from $HOME or, when HOME is unset, the user's passwd entry. Never a
// folder others share, such as /tmp: without a home it is an error asking
// for --state-dir.
Result<std::string> default_state_dir();
// The state folder to use: the configured one, else the default (load()
// leaves state_dir empty when there is none; commands that need no state
// folder, such as `job`, still run).
Result<std::string> state_dir(const Config& config);
std::string default_config_file();  // /etc/buildtrail/agent.toml

// Flags every agent command shares (derived from the table), plus --config.
std::vector<cli::Option> options();
// Loads the config file (--config, or the default one if it exists), then
// applies flags.
Result<Config> load(const cli::Args& args);

// A command's flags: the shared ones (options()), `extra` and --help,
// parsed from argv[2] on, and the configuration they and the file give.
struct Invocation {
  cli::Args args;
  Config config;
};
Result<Invocation> parse_invocation(int argc, char** argv, std::vector<cli::Option> extra = {});
Result<Config> parse_toml(const std::string& text, const std::string& origin, Config base = {});

// The parts of docs/agent-config.md generated from the table.
std::vector<markdown::Part> reference_parts();

}  // namespace bt::agent::config
