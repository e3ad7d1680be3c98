// The subcommands of buildtrail-agent, one file each in agent/cmd/: each
// parses its own flags and wires the layers below (runtime, route, enrich,
// capture) together; no capture, routing or enrichment logic lives here.
// Each returns the process's exit status.
#pragma once

namespace bt::agent::cmd {

// `run [options] -- CMD...`: one build step with every descendant under the
// wrap backend. Exit status: the command's (128 + signal when a signal
// killed it); 125 when it could not be run under capture (nothing was run),
// 127 when it does not exist, 2 for usage errors.
int run(int argc, char** argv);
// `daemon`: the host-wide eBPF sensor; records every build the CI runners
// on this host start, until SIGTERM.
int daemon(int argc, char** argv);
// `job begin|end [--id ID] [--status N]`: what CI hooks run to tell the
// daemon where a job starts and ends. Attribution does not depend on it.
int job(int argc, char** argv);
// `keygen --out DIR`: writes DIR/agent.key (0600) and DIR/agent.pub;
// refuses to overwrite.
int keygen(int argc, char** argv);
// `replay (--events FILE|- | --synthetic N)`: recorded or generated events
// through the transport.
int replay(int argc, char** argv);
// `flush`: sends the batches waiting in the spool, then exits.
int flush(int argc, char** argv);
// `status`: prints the running agent's counters.
int status(int argc, char** argv);

}  // namespace bt::agent::cmd
