// buildtrail-collector export --data DIR [--format jsonl|ocsf|ecs] [--since T]
// Every stored event (or those since T) as JSON lines in time order, in the
// schema of docs/events.md (jsonl), as OCSF 1.8.0 records (docs/ocsf.md) or
// as ECS documents (docs/ecs.md), each read back from its archived batch
// with the signature re-verified. --dsse and --intoto: evidence.cpp.
#include <cstdio>
#include <string>

#include "collector/cmd/commands.h"
#include "collector/cmd/evidence.h"
#include "collector/cmd/tool.h"
#include "collector/format/format.h"
#include "collector/readback/event_reader.h"
#include "collector/view/time.h"
#include "common/clock.h"
#include "common/text.h"

namespace bt::collector::cmd {

namespace {

// --format: jsonl is buildtrail's own lines, as before; ocsf and ecs go
// through collector/format, one record per line.
Result<format::Format> export_format(const std::string& name) {
  if (name == "jsonl") return format::Format::kJson;
  if (name == "ocsf" || name == "ecs") return format::parse(name);
  return make_error(ErrorCode::kInvalidArgument, "--format is jsonl, ocsf or ecs, not '" + text::printable(name) + "'");
}

Status write_formatted(readback::EventReader& reader, const store::EventFilter& filter, format::Format f) {
  std::string out;
  auto flush = [&] {
    std::fwrite(out.data(), 1, out.size(), stdout);
    out.clear();
  };
  Status s = reader.for_each(filter, [&](const events::Event& e, const store::EventRef&) {
    out += format::event(f, e);
    out += '\n';
    if (out.size() >= (1u << 20)) flush();
  });
  flush();
  return s;
}

}  // namespace

int export_events(int argc, char** argv) {
  std::vector<cli::Option> options = {
      {"data", true, "data folder of the collector (as for serve)"},
      {"format", true,
       "jsonl: one event per line as docs/events.md (the default); ocsf: OCSF 1.8.0 records; ecs: "
       "Elastic Common Schema documents"},
      {"since", true, "only events at or after T: 2026-11-27T10:00:00Z, 2h, 7d or ns"}};
  for (auto& o : evidence_options()) options.push_back(o);
  Tool tool("export",
            "export --data DIR [--format jsonl|ocsf|ecs] [--since T] | (--dsse | --intoto) --build REF [--out DIR]",
            options);
  int exit = 0;
  if (!tool.parse(argc, argv, 2, &exit)) return exit;
  const auto& args = tool.args();
  if (!args.positionals.empty()) return tool.usage_error("unexpected argument '" + args.positionals[0] + "'");
  if (wants_evidence(args)) return export_evidence(tool);
  auto fmt = export_format(args.get("format", "jsonl"));
  if (!fmt) return tool.usage_error(fmt.error().message);
  store::EventFilter filter;
  if (args.has("since")) {
    auto since = view::parse_since(args.get("since"), clock::now_ns());
    if (!since) return tool.usage_error(since.error().message);
    filter.since_ns = *since;
  }

  auto db = tool.open_store(/*read_only=*/true);
  if (!db) return tool.error(db.error());
  readback::EventReader reader(**db, tool.data_dir());
  Status s = *fmt == format::Format::kJson ? write_jsonl(reader, filter) : write_formatted(reader, filter, *fmt);
  std::fflush(stdout);
  if (!s) return tool.error(s.error());
  return 0;
}

}  // namespace bt::collector::cmd
