// `gen-docs write|check ROOT`: splices the generated parts into every
// reference page under the source tree ROOT (agent/docs/reference.h has
// the list). write rewrites the stale ones (used by `make docs`); check
// names them and exits 1.
#include <cstdio>
#include <cstring>
#include <string>

#include "agent/docs/reference.h"
#include "common/fs.h"

int main(int argc, char** argv) {
  if (argc != 3 || (std::strcmp(argv[1], "write") != 0 && std::strcmp(argv[1], "check") != 0)) {
    std::fprintf(stderr, "usage: gen-docs write|check SOURCE-ROOT\n");
    return 2;
  }
  const bool write = std::strcmp(argv[1], "write") == 0;
  const std::string root = argv[2];
  int stale = 0;
  for (const auto& page : bt::agent::docs::pages()) {
    auto current = bt::fs::read_file(root + "/" + page.file, 1 << 22);
    auto fresh = bt::markdown::render(root, page);
    if (!current || !fresh) {
      std::fprintf(stderr, "gen-docs: %s\n", (!current ? current : fresh).error().message.c_str());
      return 1;
    }
    if (*current == *fresh) continue;
    ++stale;
    if (!write) {
      std::fprintf(stderr, "gen-docs: %s is stale\n", page.file.c_str());
      continue;
    }
    if (bt::Status s = bt::fs::write_file_atomic(root + "/" + page.file, *fresh, 0644); !s) {
      std::fprintf(stderr, "gen-docs: %s\n", s.error().message.c_str());
      return 1;
    }
    std::printf("gen-docs: rewrote %s\n", page.file.c_str());
  }
  return write || stale == 0 ? 0 : 1;
}
