#include "collector/api/cursor.h"

#include <sodium.h>

#include <charconv>

namespace bt::collector::api {

std::string make_cursor(std::initializer_list<int64_t> parts) {
  std::string out;
  for (int64_t p : parts) out += (out.empty() ? "" : ".") + std::to_string(p);
  return out;
}

Result<std::vector<int64_t>> parse_cursor(std::string_view text, std::size_t parts) {
  std::vector<int64_t> out;
  for (std::size_t at = 0; at <= text.size();) {
    const std::size_t dot = std::min(text.find('.', at), text.size());
    const std::string_view part = text.substr(at, dot - at);
    int64_t v = 0;
    const auto [p, ec] = std::from_chars(part.data(), part.data() + part.size(), v);
    if (part.empty() || ec != std::errc() || p != part.data() + part.size() || v < 0) break;
    out.push_back(v);
    if (dot == text.size()) {
      if (out.size() == parts) return out;
      break;
    }
    at = dot + 1;
  }
  return make_error(ErrorCode::kInvalidArgument, "after is not a cursor of this endpoint (give a page's next)");
}

std::string make_text_cursor(std::string_view key) {
  std::string hex(key.size() * 2 + 1, '\0');
  sodium_bin2hex(hex.data(), hex.size(), reinterpret_cast<const unsigned char*>(key.data()), key.size());
  hex.pop_back();
  return hex;
}

Result<std::string> parse_text_cursor(std::string_view text) {
  std::string key(text.size() / 2, '\0');
  std::size_t n = 0;
  const char* end = nullptr;
  if (text.empty() || text.size() % 2 != 0 ||
      sodium_hex2bin(reinterpret_cast<unsigned char*>(key.data()), key.size(), text.data(), text.size(), nullptr, &n,
                     &end) != 0 ||
      n != key.size() || end != text.data() + text.size())
    return make_error(ErrorCode::kInvalidArgument, "after is not a cursor of this endpoint (give a page's next)");
  return key;
}

}  // namespace bt::collector::api
