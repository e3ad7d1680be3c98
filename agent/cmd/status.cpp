#include <cstdio>

#include "agent/cmd/commands.h"
#include "agent/runtime/agent.h"
#include "agent/runtime/config.h"

namespace bt::agent::cmd {

int status(int argc, char** argv) {
  auto options = config::options();
  options.push_back({"help", false, "show this help"});
  auto args = cli::parse(argc, argv, 2, options);
  auto cfg = args ? config::load(*args) : Result<config::Config>(args.error());
  if (!cfg) {
    std::fprintf(stderr, "buildtrail-agent status: %s\n", cfg.error().message.c_str());
    return 2;
  }
  auto text = runtime::query_status(cfg->state_dir);
  if (!text) {
    std::fprintf(stderr, "buildtrail-agent status: %s\n", text.error().message.c_str());
    return 1;
  }
  std::fwrite(text->data(), 1, text->size(), stdout);
  return 0;
}

}  // namespace bt::agent::cmd
