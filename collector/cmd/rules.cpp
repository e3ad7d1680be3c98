// buildtrail-collector rules check DIR [--pipeline FILE] [--quiet] [--strict]
// Loads every Sigma rule file under DIR as the detector would and prints,
// per rule, filter and correlation: loaded, or rejected and why; then a
// summary. Exit 0 unless the folder cannot be read (or, with --strict, any
// document was rejected).
// buildtrail-collector rules suppress|suppressions|unsuppress --data DIR ...
// An operator's known-good patterns (store::Suppression): an alert of the
// rule in the scope is not raised until the suppression expires.
#include <charconv>
#include <cstdio>

#include "collector/cmd/commands.h"
#include "collector/cmd/tool.h"
#include "collector/detect/sigma/load.h"
#include "collector/view/text.h"
#include "collector/view/time.h"
#include "common/clock.h"
#include "common/text.h"

namespace bt::collector::cmd {

namespace {

namespace sigma = detect::sigma;

std::string p(const std::string& s) { return text::printable(s); }

int check(int argc, char** argv) {
  Tool tool("rules", "rules check DIR [--pipeline FILE] [--quiet] [--strict]",
            {{"pipeline", true,
              "pySigma pipeline YAML with the field mapping (default: the built-in buildtrail-pipeline.yml)"},
             {"quiet", false, "print only rejections and the summary"},
             {"strict", false, "exit 1 when any document is rejected"}});
  int exit = 0;
  if (!tool.parse(argc, argv, 2, &exit, false)) return exit;
  const auto& pos = tool.args().positionals;
  if (pos.size() != 2 || pos[0] != "check") return tool.usage_error("expected: rules check DIR");
  sigma::Pipeline pipeline = sigma::builtin_pipeline();
  if (tool.args().has("pipeline")) {
    auto loaded = sigma::load_pipeline(tool.args().get("pipeline"));
    if (!loaded) return tool.error(loaded.error());
    pipeline = std::move(*loaded);
  }
  if (pipeline.transformations.empty()) return tool.error("the built-in pipeline does not load");
  auto set = sigma::load_directory(pos[1], pipeline);
  if (!set) return tool.error(set.error());
  const bool quiet = tool.args().has("quiet");
  if (!quiet) {
    for (const auto& r : set->rules) {
      // The parent's fields come from the detector's process table
      // (event_fields.h): said, so nobody expects them from one event.
      std::string note;
      for (const auto& f : sigma::fields_read(r))
        if (f.rfind("derived.parent_", 0) == 0)
          note = "  (reads the parent: needs the process table)";
        else if (f.find("_peer_exe") != std::string::npos)
          note = "  (reads a pipe's peer: needs the process table)";
        else if (f == "derived.written_by_exe")
          note = "  (reads the program's writer: needs the process table)";
      std::printf("loaded    %s  %s  %s%s\n", p(r.file).c_str(), p(r.id).c_str(), p(r.title).c_str(), note.c_str());
    }
    for (const auto& f : set->filters)
      std::printf("loaded    %s  %s  filter: %s\n", p(f.file).c_str(), p(f.id).c_str(), p(f.title).c_str());
    for (const auto& c : set->correlations)
      std::printf("loaded    %s  %s  correlation %s: %s\n", p(c.file).c_str(), p(c.id).c_str(),
                  std::string(sigma::correlation_type_name(c.type)).c_str(), p(c.title).c_str());
  }
  for (const auto& r : set->rejected)
    std::printf("rejected  %s  %s  %s: %s\n", p(r.file).c_str(), p(r.id).c_str(), p(r.title).c_str(),
                p(r.reason).c_str());
  std::printf("%zu rules, %zu filters, %zu correlations loaded; %zu rejected\n", set->rules.size(), set->filters.size(),
              set->correlations.size(), set->rejected.size());
  return tool.args().has("strict") && !set->rejected.empty() ? kExitError : 0;
}

int suppress(int argc, char** argv) {
  Tool tool("rules suppress",
            "rules suppress --data DIR --rule ID --reason TEXT --expires 30d [--ci C] [--repository R] [--job J] "
            "[--exe PATH]",
            {{"data", true, "data folder of the collector (as for serve)"},
             {"rule", true, "the rule id alerts name (BT-08, a Sigma rule's name or id)"},
             {"reason", true, "why this is known-good (one line; kept and listed)"},
             {"expires", true, "how long it holds: 90m, 12h, 30d (at most 365d)"},
             {"ci", true, "only builds of this CI system (jenkins, github, ...)"},
             {"repository", true, "only builds of this repository (as the builds list shows it)"},
             {"job", true, "only builds of this job"},
             {"exe", true, "only events of this executable (absolute path, exact)"}});
  int exit = 0;
  if (!tool.parse(argc, argv, 3, &exit)) return exit;
  const auto& args = tool.args();
  if (!args.positionals.empty()) return tool.usage_error("unexpected argument '" + p(args.positionals[0]) + "'");
  if (!args.has("rule") || !args.has("reason") || !args.has("expires"))
    return tool.usage_error("--rule, --reason and --expires are required");
  store::Suppression x;
  x.rule_id = args.get("rule");
  x.reason = args.get("reason");
  x.ci = args.get("ci");
  x.repository = args.get("repository");
  x.job = args.get("job");
  x.exe = args.get("exe");
  for (const std::string* v : {&x.rule_id, &x.reason, &x.ci, &x.repository, &x.job, &x.exe})
    if (v->size() > 1000 || v->find_first_of("\n\r") != std::string::npos)
      return tool.usage_error("each value is one line of at most 1000 bytes");
  if (x.rule_id.empty() || x.reason.empty()) return tool.usage_error("--rule and --reason may not be empty");
  auto d = view::parse_duration(args.get("expires"));
  if (!d) return tool.usage_error("--expires: " + d.error().message);
  if (*d > 365ull * 86400 * 1000000000) return tool.usage_error("--expires: at most 365d: a suppression is reviewed");
  x.created_ns = clock::now_ns();
  x.expires_ns = x.created_ns + *d;
  auto db = tool.open_store(/*read_only=*/false);
  if (!db) return tool.error(db.error());
  auto id = (*db)->add_suppression(x);
  if (!id) return tool.error(id.error());
  std::printf("suppression %lld: %s until %s\n", static_cast<long long>(*id), p(x.rule_id).c_str(),
              view::format_rfc3339(x.expires_ns).c_str());
  return 0;
}

int list_suppressions(int argc, char** argv) {
  Tool tool("rules suppressions", "rules suppressions --data DIR",
            {{"data", true, "data folder of the collector (as for serve)"}});
  int exit = 0;
  if (!tool.parse(argc, argv, 3, &exit)) return exit;
  auto db = tool.open_store(/*read_only=*/true);
  if (!db) return tool.error(db.error());
  auto all = (*db)->suppressions();
  if (!all) return tool.error(all.error());
  if (all->empty()) {
    std::printf("no suppressions\n");
    return 0;
  }
  const uint64_t now = clock::now_ns();
  const auto any = [](const std::string& v) { return v.empty() ? std::string("*") : v; };
  view::Table table({"ID", "RULE", "CI", "REPOSITORY", "JOB", "EXE", "EXPIRES", "HITS", "REASON"});
  for (const auto& x : *all)
    table.add({std::to_string(x.id), x.rule_id, any(x.ci), any(x.repository), any(x.job), any(x.exe),
               (x.expires_ns <= now ? "expired " : "") + view::format_rfc3339(x.expires_ns), std::to_string(x.hits),
               x.reason});
  table.print(stdout);
  return 0;
}

int unsuppress(int argc, char** argv) {
  Tool tool("rules unsuppress", "rules unsuppress --data DIR ID",
            {{"data", true, "data folder of the collector (as for serve)"}});
  int exit = 0;
  if (!tool.parse(argc, argv, 3, &exit)) return exit;
  const auto& pos = tool.args().positionals;
  int64_t id = 0;
  if (pos.size() != 1 || std::from_chars(pos[0].data(), pos[0].data() + pos[0].size(), id).ec != std::errc() || id <= 0)
    return tool.usage_error("needs one suppression ID (a positive integer)");
  auto db = tool.open_store(/*read_only=*/false);
  if (!db) return tool.error(db.error());
  if (Status s = (*db)->remove_suppression(id); !s) return tool.error(s.error());
  std::printf("suppression %lld removed\n", static_cast<long long>(id));
  return 0;
}

}  // namespace

int rules(int argc, char** argv) {
  const std::string sub = argc > 2 ? argv[2] : "";
  if (sub == "suppress") return suppress(argc, argv);
  if (sub == "suppressions") return list_suppressions(argc, argv);
  if (sub == "unsuppress") return unsuppress(argc, argv);
  if (sub == "check" || sub == "--help" || sub.empty()) return check(argc, argv);
  std::fprintf(stderr,
               "usage: buildtrail-collector rules check|suppress|suppressions|unsuppress ...\n"
               "  check DIR      load Sigma rules as the detector would: each loaded or rejected, and why\n"
               "  suppress       keep a rule's alerts in a scope from being raised until it expires\n"
               "  suppressions   list them, with how often each held an alert back\n"
               "  unsuppress ID  remove one\n");
  return kExitUsage;
}

}  // namespace bt::collector::cmd
