// buildtrail-agent: one binary, one subcommand per mode or tool; each
// subcommand lives in its own folder and owns its flags.
#include "agent/cmd/daemon.h"
#include "agent/cmd/job.h"
#include "agent/cmd/keygen.h"
#include "agent/capture/replay/replay.h"
#include "agent/cmd/run.h"
#include "common/cli.h"

int main(int argc, char** argv) {
  namespace a = bt::agent;
  const std::vector<bt::cli::Command> commands = {
      {"run", a::run::main, "run a build step with every descendant under capture: run [options] -- CMD..."},
      {"daemon", a::daemon::main, "host-wide eBPF sensor: records every build the CI runners on this host start"},
      {"job", a::job::main, "tell the running daemon a CI job begins or ends here: job begin|end [--id ID] [--status N]"},
      {"keygen", a::keygen::run, "create an Ed25519 signing key pair"},
      {"replay", a::replay::run, "send recorded (JSON lines) or generated events through the pipeline"},
      {"flush", a::replay::flush, "send the batches waiting in the spool, then exit"},
      {"status", a::replay::status, "print the running agent's counters"},
  };
  return bt::cli::dispatch("buildtrail-agent", commands, argc, argv);
}
