// What a terminal must never receive raw from a buildtrail command: checked
// here byte by byte, independently of common/text.cpp (the code under
// test), so a gap in one is not hidden by the same gap in the other.
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>

namespace bt::testing {

// Hostile text as recorded strings carry it: a screen clear, a carriage
// return and newline that fake a line, DEL, the line and paragraph
// separators, a bidi override, a C1 CSI and a byte that is not UTF-8.
inline constexpr std::string_view kHostile =
    "x\x1b[2J\rFAKE\nverified 9 batches: 9 ok\x7f\xe2\x80\xa8\xe2\x80\xa9\xe2\x80\xae"
    "evil\xc2\x9b"
    "1m\xff";
// The same without the byte that is not UTF-8, for fields that must be
// valid UTF-8 (JSON strings).
inline constexpr std::string_view kHostileUtf8 =
    "x\x1b[2J\rFAKE\nverified 9 batches: 9 ok\x7f\xe2\x80\xa8\xe2\x80\xa9\xe2\x80\xae"
    "evil\xc2\x9b"
    "1m";

// Empty when `out` is safe for a terminal: valid UTF-8, no control
// character but the newline, no DEL, no C1 control, no U+2028/U+2029, no
// bidi formatting mark. Otherwise what was found first, and where.
inline std::string terminal_unsafe(std::string_view out) {
  auto at = [&](std::size_t i, const char* what) {
    char buf[96];
    std::snprintf(buf, sizeof buf, "%s at byte %zu", what, i);
    return std::string(buf);
  };
  for (std::size_t i = 0; i < out.size();) {
    const auto c = static_cast<unsigned char>(out[i]);
    if (c < 0x80) {
      if ((c < 0x20 && c != '\n') || c == 0x7f) return at(i, "a control character");
      ++i;
      continue;
    }
    const std::size_t len = c >= 0xf0 && c < 0xf5 ? 4 : c >= 0xe0 ? 3 : c >= 0xc2 && c < 0xe0 ? 2 : 0;
    if (len == 0 || (len == 3 && c >= 0xf0) || i + len > out.size()) return at(i, "a byte that is not UTF-8");
    uint32_t cp = c & (len == 2 ? 0x1f : len == 3 ? 0x0f : 0x07);
    for (std::size_t k = 1; k < len; ++k) {
      const auto cc = static_cast<unsigned char>(out[i + k]);
      if ((cc & 0xc0) != 0x80) return at(i, "a byte that is not UTF-8");
      cp = (cp << 6) | (cc & 0x3f);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) || (cp >= 0xd800 && cp <= 0xdfff))
      return at(i, "a byte that is not UTF-8");
    if (cp <= 0x9f) return at(i, "a C1 control");
    if (cp == 0x2028 || cp == 0x2029) return at(i, "a line or paragraph separator");
    if (cp == 0x061c || cp == 0x200e || cp == 0x200f || (cp >= 0x202a && cp <= 0x202e) ||
        (cp >= 0x2066 && cp <= 0x2069))
      return at(i, "a bidi formatting mark");
    i += len;
  }
  return {};
}

}  // namespace bt::testing
