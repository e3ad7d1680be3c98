// Word lists written as one space-separated string ("sh bash dash"): the
// compact form the agent's recogniser tables use.
#pragma once

#include <string_view>

namespace bt {

// Whether `word` is one of the space-separated words of `list`.
inline bool in_word_list(std::string_view list, std::string_view word) {
  while (!list.empty()) {
    const std::size_t sp = list.find(' ');
    if (list.substr(0, sp) == word) return true;
    if (sp == std::string_view::npos) break;
    list.remove_prefix(sp + 1);
  }
  return false;
}

}  // namespace bt
