// buildtrail-collector key --data DIR
// Prints the collector's public key (PEM), which verifies what the
// collector signs (`export --intoto`); makes the key pair
// (DATA/collector.key, DATA/collector.pub) when there is none.
#include <cstdio>

#include "collector/cmd/commands.h"
#include "collector/cmd/tool.h"
#include "collector/evidence/collector_key.h"

namespace bt::collector::cmd {

int key(int argc, char** argv) {
  Tool tool("key", "key --data DIR", {{"data", true, "data folder of the collector (as for serve)"}});
  int exit = 0;
  if (!tool.parse(argc, argv, 2, &exit)) return exit;
  if (!tool.args().positionals.empty())
    return tool.usage_error("unexpected argument '" + tool.args().positionals[0] + "'");
  auto db = tool.open_store(/*read_only=*/true);  // a data folder, not any folder
  if (!db) return tool.error(db.error());
  auto pair = evidence::load_or_create_collector_key(tool.data_dir());
  if (!pair) return tool.error(pair.error());
  std::fputs(crypto::public_key_pem(pair->public_key).c_str(), stdout);
  return 0;
}

}  // namespace bt::collector::cmd
