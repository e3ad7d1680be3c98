// What the rule files users write (secret rules, file-watch rules) share:
// one rule per line, '#' comments and blank lines skipped, errors naming
// the line, rule names of letters, digits, '-', '_' and '.'.
#pragma once

#include <algorithm>
#include <cctype>
#include <cstddef>
#include <string>
#include <string_view>

#include "common/result.h"

namespace bt::agent::rule_file {

inline std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

inline bool valid_name(std::string_view name) {
  return !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.';
  });
}

inline Error line_error(std::size_t line, const std::string& what) {
  return make_error(ErrorCode::kInvalidArgument, "line " + std::to_string(line) + ": " + what);
}

// Calls `on(number, line)` (1-based number, trimmed line) for every line
// that is neither blank nor a comment; the first error `on` returns ends it.
template <class OnLine>
Status for_each_line(std::string_view text, OnLine on) {
  for (std::size_t number = 1; !text.empty(); ++number) {
    const auto eol = std::min(text.size(), text.find('\n'));
    const std::string_view line = trim(text.substr(0, eol));
    text.remove_prefix(std::min(text.size(), eol + 1));
    if (line.empty() || line.starts_with('#')) continue;
    if (Status s = on(number, line); !s) return s;
  }
  return Ok{};
}

}  // namespace bt::agent::rule_file
