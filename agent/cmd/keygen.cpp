#include "agent/cmd/commands.h"

#include <cstdio>

#include "common/cli.h"
#include "common/crypto/keys.h"
#include "common/text.h"

namespace bt::agent::cmd {

namespace {
const std::vector<cli::Option> kKeygenOptions = {
    {"out", true, "directory for agent.key (mode 0600) and agent.pub"},
    {"help", false, "show this help"},
};
}  // namespace

int keygen(int argc, char** argv) {
  auto args = cli::parse(argc, argv, 2, kKeygenOptions);
  if (!args) {
    cli::print_error("buildtrail-agent keygen", args.error().message);
    return 2;
  }
  if (args->has("help") || !args->has("out") || !args->positionals.empty()) {
    std::fprintf(args->has("help") ? stdout : stderr, "usage: buildtrail-agent keygen --out DIR\n%s",
                 cli::usage(kKeygenOptions).c_str());
    return args->has("help") ? 0 : 2;
  }
  auto key = crypto::generate_key_pair();
  if (!key) {
    cli::print_error("buildtrail-agent keygen", key.error().message);
    return 1;
  }
  const std::string dir = args->get("out");
  if (Status s = crypto::write_key_pair(dir, *key); !s) {
    cli::print_error("buildtrail-agent keygen", s.error().message);
    return 1;
  }
  const std::string shown = text::printable(dir);
  std::printf("wrote %s/agent.key and %s/agent.pub (key id %s)\n", shown.c_str(), shown.c_str(),
              crypto::to_hex(crypto::key_id(key->public_key)).c_str());
  return 0;
}

}  // namespace bt::agent::cmd
