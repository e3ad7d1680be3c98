// buildtrail-agent: one binary, one subcommand per mode or tool; each
// subcommand lives in agent/cmd/ and owns its flags.
#include "agent/cmd/commands.h"
#include "common/cli.h"

int main(int argc, char** argv) {
  namespace cmd = bt::agent::cmd;
  const std::vector<bt::cli::Command> commands = {
    {"run", cmd::run, "run a build step with every descendant under capture: run [options] -- CMD..."},
#if BUILDTRAIL_EBPF
    {"daemon", cmd::daemon, "host-wide eBPF sensor: records every build the CI runners on this host start"},
#endif
    {"job", cmd::job, "tell the running daemon a CI job begins or ends here: job begin|end [--id ID] [--status N]"},
    {"keygen", cmd::keygen, "create an Ed25519 signing key pair"},
    {"replay", cmd::replay, "send recorded (JSON lines) or generated events through the transport"},
    {"flush", cmd::flush, "send the batches waiting in the spool, then exit"},
    {"status", cmd::status, "print the running agent's counters"},
  };
  return bt::cli::dispatch("buildtrail-agent", commands, argc, argv);
}
