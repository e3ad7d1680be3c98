#include <cstdio>

#include "agent/cmd/commands.h"
#include "agent/runtime/agent.h"
#include "agent/runtime/config.h"

namespace bt::agent::cmd {

int status(int argc, char** argv) {
  auto in = config::parse_invocation(argc, argv);
  auto dir = in ? config::state_dir(in->config) : Result<std::string>(in.error());
  auto text = dir ? runtime::query_status(*dir) : Result<std::string>(dir.error());
  if (!text) {
    std::fprintf(stderr, "buildtrail-agent status: %s\n", text.error().message.c_str());
    return in ? 1 : 2;
  }
  std::fwrite(text->data(), 1, text->size(), stdout);
  return 0;
}

}  // namespace bt::agent::cmd
