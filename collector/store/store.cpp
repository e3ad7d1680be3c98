#include "collector/store/store.h"

#include <iterator>
#include <vector>

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

const char* integrity_name(Integrity integrity) {
  switch (integrity) {
    case Integrity::kVerified:
      return "verified";
    case Integrity::kLoss:
      return "loss";
    case Integrity::kGap:
      return "gap";
    case Integrity::kUnmonitored:
      return "unmonitored";
  }
  return "unknown";
}

namespace {

// Labels in reverse order, ASCII lower case: its own inverse ("a.b." and
// ".b.a" map to each other).
std::string reverse_labels(std::string_view name) {
  std::vector<std::string_view> labels;
  for (std::size_t at = 0;;) {
    const std::size_t dot = name.find('.', at);
    labels.push_back(name.substr(at, dot == std::string_view::npos ? std::string_view::npos : dot - at));
    if (dot == std::string_view::npos) break;
    at = dot + 1;
  }
  std::string out;
  out.reserve(name.size());
  for (auto it = labels.rbegin(); it != labels.rend(); ++it) {
    if (it != labels.rbegin()) out.push_back('.');
    for (char c : *it) out.push_back(c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c);
  }
  return out;
}

}  // namespace

std::string dns_value(std::string_view name) { return reverse_labels(name); }
std::string dns_name_of(std::string_view value) { return reverse_labels(value); }

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
