// The collector's configuration file (`serve --config FILE`, default
// /etc/buildtrail/collector.toml when it exists): today the outputs that
// forward alerts (collector/output/). One declarative table per section
// (kOutputKeys in config.cpp) drives the loader and the generated parts of
// docs/collector-config.md. Unknown keys, wrong types and bad values are
// one-line errors naming the key; serve's flags stay flags.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/markdown.h"
#include "common/result.h"

namespace bt::collector::config {

// One [[output]] table. Keys common to every type first, then the ones of
// its type (only `webhook` today; issue 20 adds more beside it).
struct Output {
  std::string name;  // unique: names its cursor (output.<name>) and its metrics
  std::string type;
  std::string min_severity = "informational";
  uint64_t max_backlog = 100000;
  uint64_t backoff_base_ms = 500;
  uint64_t backoff_cap_ms = 60000;
  // webhook
  std::string url;
  std::string secret_file;
  std::string ca_file;
  uint64_t timeout_ms = 10000;
  std::string secret;  // the key read from secret_file at load; never logged
};

struct Config {
  std::vector<Output> outputs;
};

std::string default_config_file();  // /etc/buildtrail/collector.toml

// Parses a config file's text; `origin` names it in errors. Reads each
// webhook's secret_file.
Result<Config> parse_toml(const std::string& text, const std::string& origin);
// Loads `file`; an empty name loads the default file when it exists, else
// gives an empty config.
Result<Config> load(const std::string& file);

// The parts of docs/collector-config.md generated from the table.
std::vector<markdown::Part> reference_parts();

}  // namespace bt::collector::config
