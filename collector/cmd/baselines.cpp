// buildtrail-collector baselines show|reset --data DIR ...
// The per-job baselines the detector learned (docs/detection.md "Per-job
// baselines"): show them with their items, or make one job learn again.
#include <cstdio>

#include "collector/cmd/commands.h"
#include "collector/cmd/tool.h"
#include "collector/view/text.h"
#include "collector/view/time.h"

namespace bt::collector::cmd {

namespace {

const std::vector<cli::Option> kKeyOptions = {
    {"data", true, "data folder of the collector (as for serve)"},
    {"ci", true, "CI system (github, gitlab, jenkins, ...)"},
    {"repository", true, "repository as the builds name it"},
    {"job", true, "job as the builds name it"},
};

bool has_key(const cli::Args& args) { return args.has("ci") || args.has("repository") || args.has("job"); }

store::BaselineKey key_of(const cli::Args& args) { return {args.get("ci"), args.get("repository"), args.get("job")}; }

int show(int argc, char** argv) {
  Tool tool("baselines show", "baselines show --data DIR [--ci C --repository R --job J]", kKeyOptions);
  int exit = 0;
  if (!tool.parse(argc, argv, 3, &exit)) return exit;
  const auto& args = tool.args();
  if (!args.positionals.empty()) return tool.usage_error("unexpected argument '" + args.positionals[0] + "'");
  std::optional<store::BaselineKey> key;
  if (has_key(args)) {
    if (!args.has("ci") || !args.has("job"))
      return tool.usage_error("--ci and --job name a baseline (with --repository)");
    key = key_of(args);
  }
  auto db = tool.open_store(/*read_only=*/true);
  if (!db) return tool.error(db.error());
  auto baselines = (*db)->baselines(key);
  if (!baselines) return tool.error(baselines.error());
  if (baselines->empty()) {
    std::printf("no baselines\n");
    return 0;
  }
  if (!key) {
    view::Table table({"CI", "REPOSITORY", "JOB", "BUILDS", "ITEMS", "LAST LEARNED"});
    for (const auto& b : *baselines)
      table.add({b.key.ci, b.key.repository, b.key.job, std::to_string(b.builds), std::to_string(b.items.size()),
                 b.last_ns ? view::format_rfc3339(b.last_ns) : "-"});
    table.print(stdout);
    return 0;
  }
  const auto& b = baselines->front();
  std::printf("%s %s %s: %llu clean builds learned, %zu items\n", text::printable(b.key.ci).c_str(),
              text::printable(b.key.repository).c_str(), text::printable(b.key.job).c_str(),
              static_cast<unsigned long long>(b.builds), b.items.size());
  view::Table table({"KIND", "ITEM", "BUILDS", "FIRST SEEN", "LAST SEEN"});
  for (const auto& i : b.items)
    table.add(
        {i.kind, i.value, std::to_string(i.builds), view::format_rfc3339(i.first_ns), view::format_rfc3339(i.last_ns)});
  table.print(stdout);
  return 0;
}

int reset(int argc, char** argv) {
  Tool tool("baselines reset", "baselines reset --data DIR --ci C --repository R --job J", kKeyOptions);
  int exit = 0;
  if (!tool.parse(argc, argv, 3, &exit)) return exit;
  const auto& args = tool.args();
  if (!args.positionals.empty()) return tool.usage_error("unexpected argument '" + args.positionals[0] + "'");
  if (!args.has("ci") || !args.has("job"))
    return tool.usage_error("--ci and --job name the baseline to reset (with --repository)");
  const store::BaselineKey key = key_of(args);
  auto db = tool.open_store(/*read_only=*/false);
  if (!db) return tool.error(db.error());
  auto had = (*db)->reset_baseline(key);
  if (!had) return tool.error(had.error());
  const std::string name =
      text::printable(key.ci) + " " + text::printable(key.repository) + " " + text::printable(key.job);
  if (!*had) return tool.error("no baseline for " + name);
  std::printf("baseline of %s reset: it learns again from its next clean builds\n", name.c_str());
  return 0;
}

}  // namespace

int baselines(int argc, char** argv) {
  return dispatch("baselines",
                  "usage: buildtrail-collector baselines show|reset --data DIR ...\n"
                  "  show   the per-job baselines, or one job's items (--ci C --repository R --job J)\n"
                  "  reset  forget what one job's baseline learned (--ci C --repository R --job J)\n",
                  {{"show", show}, {"reset", reset}}, argc, argv);
}

}  // namespace bt::collector::cmd
