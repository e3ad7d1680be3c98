// `buildtrail-agent run [options] -- CMD...`: runs one build step with every
// descendant under the wrap capture backend, feeds the enrichment pipeline
// into the agent's transport, and exits with the command's status.
#pragma once

namespace bt::agent::run {

// Exit status: the command's (128 + signal when a signal killed it);
// 125 when buildtrail could not run it under capture (nothing was run),
// 127 when the command does not exist, 2 for usage errors.
int main(int argc, char** argv);

}  // namespace bt::agent::run
