// Times on the command line; see time.h.
#include "collector/view/time.h"

#include <time.h>

#include <charconv>
#include <cstdio>
#include <ctime>

#include "collector/view/text.h"

namespace bt::collector::view {

namespace {

constexpr uint64_t kSecond = 1000000000ull;
constexpr uint64_t kMinute = 60 * kSecond;
constexpr uint64_t kHour = 60 * kMinute;
constexpr uint64_t kDay = 24 * kHour;

// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's
// days_from_civil), so parsing never depends on the local time zone.
int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

bool leap(int64_t y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

unsigned days_in_month(int64_t y, unsigned m) {
  static constexpr unsigned kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && leap(y) ? 29 : kDays[m - 1];
}

// Reads exactly `n` digits at `pos`.
bool digits(std::string_view s, std::size_t pos, std::size_t n, unsigned* out) {
  if (pos + n > s.size()) return false;
  unsigned v = 0;
  for (std::size_t i = pos; i < pos + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    v = v * 10 + static_cast<unsigned>(s[i] - '0');
  }
  *out = v;
  return true;
}

Error bad_time(std::string_view text, const std::string& why) {
  return make_error(ErrorCode::kInvalidArgument, "invalid time '" + printable(text) + "': " + why);
}

struct tm utc(uint64_t ns) {
  const time_t secs = static_cast<time_t>(ns / kSecond);
  struct tm t {};
  gmtime_r(&secs, &t);
  return t;
}

std::string strf(const char* fmt, const struct tm& t) {
  char buf[64];
  const std::size_t n = std::strftime(buf, sizeof buf, fmt, &t);
  return std::string(buf, n);
}

}  // namespace

Result<uint64_t> parse_duration(std::string_view text) {
  auto bad = [&](const std::string& why) {
    return make_error(ErrorCode::kInvalidArgument, "invalid duration '" + printable(text) + "': " + why);
  };
  if (text.empty()) return bad("empty");
  uint64_t total = 0;
  std::size_t i = 0;
  while (i < text.size()) {
    uint64_t n = 0;
    const auto [p, ec] = std::from_chars(text.data() + i, text.data() + text.size(), n);
    if (ec == std::errc::result_out_of_range) return bad("too large");
    if (ec != std::errc() || p == text.data() + text.size()) return bad("use a number and a unit: 90s, 30m, 2h, 7d");
    i = static_cast<std::size_t>(p - text.data());
    uint64_t unit;
    switch (text[i]) {
      case 's':
        unit = kSecond;
        break;
      case 'm':
        unit = kMinute;
        break;
      case 'h':
        unit = kHour;
        break;
      case 'd':
        unit = kDay;
        break;
      default:
        return bad(std::string("unknown unit '") + printable(text.substr(i, 1)) + "' (s, m, h, d)");
    }
    ++i;
    if (n > (UINT64_MAX - total) / unit) return bad("too large");
    total += n * unit;
  }
  if (total == 0) return bad("must be more than zero");
  return total;
}

Result<uint64_t> parse_rfc3339(std::string_view s) {
  const std::string why = "use RFC 3339, e.g. 2026-11-27T10:00:00Z";
  unsigned year, month, day, hour = 0, minute = 0, second = 0;
  if (!digits(s, 0, 4, &year) || s.size() < 10 || s[4] != '-' || !digits(s, 5, 2, &month) || s[7] != '-' ||
      !digits(s, 8, 2, &day))
    return bad_time(s, why);
  if (year < 1970 || year > 2500 || month < 1 || month > 12 || day < 1 || day > days_in_month(year, month))
    return bad_time(s, "no such date");
  uint64_t fraction_ns = 0;
  int64_t offset_s = 0;
  if (s.size() > 10) {
    if ((s[10] != 'T' && s[10] != 't') || !digits(s, 11, 2, &hour) || s.size() < 19 || s[13] != ':' ||
        !digits(s, 14, 2, &minute) || s[16] != ':' || !digits(s, 17, 2, &second))
      return bad_time(s, why);
    if (hour > 23 || minute > 59 || second > 59) return bad_time(s, "no such time of day");
    std::size_t i = 19;
    if (i < s.size() && s[i] == '.') {
      ++i;
      uint64_t scale = kSecond;
      const std::size_t start = i;
      for (; i < s.size() && s[i] >= '0' && s[i] <= '9'; ++i) {
        if (i - start >= 9) return bad_time(s, "more than 9 fractional digits");
        scale /= 10;
        fraction_ns += static_cast<uint64_t>(s[i] - '0') * scale;
      }
      if (i == start) return bad_time(s, why);
    }
    if (i == s.size()) return bad_time(s, "add the zone: Z for UTC");
    if ((s[i] == 'Z' || s[i] == 'z') && i + 1 == s.size()) {
      offset_s = 0;
    } else if ((s[i] == '+' || s[i] == '-') && i + 6 == s.size() && s[i + 3] == ':') {
      unsigned oh, om;
      if (!digits(s, i + 1, 2, &oh) || !digits(s, i + 4, 2, &om) || oh > 23 || om > 59) return bad_time(s, why);
      offset_s = (s[i] == '+' ? 1 : -1) * static_cast<int64_t>(oh * 3600 + om * 60);
    } else {
      return bad_time(s, why);
    }
  }
  const int64_t secs = days_from_civil(year, month, day) * 86400 + hour * 3600 + minute * 60 + second - offset_s;
  if (secs < 0) return bad_time(s, "before 1970");
  return static_cast<uint64_t>(secs) * kSecond + fraction_ns;
}

Result<uint64_t> parse_since(std::string_view text, uint64_t now) {
  if (text.empty()) return bad_time(text, "empty");
  if (text.find_first_not_of("0123456789") == std::string_view::npos) {
    uint64_t ns = 0;
    const auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), ns);
    if (ec != std::errc() || p != text.data() + text.size()) return bad_time(text, "too large");
    return ns;
  }
  const char last = text.back();
  if (text[0] >= '0' && text[0] <= '9' && std::string_view("smhd").find(last) != std::string_view::npos) {
    auto d = parse_duration(text);
    if (!d) return d.error();
    return *d >= now ? 0 : now - *d;
  }
  auto t = parse_rfc3339(text);
  if (!t)
    return bad_time(text,
                    "use RFC 3339 (2026-11-27T10:00:00Z), a duration ago (90s, 30m, 2h, 7d) "
                    "or ns since the epoch");
  return t;
}

std::string format_rfc3339(uint64_t ns) { return strf("%Y-%m-%dT%H:%M:%SZ", utc(ns)); }

std::string format_rfc3339_ms(uint64_t ns) {
  char ms[8];
  std::snprintf(ms, sizeof ms, ".%03u", static_cast<unsigned>(ns / 1000000 % 1000));
  return strf("%Y-%m-%dT%H:%M:%S", utc(ns)) + ms + "Z";
}

std::string format_clock_ms(uint64_t ns) {
  char ms[8];
  std::snprintf(ms, sizeof ms, ".%03u", static_cast<unsigned>(ns / 1000000 % 1000));
  return strf("%H:%M:%S", utc(ns)) + ms;
}

std::string format_date(uint64_t ns) { return strf("%Y-%m-%d", utc(ns)); }

std::string format_duration(uint64_t ns) {
  char buf[48];
  if (ns < kSecond) {
    std::snprintf(buf, sizeof buf, "%llums", static_cast<unsigned long long>(ns / 1000000));
  } else if (ns < kMinute) {
    std::snprintf(buf, sizeof buf, "%.3fs", static_cast<double>(ns) / 1e9);
  } else if (ns < kHour) {
    std::snprintf(buf, sizeof buf, "%llum%02llus", static_cast<unsigned long long>(ns / kMinute),
                  static_cast<unsigned long long>(ns % kMinute / kSecond));
  } else if (ns < kDay) {
    std::snprintf(buf, sizeof buf, "%lluh%02llum", static_cast<unsigned long long>(ns / kHour),
                  static_cast<unsigned long long>(ns % kHour / kMinute));
  } else {
    std::snprintf(buf, sizeof buf, "%llud%02lluh", static_cast<unsigned long long>(ns / kDay),
                  static_cast<unsigned long long>(ns % kDay / kHour));
  }
  return buf;
}

}  // namespace bt::collector::view
