// A Fields made of a map, for tests: kind and our field names -> values.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "collector/detect/sigma/fields.h"

namespace bt::testing {

struct MapFields : collector::detect::sigma::Fields {
  std::string k = "process_exec";
  std::map<std::string, std::vector<std::string>, std::less<>> m;
  std::string_view kind() const override { return k; }
  void values(std::string_view field, std::vector<std::string>& out) const override {
    const auto it = m.find(field);
    if (it != m.end()) out.insert(out.end(), it->second.begin(), it->second.end());
  }
};

}  // namespace bt::testing
