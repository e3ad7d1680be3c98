#include "collector/output/filter.h"

#include <algorithm>

namespace bt::collector::output {

Filter::Filter(const config::Output& config)
    : alerts_(config.forward != "events"),
      events_(config.forward != "alerts"),
      min_severity_(std::max(0, store::severity_rank(config.min_severity))),
      ci_(config.ci),
      repository_(config.repository) {
  for (const auto& info : events::kKinds) kinds_[static_cast<uint16_t>(info.kind)] = config.kinds.empty();
  for (const auto& name : config.kinds) {
    events::Kind k;
    if (events::kind_from_name(name, &k)) kinds_[static_cast<uint16_t>(k)] = true;
  }
}

bool Filter::takes_build(const events::Build& b) const {
  return (ci_.empty() || b.ci == ci_) && (repository_.empty() || b.repository == repository_);
}

bool Filter::takes(const events::Event& e) const {
  return kinds_[static_cast<uint16_t>(e.kind())] && takes_build(e.build);
}

}  // namespace bt::collector::output
