// buildtrail-collector builds --data DIR [--job J] [--ci-build ID] [--since T] [--limit N]
// Lists build records, oldest first (the most recent N when limited). A
// record is one agent's observation of a CI build: REF names it for
// `query --build`, AGENT and HOST say who recorded it, COLLIDES lists the
// other agents' records of the same CI build id, ALERTS how many alerts
// cite its events.
#include <algorithm>
#include <charconv>

#include "collector/cmd/commands.h"
#include "collector/cmd/tool.h"
#include "collector/view/text.h"
#include "collector/view/time.h"
#include "common/clock.h"

namespace bt::collector::cmd {

namespace {

std::string duration_of(const store::BuildRow& b) {
  const uint64_t start = b.start_ns ? b.start_ns : b.first_ns;
  const uint64_t end = b.ended ? b.end_ns : b.last_ns;
  return end >= start ? view::format_duration(end - start) : "-";
}

// References of the other records, a few at most: the rest are counted.
std::string collisions(const store::BuildRow& b) {
  constexpr std::size_t kShown = 4;
  if (b.collides_with.empty()) return "-";
  std::string out;
  for (std::size_t i = 0; i < b.collides_with.size() && i < kShown; ++i)
    out += (i ? "," : "") + std::to_string(b.collides_with[i].ref);
  if (b.collides_with.size() > kShown) out += ",+" + std::to_string(b.collides_with.size() - kShown);
  return out;
}

uint64_t total(const events::Counts& counts) {
  uint64_t n = 0;
  for (const auto& [kind, c] : counts) n += c;
  return n;
}

}  // namespace

int builds(int argc, char** argv) {
  Tool tool("builds", "builds --data DIR [--job J] [--ci-build ID] [--since T] [--limit N]",
            {{"data", true, "data folder of the collector (as for serve)"},
             {"job", true, "only builds of this job (exact name)"},
             {"ci-build", true, "only records of this CI build id, from every agent"},
             {"since", true, "only builds seen since T: 2026-11-27T10:00:00Z, 2h, 7d or ns"},
             {"limit", true, "at most N builds, the most recent (default 1000)"}});
  int exit = 0;
  if (!tool.parse(argc, argv, 2, &exit)) return exit;
  const auto& args = tool.args();
  if (!args.positionals.empty()) return tool.usage_error("unexpected argument '" + args.positionals[0] + "'");
  store::BuildFilter filter;
  filter.job = args.get("job");
  filter.ci_build_id = args.get("ci-build");
  if (args.has("since")) {
    auto since = view::parse_since(args.get("since"), clock::now_ns());
    if (!since) return tool.usage_error(since.error().message);
    filter.since_ns = *since;
  }
  if (args.has("limit")) {
    const std::string v = args.get("limit");
    std::size_t n = 0;
    const auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
    if (ec != std::errc() || p != v.data() + v.size() || n == 0)
      return tool.usage_error("--limit needs a positive integer");
    filter.limit = n;
  }

  auto db = tool.open_store(/*read_only=*/true);
  if (!db) return tool.error(db.error());
  auto rows = (*db)->builds(filter);
  if (!rows) return tool.error(rows.error());
  if (rows->empty()) {
    std::printf("no builds\n");
    return 0;
  }
  std::reverse(rows->begin(), rows->end());  // the store answers newest first
  view::Table table(
      {"REF", "AGENT", "HOST", "CI", "JOB", "BUILD", "START", "DURATION", "EXIT", "EVENTS", "ALERTS", "COLLIDES"});
  for (const auto& b : *rows) {
    table.add({std::to_string(b.id), b.agent_id, b.host.empty() ? "-" : view::truncate(b.host, 40), b.build.ci,
               b.build.job, b.build.id, view::format_rfc3339(b.start_ns ? b.start_ns : b.first_ns), duration_of(b),
               b.ended ? std::to_string(b.exit_code) : "running", std::to_string(total(b.counts)),
               std::to_string(b.alerts), collisions(b)});
  }
  table.print(stdout);
  return 0;
}

}  // namespace bt::collector::cmd
