// The common frame of a buildtrail-collector command: its flags, its
// --help, its one-line errors ("buildtrail-collector NAME: message") and
// exit codes, and the store of --data.
#pragma once

#include <initializer_list>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "collector/readback/event_reader.h"
#include "collector/store/store.h"
#include "common/cli.h"
#include "common/result.h"

namespace bt::collector::cmd {

inline constexpr int kExitError = 1;  // the command ran and failed
inline constexpr int kExitUsage = 2;  // bad flags or values

class Tool {
 public:
  Tool(std::string name, std::string synopsis, std::vector<cli::Option> options);

  // Parses argv from `first`; on failure prints one line and sets `exit`.
  // --help prints the usage and exits 0. --data is required unless
  // `needs_data` is false.
  bool parse(int argc, char** argv, int first, int* exit, bool needs_data = true);
  const cli::Args& args() const { return args_; }
  std::string data_dir() const { return args_.get("data"); }

  int usage_error(const std::string& message) const;  // exit 2
  int error(const std::string& message) const;        // exit 1
  int error(const Error& e) const { return error(e.message); }

  // Opens the store of --data; read_only for commands that only read.
  Result<std::unique_ptr<store::Store>> open_store(bool read_only) const;

 private:
  std::string name_, synopsis_;
  std::vector<cli::Option> options_;
  cli::Args args_;
};

// A command of subcommands (`agents list`, `tokens create`): argv[2]
// picks one; --help prints `usage` (exit 0); a missing or unknown one is one
// line naming those there are (exit 2).
struct Subcommand {
  const char* name;
  int (*run)(int argc, char** argv);
};
int dispatch(const char* command, const char* usage, std::initializer_list<Subcommand> subcommands, int argc,
             char** argv);

// A build record reference, the REF `builds` prints: a positive integer,
// and nothing else is ever taken for one (issue 17/11).
std::optional<int64_t> parse_build_ref(const std::string& text);

// Writes the events matching `filter` to stdout as JSON lines (the schema
// of docs/events.md), in 1 MiB writes.
Status write_jsonl(readback::EventReader& reader, const store::EventFilter& filter);

}  // namespace bt::collector::cmd
