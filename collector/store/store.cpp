#include "collector/store/store.h"

#include <iterator>

namespace bt::collector::store {

const char* finding_kind_name(FindingKind kind) {
  switch (kind) {
    case FindingKind::kGap:
      return "gap";
    case FindingKind::kFork:
      return "fork";
    case FindingKind::kReplay:
      return "replay";
    case FindingKind::kRestart:
      return "restart";
    case FindingKind::kLoss:
      return "loss";
    case FindingKind::kRejected:
      return "rejected";
    case FindingKind::kClock:
      return "clock";
    case FindingKind::kOversized:
      return "oversized";
  }
  return "unknown";
}

int severity_rank(std::string_view severity) {
  for (int i = 0; i < static_cast<int>(std::size(kSeverities)); ++i)
    if (severity == kSeverities[i]) return i;
  return -1;
}

}  // namespace bt::collector::store
