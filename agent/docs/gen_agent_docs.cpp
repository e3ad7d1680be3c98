// Prints one of the agent's generated reference pages to stdout (used by
// `make docs`): gen-agent-docs config|ci-attribution|secret-rules|upload-tools.
#include <cstdio>
#include <cstring>

#include "agent/docs/reference.h"

int main(int argc, char** argv) {
  for (const auto& page : bt::agent::docs::pages()) {
    if (argc == 2 && page.name == argv[1]) {
      const std::string md = page.render();
      std::fwrite(md.data(), 1, md.size(), stdout);
      return 0;
    }
  }
  std::fprintf(stderr, "usage: gen-agent-docs config|ci-attribution|secret-rules|upload-tools\n");
  return 2;
}
