// buildtrail-collector query --data DIR (--build REF | --ci-build ID) [--kind K] [--format table|jsonl]
// One build record's events read back from the archive (signatures
// re-verified): a timeline for the terminal, or JSON lines.
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
  Status s =
      reader.for_each(filter, [&](const events::Event& e, const store::EventRef& ref) { timeline.print(e, ref); });
  if (s && timeline.events_printed() == 0) std::printf("(no events%s)\n", filter.kind ? " of this kind" : "");
  return s;
}

std::string describe(const store::BuildRow& b) {
  return std::to_string(b.id) + " (agent " + b.agent_id + ", host " + (b.host.empty() ? "-" : b.host) + ")";
}

// The one record of a CI build id; several are an error that lists them,
// since which one was meant cannot be known.
Result<store::BuildRow> record_of_ci_id(store::Store& db, const std::string& ci_build_id) {
  store::BuildFilter filter;
  filter.ci_build_id = ci_build_id;
  auto rows = db.builds(filter);
  if (!rows) return rows.error();
  if (rows->empty()) return make_error(ErrorCode::kNotFound, "no build with CI build id '" + ci_build_id + "'");
  if (rows->size() == 1) return std::move(rows->front());
  std::string refs;
  for (const auto& b : *rows) refs += (refs.empty() ? "" : ", ") + describe(b);
  return make_error(ErrorCode::kConflict, "CI build id '" + ci_build_id + "' names " + std::to_string(rows->size()) +
                                              " build records: " + refs + "; choose one with --build REF");
}

}  // namespace

int query(int argc, char** argv) {
  Tool tool("query", "query --data DIR (--build REF | --ci-build ID) [--kind K] [--format table|jsonl]",
            {{"data", true, "data folder of the collector (as for serve)"},
             {"build", true, "the build record REF that `builds` prints (a number)"},
             {"ci-build", true, "the CI's build id (e.g. jenkins-payments-api-main-1842), when one record has it"},
             {"kind", true, "only events of this kind (process_exec, net_connect, ...)"},
             {"format", true, "table (a timeline, default) or jsonl (one event per line)"}});
  int exit = 0;
  if (!tool.parse(argc, argv, 2, &exit)) return exit;
  const auto& args = tool.args();
  if (!args.positionals.empty()) return tool.usage_error("unexpected argument '" + args.positionals[0] + "'");
  if (args.has("build") == args.has("ci-build")) return tool.usage_error("give one of --build REF or --ci-build ID");
  std::optional<int64_t> ref;
  if (args.has("build") && !(ref = parse_build_ref(args.get("build"))))
    return tool.usage_error("--build takes the REF column of `builds` (a number), not '" + args.get("build") +
                            "'; for a CI build id use --ci-build");
  if (args.has("ci-build") && args.get("ci-build").empty()) return tool.usage_error("--ci-build needs an id");
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
  store::BuildRow build;
  if (ref) {
    auto found = (*db)->build(*ref);
    if (!found) return tool.error(found.error());
    if (!*found) return tool.error("no build record " + std::to_string(*ref) + " (see `builds`)");
    build = std::move(**found);
  } else {
    auto found = record_of_ci_id(**db, args.get("ci-build"));
    if (!found) return tool.error(found.error());
    build = std::move(*found);
  }
  filter.build = build.id;

  readback::EventReader reader(**db, tool.data_dir());
  const Status s = format == "jsonl" ? write_jsonl(reader, filter) : print_timeline(reader, filter, build);
  std::fflush(stdout);
  if (!s) return tool.error(s.error());
  return 0;
}

}  // namespace bt::collector::cmd
