// buildtrail-collector rules check DIR [--pipeline FILE] [--quiet] [--strict]
// Loads every Sigma rule file under DIR as the detector would and prints,
// per rule, filter and correlation: loaded, or rejected and why; then a
// summary. Exit 0 unless the folder cannot be read (or, with --strict, any
// document was rejected).
#include <cstdio>

#include "collector/cmd/commands.h"
#include "collector/cmd/tool.h"
#include "collector/detect/sigma/load.h"
#include "common/text.h"

namespace bt::collector::cmd {

namespace {

namespace sigma = detect::sigma;

std::string p(const std::string& s) { return text::printable(s); }

}  // namespace

int rules(int argc, char** argv) {
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

}  // namespace bt::collector::cmd
