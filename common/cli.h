// Minimal command-line parsing shared by buildtrail-agent and
// buildtrail-collector: `--name value`, `--name=value`, boolean switches and
// positionals, against a declared list of options so unknown or incomplete
// flags are one-line errors.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace bt::cli {

struct Option {
  std::string_view name;  // without the leading "--"
  bool takes_value;
  std::string_view help;
};

struct Args {
  std::map<std::string, std::vector<std::string>, std::less<>> values;
  std::vector<std::string> positionals;
  std::vector<std::string> after_dashdash;  // everything after a lone "--"

  bool has(std::string_view name) const;
  // Last value given for `name`, or `fallback`.
  std::string get(std::string_view name, std::string fallback = {}) const;
  std::vector<std::string> all(std::string_view name) const;
};

// A subcommand of a multi-tool binary (`buildtrail-agent keygen ...`).
struct Command {
  std::string_view name;
  int (*run)(int argc, char** argv);  // argv[1] is the command name
  std::string_view help;
};

// Runs the command named by argv[1]; prints the command list for help or
// an unknown name. Returns the process exit status.
int dispatch(std::string_view program, const std::vector<Command>& commands, int argc, char** argv);

Result<Args> parse(int argc, char** argv, int first, const std::vector<Option>& options);
std::string usage(const std::vector<Option>& options);

// A command's error: "<who>: <message>" as one line on stderr. Messages
// quote flags, paths, ids and replies from outside, so the message is made
// printable (common/text.h) here, for every command of both binaries.
void print_error(std::string_view who, std::string_view message);

}  // namespace bt::cli
