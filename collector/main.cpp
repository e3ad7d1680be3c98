// buildtrail-collector: one binary, one command per file in cmd/; each
// command owns its flags.
#include "collector/cmd/commands.h"
#include "common/cli.h"

int main(int argc, char** argv) {
  namespace cmd = bt::collector::cmd;
  const std::vector<bt::cli::Command> commands = {
      {"serve", cmd::serve, "receive, verify and store batches over HTTP(S)"},
      {"builds", cmd::builds, "list recorded builds"},
      {"query", cmd::query, "show one build's events (timeline or JSON lines)"},
      {"export", cmd::export_events, "export events as JSON lines, or a build's evidence (DSSE, in-toto)"},
      {"key", cmd::key, "print the collector's public key, which signs its in-toto statements"},
      {"alerts", cmd::alerts, "list, show and acknowledge the alerts detection raised"},
      {"baselines", cmd::baselines, "show or reset the per-job baselines detection learned"},
      {"agents", cmd::agents, "list, add and revoke agents; create enrollment tokens"},
      {"tokens", cmd::tokens, "create, list and revoke the read API's bearer tokens"},
      {"users", cmd::users, "add, list, remove the people who may log in to the UI; change a password"},
      {"verify", cmd::verify, "check signatures and the hash chain of batch files"},
      {"rules", cmd::rules, "check Sigma rule files: loaded, or rejected and why"},
  };
  return bt::cli::dispatch("buildtrail-collector", commands, argc, argv);
}
