#include <cstdio>

#include "agent/cmd/commands.h"
#include "agent/runtime/agent.h"
#include "agent/runtime/config.h"
#include "common/cli.h"
#include "common/text.h"

namespace bt::agent::cmd {

int status(int argc, char** argv) {
  auto in = config::parse_invocation(argc, argv);
  auto dir = in ? config::state_dir(in->config) : Result<std::string>(in.error());
  auto text = dir ? runtime::query_status(*dir) : Result<std::string>(dir.error());
  if (!text) {
    cli::print_error("buildtrail-agent status", text.error().message);
    return in ? 1 : 2;
  }
  // JSON from the running agent; its collector_error quotes the collector's
  // reply, which JSON may carry with DEL, C1 controls, U+2028/U+2029 and
  // bidi marks raw. Escaped for the terminal, still the same JSON.
  const std::string shown = bt::text::json_printable(*text);
  std::fwrite(shown.data(), 1, shown.size(), stdout);
  return 0;
}

}  // namespace bt::agent::cmd
