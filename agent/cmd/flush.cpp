#include <cstdio>

#include "agent/cmd/commands.h"
#include "agent/runtime/agent.h"
#include "agent/runtime/config.h"

namespace bt::agent::cmd {

int flush(int argc, char** argv) {
  auto options = config::options();
  options.push_back({"help", false, "show this help"});
  auto args = cli::parse(argc, argv, 2, options);
  auto cfg = args ? config::load(*args) : Result<config::Config>(args.error());
  auto fail = [](const std::string& message, int status) {
    std::fprintf(stderr, "buildtrail-agent flush: %s\n", message.c_str());
    return status;
  };
  if (!cfg) return fail(cfg.error().message, 2);
  if (cfg->collector.empty()) return fail("--collector is required", 2);
  auto agent = runtime::Agent::create(*cfg, "flush");
  if (!agent) return fail(agent.error().message, 1);
  return (*agent)->run({});
}

}  // namespace bt::agent::cmd
