#include <cstdio>

#include "agent/cmd/commands.h"
#include "agent/runtime/agent.h"
#include "agent/runtime/config.h"

namespace bt::agent::cmd {

int flush(int argc, char** argv) {
  auto fail = [](const std::string& message, int status) {
    cli::print_error("buildtrail-agent flush", message);
    return status;
  };
  auto in = config::parse_invocation(argc, argv);
  if (!in) return fail(in.error().message, 2);
  if (in->config.collector.empty()) return fail("--collector is required", 2);
  auto agent = runtime::Agent::create(in->config, "flush");
  if (!agent) return fail(agent.error().message, 1);
  return (*agent)->run({});
}

}  // namespace bt::agent::cmd
