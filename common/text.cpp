// Terminal-safe text; see text.h.
#include "common/text.h"

#include <cstdio>
#include <cstring>

namespace bt::text {

namespace {

// Length of the UTF-8 sequence at s[i] and its code point, or 0 if the
// bytes there are not valid UTF-8 (RFC 3629: no overlong forms, no
// surrogates, nothing above U+10FFFF).
std::size_t decode(std::string_view s, std::size_t i, uint32_t* cp) {
  const auto c = static_cast<unsigned char>(s[i]);
  std::size_t len;
  uint32_t v;
  if (c < 0x80) {
    *cp = c;
    return 1;
  } else if ((c & 0xe0) == 0xc0) {
    len = 2;
    v = c & 0x1f;
  } else if ((c & 0xf0) == 0xe0) {
    len = 3;
    v = c & 0x0f;
  } else if ((c & 0xf8) == 0xf0) {
    len = 4;
    v = c & 0x07;
  } else {
    return 0;
  }
  if (i + len > s.size()) return 0;
  for (std::size_t k = 1; k < len; ++k) {
    const auto cc = static_cast<unsigned char>(s[i + k]);
    if ((cc & 0xc0) != 0x80) return 0;
    v = (v << 6) | (cc & 0x3f);
  }
  static constexpr uint32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
  if (v < kMin[len] || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff)) return 0;
  *cp = v;
  return len;
}

bool is_continuation(char c) { return (static_cast<unsigned char>(c) & 0xc0) == 0x80; }

}  // namespace

bool unsafe(uint32_t cp) {
  return cp < 0x20 || cp == 0x7f || (cp >= 0x80 && cp <= 0x9f) || cp == 0x061c || cp == 0x200e || cp == 0x200f ||
         cp == 0x2028 || cp == 0x2029 || (cp >= 0x202a && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069);
}

std::string printable(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  char esc[16];
  for (std::size_t i = 0; i < text.size();) {
    uint32_t cp = 0;
    const std::size_t len = decode(text, i, &cp);
    if (len == 0) {
      std::snprintf(esc, sizeof esc, "\\x%02x", static_cast<unsigned char>(text[i]));
      out += esc;
      ++i;
      continue;
    }
    if (unsafe(cp)) {
      if (cp < 0x80)
        std::snprintf(esc, sizeof esc, "\\x%02x", static_cast<unsigned>(cp));
      else
        std::snprintf(esc, sizeof esc, "\\u{%04x}", static_cast<unsigned>(cp));
      out += esc;
    } else {
      out.append(text.substr(i, len));
    }
    i += len;
  }
  return out;
}

namespace {
// Whether all 8 bytes of `w` are printable ASCII (0x20..0x7e): no high bit,
// no byte below 0x20, none equal to 0x7f ("Bit Twiddling Hacks": hasless,
// haszero). Text is mostly that, and 8 at a time is what keeps checking
// every forwarded line cheap.
bool printable_ascii8(uint64_t w) {
  constexpr uint64_t kOnes = 0x0101010101010101ull, kHigh = 0x8080808080808080ull;
  const uint64_t high = w & kHigh;
  const uint64_t below_space = (w - kOnes * 0x20) & ~w & kHigh;
  const uint64_t del = w ^ (kOnes * 0x7f);
  const uint64_t is_del = (del - kOnes) & ~del & kHigh;
  return (high | below_space | is_del) == 0;
}

// The first code point at or after `from` that json_printable() escapes:
// its offset (json.size() when none), its length (0: a byte that is not
// UTF-8) and its value.
std::size_t next_unprintable(std::string_view json, std::size_t from, std::size_t* len, uint32_t* cp) {
  for (std::size_t i = from; i < json.size();) {
    if (uint64_t w; i + sizeof w <= json.size()) {
      std::memcpy(&w, json.data() + i, sizeof w);
      if (printable_ascii8(w)) {
        i += sizeof w;
        continue;
      }
    }
    const auto c = static_cast<unsigned char>(json[i]);
    // The common case, printable ASCII and the line ends, stays in the run.
    if ((c >= 0x20 && c < 0x7f) || c == '\n') {
      ++i;
      continue;
    }
    *len = decode(json, i, cp);
    if (*len != 0 && !unsafe(*cp)) {
      i += *len;
      continue;
    }
    return i;
  }
  return json.size();
}
}  // namespace

std::string json_printable(std::string_view json) {
  std::string out;  // reserved at the first escape: most text has none
  char esc[8];
  std::size_t plain = 0;  // start of the run copied as it is
  std::size_t len = 0;
  uint32_t cp = 0;
  for (std::size_t i; (i = next_unprintable(json, plain, &len, &cp)) < json.size();) {
    if (out.empty()) out.reserve(json.size() + 16);
    out.append(json.substr(plain, i - plain));
    // Every unsafe code point is in the Basic Multilingual Plane: one
    // escape each. Upper-case hex, as the event encoder writes controls.
    std::snprintf(esc, sizeof esc, "\\u%04X", len == 0 ? 0xfffdu : static_cast<unsigned>(cp));
    out += esc;
    plain = i + (len == 0 ? 1 : len);
  }
  if (plain == 0) return std::string(json);
  out.append(json.substr(plain));
  return out;
}

bool json_is_printable(std::string_view json) {
  std::size_t len = 0;
  uint32_t cp = 0;
  return next_unprintable(json, 0, &len, &cp) == json.size();
}

std::size_t code_points(std::string_view text) {
  std::size_t n = 0;
  for (char c : text)
    if (!is_continuation(c)) ++n;
  return n;
}

std::string truncate(std::string_view text, std::size_t max_chars) {
  if (code_points(text) <= max_chars) return std::string(text);
  const std::size_t keep = max_chars > 3 ? max_chars - 3 : 0;
  std::size_t n = 0, i = 0;
  for (; i < text.size(); ++i) {
    if (!is_continuation(text[i])) {
      if (n == keep) break;
      ++n;
    }
  }
  return std::string(text.substr(0, i)) + "...";
}

std::string_view prefix_bytes(std::string_view text, std::size_t max_bytes) {
  if (text.size() <= max_bytes) return text;
  std::size_t end = max_bytes;
  while (end > 0 && is_continuation(text[end])) --end;
  return text.substr(0, end);
}

}  // namespace bt::text
