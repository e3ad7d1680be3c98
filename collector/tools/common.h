// Helpers shared by the investigation and administration tools (builds,
// query, export, agents): time parsing and formatting, terminal-safe text,
// aligned tables, and reading stored events back from the archive with
// their signatures re-verified.
#pragma once

#include <cstdint>
#include <cstdio>
#include <functional>
#include <list>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "collector/store/store.h"
#include "common/cli.h"
#include "common/events/event.h"
#include "common/result.h"

namespace bt::collector::tools {

inline constexpr int kExitError = 1;  // the tool ran and failed
inline constexpr int kExitUsage = 2;  // bad flags or values

// ---- time ------------------------------------------------------------------------

// A duration: one or more <integer><unit> with unit s, m, h or d ("90s",
// "30m", "2h", "7d", "1h30m"). Zero and overflow are errors.
Result<uint64_t> parse_duration(std::string_view text);

// An RFC 3339 time, "2026-11-27T10:00:00Z", optionally with a fraction of a
// second and a numeric offset instead of Z; a bare date means its midnight
// UTC. Returns ns since the Unix epoch.
Result<uint64_t> parse_rfc3339(std::string_view text);

// The --since forms: an RFC 3339 time, a duration meaning "that long before
// now_ns", or an integer count of ns since the epoch.
Result<uint64_t> parse_since(std::string_view text, uint64_t now_ns);

std::string format_rfc3339(uint64_t ns);        // 2026-11-27T10:30:00Z
std::string format_rfc3339_ms(uint64_t ns);     // 2026-11-27T10:30:00.123Z
std::string format_clock_ms(uint64_t ns);       // 10:30:00.123 (UTC)
std::string format_date(uint64_t ns);           // 2026-11-27 (UTC)
std::string format_duration(uint64_t ns);       // 850ms, 1.520s, 3m04s, 2h05m, 3d04h

// ---- text ------------------------------------------------------------------------

// Recorded strings come from build processes, so they may carry terminal
// escape sequences: C0/C1 controls, DEL and bidirectional overrides are
// shown as \xNN or \u{NNNN}.
std::string printable(std::string_view text);
// At most `max_chars` code points; longer text ends in "...".
std::string truncate(std::string_view text, std::size_t max_chars);

// One line describing an event for the timeline (already printable).
std::string summary(const events::Event& event);

// Columns aligned on the widest cell; the last column is not padded.
class Table {
 public:
  explicit Table(std::vector<std::string> header);
  void add(std::vector<std::string> row);
  bool empty() const { return rows_.empty(); }
  void print(std::FILE* out) const;

 private:
  std::vector<std::vector<std::string>> rows_;
};

// ---- command lines ---------------------------------------------------------------

// The common frame of a tool: "buildtrail-collector NAME: message" on one line.
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

  // Opens the store of --data; read_only for tools that only read.
  Result<std::unique_ptr<store::Store>> open_store(bool read_only) const;

 private:
  std::string name_, synopsis_;
  std::vector<cli::Option> options_;
  cli::Args args_;
};

// ---- reading events back ---------------------------------------------------------

// Reads stored events from the archive: each referenced batch is read,
// its signature verified with the agent's key from the store (batch::open),
// its events parsed and checked against the header (batch::for_each_event),
// and the batch must be the one the store names (agent, seq, content
// address). An event is only handed out once its batch passed all of that.
class EventReader {
 public:
  EventReader(store::Store& store, std::string data_dir);

  // Calls `on_event` for the events matching `filter`, in the store's time
  // order. References are taken in chunks and each chunk is read batch by
  // batch, so an export interleaving many agents opens each batch about
  // once. Fails with a one-line error naming the batch on any check.
  Status for_each(const store::EventFilter& filter,
                  const std::function<void(const events::Event&)>& on_event);

 private:
  struct Batch {
    std::string path;
    std::vector<events::Event> events;
  };
  Result<const Batch*> batch(const store::EventRef& ref);
  Status flush(std::vector<store::EventRef>& chunk,
               const std::function<void(const events::Event&)>& on_event);

  store::Store& store_;
  std::string data_dir_;
  std::map<std::string, crypto::PublicKey> keys_;
  std::list<Batch> cache_;  // most recently used first
};

}  // namespace bt::collector::tools
