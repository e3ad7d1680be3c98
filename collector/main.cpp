// buildtrail-collector: one binary, one subcommand per tool; each subcommand
// lives in its own folder and owns its flags.
#include "collector/serve/serve.h"
#include "collector/tools/tools.h"
#include "collector/verify/verify.h"
#include "common/cli.h"

int main(int argc, char** argv) {
  namespace c = bt::collector;
  const std::vector<bt::cli::Command> commands = {
      {"serve", c::serve::run, "receive, verify and store batches over HTTP(S)"},
      {"builds", c::tools::builds, "list recorded builds"},
      {"query", c::tools::query, "show one build's events (timeline or JSON lines)"},
      {"export", c::tools::exporter, "export events as JSON lines"},
      {"agents", c::tools::agents, "list, add and revoke agents; create enrollment tokens"},
      {"verify", c::verify::run, "check signatures and the hash chain of batch files"},
  };
  return bt::cli::dispatch("buildtrail-collector", commands, argc, argv);
}
