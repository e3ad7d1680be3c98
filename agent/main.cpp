// buildtrail-agent: one binary, one subcommand per mode or tool; each
// subcommand lives in its own folder and owns its flags.
#include "agent/keygen/keygen.h"
#include "common/cli.h"

int main(int argc, char** argv) {
  const std::vector<bt::cli::Command> commands = {
      {"keygen", bt::agent::keygen::run, "create an Ed25519 signing key pair"},
  };
  return bt::cli::dispatch("buildtrail-agent", commands, argc, argv);
}
