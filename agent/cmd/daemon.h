// `buildtrail-agent daemon`: the host-wide eBPF sensor. Loads the kernel
// sensor (agent/ebpf), drops its privileges, registers the CI runners it
// finds, and feeds every build's records through agent/enrich into the
// agent's transport until SIGTERM, when it detaches from the kernel.
#pragma once

namespace bt::agent::daemon {

int main(int argc, char** argv);

}  // namespace bt::agent::daemon
