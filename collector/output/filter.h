// What an output takes (its config's forward, kinds, min_severity, ci and
// repository), as one value the delivery loop asks per record.
#pragma once

#include <array>
#include <string>

#include "collector/config/config.h"
#include "collector/store/store.h"
#include "common/events/event.h"

namespace bt::collector::output {

class Filter {
 public:
  explicit Filter(const config::Output& config);

  bool alerts() const { return alerts_; }
  bool events() const { return events_; }
  int min_severity() const { return min_severity_; }
  // Whether the CI system or repository matter: an alert is then judged
  // by its build record, and an alert with none (an integrity alert) is
  // not taken.
  bool by_build() const { return !ci_.empty() || !repository_.empty(); }

  bool takes(const events::Event& e) const;
  bool takes_build(const events::Build& b) const;

 private:
  bool alerts_ = false, events_ = false;
  std::array<bool, 65536> kinds_{};  // by kind id; all true when no kinds are listed
  int min_severity_ = 0;
  std::string ci_, repository_;
};

}  // namespace bt::collector::output
