// MITRE ATT&CK in the tags of a rule, as Sigma writes them: tactics by name
// (attack.credential_access), techniques and sub-techniques by id
// (attack.t1003, attack.t1003.007). Other tags (groups, software, cars)
// are not ATT&CK tactics or techniques and are left out.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace bt::collector::format::detail {

struct Tactic {
  std::string_view tag;   // credential_access
  std::string_view uid;   // TA0006
  std::string_view name;  // Credential Access
};

struct Technique {
  std::string uid;            // T1003
  std::string sub_technique;  // T1003.007, or empty
};

struct Attack {
  std::vector<Tactic> tactics;
  std::vector<Technique> techniques;
};

// The tactics and techniques named by `tags`, each once, in tag order.
Attack attack_of(const std::vector<std::string>& tags);

}  // namespace bt::collector::format::detail
