#pragma once

namespace bt::agent::keygen {

// `buildtrail-agent keygen --out DIR`: writes DIR/agent.key (0600) and
// DIR/agent.pub; refuses to overwrite.
int run(int argc, char** argv);

}  // namespace bt::agent::keygen
