// buildtrail-collector alerts list|show|ack --data DIR ...
// What the detector raised (docs/detection.md): list with filters, one
// alert with its evidence, or acknowledge one with a note.
#include <charconv>
#include <cstdio>

#include "collector/cmd/commands.h"
#include "collector/cmd/tool.h"
#include "collector/view/alert.h"
#include "collector/view/text.h"
#include "collector/view/time.h"
#include "common/clock.h"

namespace bt::collector::cmd {

namespace {

bool parse_id(const std::string& v, int64_t* out) {
  const auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), *out);
  return ec == std::errc() && p == v.data() + v.size() && *out > 0;
}

// The one positional argument of show and ack.
bool alert_id(const Tool& tool, int64_t* id) {
  const auto& args = tool.args();
  return args.positionals.size() == 1 && parse_id(args.positionals[0], id);
}

int list(int argc, char** argv) {
  Tool tool(
      "alerts list",
      "alerts list --data DIR [--since T] [--severity S] [--build REF] [--open] [--format table|jsonl] [--limit N]",
      {{"data", true, "data folder of the collector (as for serve)"},
       {"since", true, "only alerts raised since T: 2026-11-27T10:00:00Z, 2h, 7d or ns"},
       {"severity", true, "only alerts of this severity or above: informational, low, medium, high, critical"},
       {"build", true, "only alerts of this build record (REF of `builds`)"},
       {"open", false, "only alerts not acknowledged"},
       {"format", true, "table (default) or jsonl"},
       {"limit", true, "at most N alerts, oldest first (default 1000)"}});
  int exit = 0;
  if (!tool.parse(argc, argv, 3, &exit)) return exit;
  const auto& args = tool.args();
  if (!args.positionals.empty()) return tool.usage_error("unexpected argument '" + args.positionals[0] + "'");
  store::AlertFilter filter;
  if (args.has("since")) {
    auto since = view::parse_since(args.get("since"), clock::now_ns());
    if (!since) return tool.usage_error(since.error().message);
    filter.since_ns = *since;
  }
  if (args.has("severity")) {
    filter.min_severity = store::severity_rank(args.get("severity"));
    if (filter.min_severity < 0)
      return tool.usage_error("--severity is informational, low, medium, high or critical, not '" +
                              view::printable(args.get("severity")) + "'");
  }
  if (args.has("build")) {
    int64_t ref = 0;
    if (!parse_id(args.get("build"), &ref)) return tool.usage_error("--build needs a build REF (a positive integer)");
    filter.build = ref;
  }
  filter.open_only = args.has("open");
  if (args.has("limit")) {
    int64_t n = 0;
    if (!parse_id(args.get("limit"), &n)) return tool.usage_error("--limit needs a positive integer");
    filter.limit = static_cast<std::size_t>(n);
  }
  const std::string format = args.get("format", "table");
  if (format != "table" && format != "jsonl")
    return tool.usage_error("--format is table or jsonl, not '" + view::printable(format) + "'");
  auto db = tool.open_store(/*read_only=*/true);
  if (!db) return tool.error(db.error());
  auto alerts = (*db)->alerts(filter);
  if (!alerts) return tool.error(alerts.error());
  if (format == "jsonl") {
    for (const auto& a : *alerts) std::printf("%s\n", view::alert_json(a).c_str());
    return 0;
  }
  if (alerts->empty()) {
    std::printf("no alerts\n");
    return 0;
  }
  view::Table table(view::alert_columns());
  for (const auto& a : *alerts) table.add(view::alert_row(a));
  table.print(stdout);
  return 0;
}

int show(int argc, char** argv) {
  Tool tool("alerts show", "alerts show --data DIR ID",
            {{"data", true, "data folder of the collector (as for serve)"}});
  int exit = 0;
  if (!tool.parse(argc, argv, 3, &exit)) return exit;
  int64_t id = 0;
  if (!alert_id(tool, &id)) return tool.usage_error("needs one alert ID (a positive integer)");
  auto db = tool.open_store(/*read_only=*/true);
  if (!db) return tool.error(db.error());
  auto alert = (*db)->alert(id);
  if (!alert) return tool.error(alert.error());
  if (!*alert) return tool.error("no alert " + std::to_string(id));
  std::fputs(view::alert_block(**alert).c_str(), stdout);
  return 0;
}

int ack(int argc, char** argv) {
  Tool tool("alerts ack", "alerts ack --data DIR ID [--note TEXT]",
            {{"data", true, "data folder of the collector (as for serve)"},
             {"note", true, "why: kept with the alert (one line)"}});
  int exit = 0;
  if (!tool.parse(argc, argv, 3, &exit)) return exit;
  int64_t id = 0;
  if (!alert_id(tool, &id)) return tool.usage_error("needs one alert ID (a positive integer)");
  const std::string note = tool.args().get("note");
  if (note.size() > 1000 || note.find('\n') != std::string::npos)
    return tool.usage_error("--note is one line of at most 1000 bytes");
  auto db = tool.open_store(/*read_only=*/false);
  if (!db) return tool.error(db.error());
  if (Status s = (*db)->ack_alert(id, note, clock::now_ns()); !s) return tool.error(s.error());
  std::printf("alert %lld acknowledged\n", static_cast<long long>(id));
  return 0;
}

}  // namespace

int alerts(int argc, char** argv) {
  return dispatch("alerts",
                  "usage: buildtrail-collector alerts list|show|ack --data DIR ...\n"
                  "  list   alerts the detector raised (filters: --since, --severity, --build, --open)\n"
                  "  show   one alert with its evidence\n"
                  "  ack    acknowledge an alert (--note TEXT)\n",
                  {{"list", list}, {"show", show}, {"ack", ack}}, argc, argv);
}

}  // namespace bt::collector::cmd
