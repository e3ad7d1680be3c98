// buildtrail-collector query --data DIR --build ID [--kind K] [--format table|jsonl]
// One build's events read back from the archive (signatures re-verified):
// a timeline for the terminal, or JSON lines.
#include <cstdio>

#include "collector/tools/common.h"
#include "collector/tools/tools.h"
#include "common/events/json.h"

namespace bt::collector::tools {

namespace {

std::string kind_names() {
  std::string out;
  for (const auto& k : events::kKinds) {
    if (!out.empty()) out += ", ";
    out += k.name;
  }
  return out;
}

void header_line(const char* label, const std::string& value) {
  if (!value.empty()) std::printf("%-8s %s\n", label, printable(value).c_str());
}

void print_header(const store::BuildRow& b) {
  const events::Build& m = b.build;
  header_line("build", m.id + " (id " + std::to_string(b.id) + ")");
  header_line("ci", m.ci);
  header_line("job", m.job + (m.number.empty() ? "" : " #" + m.number));
  header_line("url", m.url);
  header_line("repo", m.repository);
  header_line("commit", m.commit);
  header_line("runner", m.runner);
  const uint64_t start = b.start_ns ? b.start_ns : b.first_ns;
  header_line("started", format_rfc3339_ms(start) + (b.start_ns ? "" : " (first event; no build_start seen)"));
  if (b.ended) {
    header_line("ended", format_rfc3339_ms(b.end_ns) + " after " +
                             format_duration(b.end_ns >= start ? b.end_ns - start : 0) + ", exit " +
                             std::to_string(b.exit_code));
  } else {
    header_line("ended", "not yet (last event " + format_rfc3339_ms(b.last_ns) + ")");
  }
  uint64_t total = 0;
  std::string counts;
  for (const auto& [kind, n] : b.counts) {
    total += n;
    counts += (counts.empty() ? "" : ", ") + kind + " " + std::to_string(n);
  }
  header_line("events", std::to_string(total) + (counts.empty() ? "" : ": " + counts));
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
  auto build = (*db)->build(build_id);
  if (!build) return tool.error(build.error());
  if (!*build) return tool.error("no build '" + build_id + "'");
  filter.build = (*build)->id;

  EventReader reader(**db, tool.data_dir());
  Status s = Ok{};
  if (format == "jsonl") {
    events::JsonLineWriter out;
    s = reader.for_each(filter, [&](const events::Event& e) {
      out.append(e);
      if (out.size() >= (1u << 20)) {
        std::fwrite(out.view().data(), 1, out.size(), stdout);
        out.clear();
      }
    });
    std::fwrite(out.view().data(), 1, out.size(), stdout);
  } else {
    print_header(**build);
    std::printf("\n%-12s  %-15s  %-7s  %-7s  %s\n", "TIME", "KIND", "PID", "PPID", "SUMMARY");
    std::string day = format_date((*build)->start_ns ? (*build)->start_ns : (*build)->first_ns);
    std::size_t n = 0;
    s = reader.for_each(filter, [&](const events::Event& e) {
      const std::string d = format_date(e.time_ns);
      if (d != day) {
        std::printf("-- %s\n", d.c_str());
        day = d;
      }
      std::printf("%-12s  %-15s  %-7llu  %-7llu  %s\n", format_clock_ms(e.time_ns).c_str(),
                  std::string(events::kind_name(e.kind())).c_str(),
                  static_cast<unsigned long long>(e.process.pid),
                  static_cast<unsigned long long>(e.process.ppid), summary(e).c_str());
      ++n;
    });
    if (s && n == 0) std::printf("(no events%s)\n", filter.kind ? " of this kind" : "");
  }
  std::fflush(stdout);
  if (!s) return tool.error(s.error());
  return 0;
}

}  // namespace bt::collector::tools
