// Prints docs/agent-config.md to stdout (used by `make docs`).
#include <cstdio>

#include "agent/config/config.h"

int main() {
  const std::string md = bt::agent::config::reference_markdown();
  std::fwrite(md.data(), 1, md.size(), stdout);
  return 0;
}
