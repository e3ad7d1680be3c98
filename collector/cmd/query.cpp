// buildtrail-collector query --data DIR --build ID [--kind K] [--format table|jsonl]
// One build's events read back from the archive (signatures re-verified):
// a timeline for the terminal, or JSON lines.
#include <cstdio>

#include "collector/cmd/commands.h"
#include "collector/cmd/tool.h"
#include "collector/readback/event_reader.h"
#include "collector/view/timeline.h"

namespace bt::collector::cmd {

namespace {

std::string kind_names() {
  std::string out;
  for (const auto& k : events::kKinds) {
    if (!out.empty()) out += ", ";
    out += k.name;
  }
  return out;
}

Status print_timeline(readback::EventReader& reader, const store::EventFilter& filter, const store::BuildRow& build) {
  view::Timeline timeline(build);
  Status s = reader.for_each(filter, [&](const events::Event& e) { timeline.print(e); });
  if (s && timeline.events_printed() == 0) std::printf("(no events%s)\n", filter.kind ? " of this kind" : "");
  return s;
}

// The CI build id first, then an all-digit id as a record's reference, as
// before schema 3 (the command separates the two next).
Result<std::optional<store::BuildRow>> find_build(store::Store& db, const std::string& id) {
  store::BuildFilter filter;
  filter.ci_build_id = id;
  filter.limit = 1;
  auto rows = db.builds(filter);
  if (!rows) return rows.error();
  if (!rows->empty()) return std::optional<store::BuildRow>(std::move(rows->front()));
  if (id.empty() || id.size() > 18 || id.find_first_not_of("0123456789") != std::string::npos)
    return std::optional<store::BuildRow>();
  return db.build(std::stoll(id));
}

}  // namespace

int query(int argc, char** argv) {
  Tool tool("query", "query --data DIR --build ID [--kind K] [--format table|jsonl]",
            {{"data", true, "data folder of the collector (as for serve)"},
             {"build", true, "CI build id (e.g. jenkins-payments-api-main-1842) or numeric id from `builds`"},
             {"kind", true, "only events of this kind (process_exec, net_connect, ...)"},
             {"format", true, "table (a timeline, default) or jsonl (one event per line)"}});
  int exit = 0;
  if (!tool.parse(argc, argv, 2, &exit)) return exit;
  const auto& args = tool.args();
  if (!args.positionals.empty()) return tool.usage_error("unexpected argument '" + args.positionals[0] + "'");
  const std::string build_id = args.get("build");
  if (build_id.empty()) return tool.usage_error("--build ID is required");
  const std::string format = args.get("format", "table");
  if (format != "table" && format != "jsonl")
    return tool.usage_error("--format is table or jsonl, not '" + format + "'");
  store::EventFilter filter;
  if (args.has("kind")) {
    events::Kind kind{};
    if (!events::kind_from_name(args.get("kind"), &kind))
      return tool.usage_error("unknown kind '" + args.get("kind") + "' (kinds: " + kind_names() + ")");
    filter.kind = kind;
  }

  auto db = tool.open_store(/*read_only=*/true);
  if (!db) return tool.error(db.error());
  auto build = find_build(**db, build_id);
  if (!build) return tool.error(build.error());
  if (!*build) return tool.error("no build '" + build_id + "'");
  filter.build = (*build)->id;

  readback::EventReader reader(**db, tool.data_dir());
  const Status s = format == "jsonl" ? write_jsonl(reader, filter) : print_timeline(reader, filter, **build);
  std::fflush(stdout);
  if (!s) return tool.error(s.error());
  return 0;
}

}  // namespace bt::collector::cmd
