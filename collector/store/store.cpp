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

// ---- API tokens ----

const char* api_role_name(ApiRole role) { return role == ApiRole::kAdmin ? "admin" : "viewer"; }

std::optional<ApiRole> parse_api_role(std::string_view name) {
  if (name == "viewer") return ApiRole::kViewer;
  if (name == "admin") return ApiRole::kAdmin;
  return std::nullopt;
}

}  // namespace bt::collector::store
