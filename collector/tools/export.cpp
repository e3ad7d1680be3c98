#include "collector/tools/tools.h"

namespace bt::collector::tools {
int exporter(int, char**) { return 1; }
}  // namespace bt::collector::tools
