// Character classes and small string helpers the redaction rules share
// (common/redact/*.cpp and agent/enrich/rules/redact.cpp). ASCII only, on
// purpose: secrets, flags and variable names are ASCII, and a locale must
// not change what is redacted.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace bt::redact::detail {

inline bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
inline bool is_digit(char c) { return c >= '0' && c <= '9'; }
inline bool is_alnum(char c) { return is_alpha(c) || is_digit(c); }
inline bool is_upper(char c) { return c >= 'A' && c <= 'Z'; }
inline bool is_upper_or_digit(char c) { return is_upper(c) || is_digit(c); }
inline bool is_hex(char c) { return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }
inline bool is_word(char c) { return is_alnum(c) || c == '_'; }
inline bool is_b64url(char c) { return is_word(c) || c == '-'; }
inline bool is_blank(char c) { return c == ' ' || c == '\t'; }
inline bool is_space(char c) { return is_blank(c) || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }
inline bool is_quote(char c) { return c == '"' || c == '\'' || c == '`'; }
inline bool is_name_char(char c) { return is_word(c) || c == '-' || c == '.'; }
inline bool is_scheme_char(char c) { return is_alnum(c) || c == '+' || c == '-' || c == '.'; }
inline char lower(char c) { return is_upper(c) ? static_cast<char>(c - 'A' + 'a') : c; }

inline bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (lower(a[i]) != lower(b[i])) return false;
  return true;
}

inline std::string lower_copy(std::string_view s) {
  std::string l(s);
  for (char& c : l) c = lower(c);
  return l;
}

// Length of the run of `in_class` characters of `s` from `from`.
inline std::size_t run_length(std::string_view s, std::size_t from, bool (*in_class)(char)) {
  std::size_t n = from;
  while (n < s.size() && in_class(s[n])) ++n;
  return n - from;
}

}  // namespace bt::redact::detail
