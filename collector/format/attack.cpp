// ATT&CK tags; see attack.h.
#include "collector/format/attack.h"

#include <algorithm>
#include <array>

namespace bt::collector::format::detail {

namespace {

// The Enterprise matrix's tactics (attack.mitre.org/tactics/enterprise/),
// under the names Sigma's tags give them.
constexpr std::array<Tactic, 14> kTactics = {{
    {"reconnaissance", "TA0043", "Reconnaissance"},
    {"resource_development", "TA0042", "Resource Development"},
    {"initial_access", "TA0001", "Initial Access"},
    {"execution", "TA0002", "Execution"},
    {"persistence", "TA0003", "Persistence"},
    {"privilege_escalation", "TA0004", "Privilege Escalation"},
    {"defense_evasion", "TA0005", "Defense Evasion"},
    {"credential_access", "TA0006", "Credential Access"},
    {"discovery", "TA0007", "Discovery"},
    {"lateral_movement", "TA0008", "Lateral Movement"},
    {"collection", "TA0009", "Collection"},
    {"command_and_control", "TA0011", "Command and Control"},
    {"exfiltration", "TA0010", "Exfiltration"},
    {"impact", "TA0040", "Impact"},
}};

bool digits(std::string_view s, std::size_t n) {
  return s.size() == n && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// "t1003" or "t1003.007" (case as Sigma writes it, lower) -> ids in
// ATT&CK's spelling; false for anything else.
bool technique_of(std::string_view rest, Technique* out) {
  if (rest.empty() || (rest[0] != 't' && rest[0] != 'T')) return false;
  rest.remove_prefix(1);
  const auto dot = rest.find('.');
  const std::string_view id = rest.substr(0, dot);
  if (!digits(id, 4)) return false;
  out->uid = "T" + std::string(id);
  out->sub_technique.clear();
  if (dot == std::string_view::npos) return true;
  const std::string_view sub = rest.substr(dot + 1);
  if (!digits(sub, 3)) return false;
  out->sub_technique = out->uid + "." + std::string(sub);
  return true;
}

}  // namespace

Attack attack_of(const std::vector<std::string>& tags) {
  Attack out;
  for (const std::string& tag : tags) {
    constexpr std::string_view kPrefix = "attack.";
    if (tag.compare(0, kPrefix.size(), kPrefix) != 0) continue;
    const std::string_view rest = std::string_view(tag).substr(kPrefix.size());
    Technique t;
    if (technique_of(rest, &t)) {
      const bool seen = std::any_of(out.techniques.begin(), out.techniques.end(), [&](const Technique& o) {
        return o.uid == t.uid && o.sub_technique == t.sub_technique;
      });
      if (!seen) out.techniques.push_back(std::move(t));
      continue;
    }
    for (const Tactic& tactic : kTactics) {
      const bool seen =
          std::any_of(out.tactics.begin(), out.tactics.end(), [&](const Tactic& o) { return o.uid == tactic.uid; });
      if (rest == tactic.tag && !seen) out.tactics.push_back(tactic);
    }
  }
  return out;
}

}  // namespace bt::collector::format::detail
