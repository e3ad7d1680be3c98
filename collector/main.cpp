// buildtrail-collector: one binary, one subcommand per tool; each subcommand
// lives in its own folder and owns its flags.
#include "collector/verify/verify.h"
#include "common/cli.h"

int main(int argc, char** argv) {
  const std::vector<bt::cli::Command> commands = {
      {"verify", bt::collector::verify::run, "check signatures and the hash chain of batch files"},
  };
  return bt::cli::dispatch("buildtrail-collector", commands, argc, argv);
}
