// The CI rule pack (collector/detect/pack/*.yml, Sigma), built into the
// collector so `serve` loads it with nothing to install.
#pragma once

#include <string>
#include <vector>

namespace bt::collector::detect {

struct PackFile {
  const char* name;
  const char* text;
};
const std::vector<PackFile>& pack_files();

}  // namespace bt::collector::detect
