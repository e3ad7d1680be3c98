// Prints docs/events.md to stdout (used by `make docs`).
#include <cstdio>

#include "common/events/schema_doc.h"

int main() {
  const std::string md = bt::events::events_markdown();
  std::fwrite(md.data(), 1, md.size(), stdout);
  return 0;
}
