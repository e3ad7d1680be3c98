// buildtrail-collector export --data DIR [--format jsonl] [--since T]
// Every stored event (or those since T) as JSON lines in time order, in the
// schema of docs/events.md, each read back from its archived batch with the
// signature re-verified. --dsse and --intoto: evidence.cpp.
#include <cstdio>

#include "collector/cmd/commands.h"
#include "collector/cmd/evidence.h"
#include "collector/cmd/tool.h"
#include "collector/readback/event_reader.h"
#include "collector/view/time.h"
#include "common/clock.h"

namespace bt::collector::cmd {

int export_events(int argc, char** argv) {
  std::vector<cli::Option> options = {{"data", true, "data folder of the collector (as for serve)"},
                                      {"format", true, "jsonl: one event per line (the only format, the default)"},
                                      {"since", true, "only events at or after T: 2026-11-27T10:00:00Z, 2h, 7d or ns"}};
  for (auto& o : evidence_options()) options.push_back(o);
  Tool tool("export", "export --data DIR [--format jsonl] [--since T] | (--dsse | --intoto) --build REF [--out DIR]",
            options);
  int exit = 0;
  if (!tool.parse(argc, argv, 2, &exit)) return exit;
  const auto& args = tool.args();
  if (!args.positionals.empty()) return tool.usage_error("unexpected argument '" + args.positionals[0] + "'");
  if (wants_evidence(args)) return export_evidence(tool);
  if (args.get("format", "jsonl") != "jsonl")
    return tool.usage_error("--format is jsonl, not '" + args.get("format") + "'");
  store::EventFilter filter;
  if (args.has("since")) {
    auto since = view::parse_since(args.get("since"), clock::now_ns());
    if (!since) return tool.usage_error(since.error().message);
    filter.since_ns = *since;
  }

  auto db = tool.open_store(/*read_only=*/true);
  if (!db) return tool.error(db.error());
  readback::EventReader reader(**db, tool.data_dir());
  Status s = write_jsonl(reader, filter);
  std::fflush(stdout);
  if (!s) return tool.error(s.error());
  return 0;
}

}  // namespace bt::collector::cmd
