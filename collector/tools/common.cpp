// Helpers shared by the tools; see common.h.
#include "collector/tools/common.h"

#include <time.h>

#include <algorithm>
#include <charconv>
#include <ctime>
#include <numeric>
#include <variant>

#include "collector/archive/archive.h"
#include "common/batch/batch.h"
#include "common/overloaded.h"

namespace bt::collector::tools {

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
  return make_error(ErrorCode::kInvalidArgument,
                    "invalid time '" + printable(text) + "': " + why);
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

// Length of the UTF-8 sequence at s[i] and its code point, or 0 if the
// bytes there are not valid UTF-8.
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

bool dangerous(uint32_t cp) {
  return cp < 0x20 || cp == 0x7f || (cp >= 0x80 && cp <= 0x9f) || cp == 0x200e || cp == 0x200f ||
         (cp >= 0x202a && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069);
}

std::size_t code_points(std::string_view s) {
  std::size_t n = 0;
  for (char c : s)
    if ((static_cast<unsigned char>(c) & 0xc0) != 0x80) ++n;
  return n;
}

std::string join(const std::vector<std::string>& parts, std::string_view sep) {
  std::string out;
  for (std::size_t i = 0; i < parts.size(); ++i) {
    if (i) out += sep;
    out += parts[i];
  }
  return out;
}

std::string counts_text(const events::Counts& counts) {
  std::string out;
  for (const auto& [name, n] : counts) {
    if (!out.empty()) out += ", ";
    out += name + " " + std::to_string(n);
  }
  return out;
}

std::string exit_text(int64_t exit_code, int64_t signal) {
  return signal ? "signal " + std::to_string(signal) : "exit " + std::to_string(exit_code);
}

std::string plural(uint64_t n, const char* one, const char* many) {
  return std::to_string(n) + " " + (n == 1 ? one : many);
}

}  // namespace

// ---- time ------------------------------------------------------------------------

Result<uint64_t> parse_duration(std::string_view text) {
  auto bad = [&](const std::string& why) {
    return make_error(ErrorCode::kInvalidArgument,
                      "invalid duration '" + printable(text) + "': " + why);
  };
  if (text.empty()) return bad("empty");
  uint64_t total = 0;
  std::size_t i = 0;
  while (i < text.size()) {
    uint64_t n = 0;
    const auto [p, ec] = std::from_chars(text.data() + i, text.data() + text.size(), n);
    if (ec == std::errc::result_out_of_range) return bad("too large");
    if (ec != std::errc() || p == text.data() + text.size())
      return bad("use a number and a unit: 90s, 30m, 2h, 7d");
    i = static_cast<std::size_t>(p - text.data());
    uint64_t unit;
    switch (text[i]) {
      case 's': unit = kSecond; break;
      case 'm': unit = kMinute; break;
      case 'h': unit = kHour; break;
      case 'd': unit = kDay; break;
      default: return bad(std::string("unknown unit '") + printable(text.substr(i, 1)) + "' (s, m, h, d)");
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
  if (!digits(s, 0, 4, &year) || s.size() < 10 || s[4] != '-' || !digits(s, 5, 2, &month) ||
      s[7] != '-' || !digits(s, 8, 2, &day))
    return bad_time(s, why);
  if (year < 1970 || year > 2500 || month < 1 || month > 12 || day < 1 ||
      day > days_in_month(year, month))
    return bad_time(s, "no such date");
  uint64_t fraction_ns = 0;
  int64_t offset_s = 0;
  if (s.size() > 10) {
    if ((s[10] != 'T' && s[10] != 't') || !digits(s, 11, 2, &hour) || s.size() < 19 ||
        s[13] != ':' || !digits(s, 14, 2, &minute) || s[16] != ':' || !digits(s, 17, 2, &second))
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
      if (!digits(s, i + 1, 2, &oh) || !digits(s, i + 4, 2, &om) || oh > 23 || om > 59)
        return bad_time(s, why);
      offset_s = (s[i] == '+' ? 1 : -1) * static_cast<int64_t>(oh * 3600 + om * 60);
    } else {
      return bad_time(s, why);
    }
  }
  const int64_t secs = days_from_civil(year, month, day) * 86400 + hour * 3600 + minute * 60 +
                       second - offset_s;
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

// ---- text ------------------------------------------------------------------------

std::string printable(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size();) {
    uint32_t cp = 0;
    const std::size_t len = decode(text, i, &cp);
    char esc[16];
    if (len == 0) {
      std::snprintf(esc, sizeof esc, "\\x%02x", static_cast<unsigned char>(text[i]));
      out += esc;
      ++i;
      continue;
    }
    if (dangerous(cp)) {
      if (cp < 0x80) std::snprintf(esc, sizeof esc, "\\x%02x", cp);
      else std::snprintf(esc, sizeof esc, "\\u{%04x}", cp);
      out += esc;
    } else {
      out.append(text.substr(i, len));
    }
    i += len;
  }
  return out;
}

std::string truncate(std::string_view text, std::size_t max_chars) {
  if (code_points(text) <= max_chars) return std::string(text);
  const std::size_t keep = max_chars > 3 ? max_chars - 3 : 0;
  std::size_t n = 0, i = 0;
  for (; i < text.size(); ++i) {
    if ((static_cast<unsigned char>(text[i]) & 0xc0) != 0x80) {
      if (n == keep) break;
      ++n;
    }
  }
  return std::string(text.substr(0, i)) + "...";
}

std::string summary(const events::Event& event) {
  using namespace events;
  // One lambda per kind and no catch-all: a kind added to events.def does
  // not compile here until the timeline knows how to show it.
  std::string s = std::visit(
      bt::Overloaded{
          [](const BuildStart& b) {
            return b.mode + (b.command.empty() ? "" : ": " + join(b.command, " "));
          },
          [](const BuildEnd& b) {
            std::string out =
                exit_text(b.exit_code, b.signal) + " after " + format_duration(b.duration_ns);
            if (!b.counts.empty()) out += " (" + counts_text(b.counts) + ")";
            return out;
          },
          [&](const ProcessExec& b) {
            std::string out = b.argv.empty() ? event.process.exe : join(b.argv, " ");
            if (!b.script.empty()) out += " [script " + b.script + "]";
            return out;
          },
          [](const ProcessExit& b) {
            return exit_text(b.exit_code, b.signal) + " after " + format_duration(b.duration_ns);
          },
          [](const NetConnect& b) {
            const bool v6 = b.daddr.find(':') != std::string::npos;
            std::string out = b.protocol + " " + (v6 ? "[" + b.daddr + "]" : b.daddr) + ":" +
                              std::to_string(b.dport);
            if (!b.dns_name.empty()) out += " (" + b.dns_name + ")";
            if (b.result != 0) out += " failed: errno " + std::to_string(-b.result);
            return out;
          },
          [](const DnsQuery& b) {
            std::string out = b.name + " " + b.qtype + " -> ";
            if (!b.answers.empty()) out += join(b.answers, ", ");
            else out += b.rcode.empty() ? "(no answer seen)" : b.rcode;
            if (!b.answers.empty() && !b.rcode.empty() && b.rcode != "NOERROR") out += " " + b.rcode;
            return out;
          },
          [](const SecretAccess& b) {
            std::string out = b.rule + " " + b.secret_class + " " + b.access + " " + b.path;
            if (b.target_pid) {
              out += " (pid " + std::to_string(b.target_pid);
              if (!b.target_exe.empty()) out += " " + b.target_exe;
              out += ")";
            }
            return out;
          },
          [](const ArtifactUpload& b) {
            return b.tool + " -> " + b.destination + " (" + plural(b.files.size(), "file", "files") +
                   ")";
          },
          [](const AgentStart& b) {
            std::string out = "agent " + b.version + " " + b.mode;
            if (!b.os.empty()) out += ", " + b.os;
            if (!b.kernel.empty()) out += ", kernel " + b.kernel;
            if (!b.ci_detected.empty()) out += ", ci " + b.ci_detected;
            return out;
          },
          [](const AgentStop& b) {
            return "reason " + b.reason + ", " + plural(b.events_total, "event", "events");
          },
          [](const AgentHeartbeat& b) {
            return "uptime " + format_duration(b.uptime_ns) + ", " +
                   plural(b.events_total, "event", "events") + ", " +
                   std::to_string(b.dropped_total) + " dropped";
          },
          [](const Loss& b) {
            std::string out = "dropped " + counts_text(b.counts);
            if (b.first_ns || b.last_ns)
              out += " (" + format_clock_ms(b.first_ns) + " - " + format_clock_ms(b.last_ns) + ")";
            return out;
          },
          [](const std::monostate&) { return std::string(); },
      },
      event.body);
  return truncate(printable(s), 120);
}

Table::Table(std::vector<std::string> header) { rows_.push_back(std::move(header)); }

void Table::add(std::vector<std::string> row) {
  for (auto& cell : row) cell = printable(cell);
  rows_.push_back(std::move(row));
}

void Table::print(std::FILE* out) const {
  std::vector<std::size_t> width;
  for (const auto& row : rows_) {
    if (width.size() < row.size()) width.resize(row.size(), 0);
    for (std::size_t i = 0; i < row.size(); ++i) width[i] = std::max(width[i], code_points(row[i]));
  }
  std::string line;
  for (const auto& row : rows_) {
    line.clear();
    for (std::size_t i = 0; i < row.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size()) line.append(width[i] - code_points(row[i]) + 2, ' ');
    }
    line += '\n';
    std::fwrite(line.data(), 1, line.size(), out);
  }
}

// ---- command lines ---------------------------------------------------------------

Tool::Tool(std::string name, std::string synopsis, std::vector<cli::Option> options)
    : name_(std::move(name)), synopsis_(std::move(synopsis)), options_(std::move(options)) {
  options_.push_back({"help", false, "show this help"});
}

bool Tool::parse(int argc, char** argv, int first, int* exit, bool needs_data) {
  auto parsed = cli::parse(argc, argv, first, options_);
  if (!parsed) {
    *exit = usage_error(parsed.error().message);
    return false;
  }
  args_ = std::move(*parsed);
  if (args_.has("help")) {
    std::printf("usage: buildtrail-collector %s\n\noptions:\n%s", synopsis_.c_str(),
                cli::usage(options_).c_str());
    *exit = 0;
    return false;
  }
  if (needs_data && args_.get("data").empty()) {
    *exit = usage_error("--data DIR is required");
    return false;
  }
  if (!args_.after_dashdash.empty()) {
    *exit = usage_error("unexpected argument '" + args_.after_dashdash[0] + "'");
    return false;
  }
  return true;
}

int Tool::usage_error(const std::string& message) const {
  std::fprintf(stderr, "buildtrail-collector %s: %s (see --help)\n", name_.c_str(),
               printable(message).c_str());
  return kExitUsage;
}

int Tool::error(const std::string& message) const {
  std::fprintf(stderr, "buildtrail-collector %s: %s\n", name_.c_str(), printable(message).c_str());
  return kExitError;
}

Result<std::unique_ptr<store::Store>> Tool::open_store(bool read_only) const {
  store::Options options;
  options.read_only = read_only;
  return store::open_sqlite(data_dir(), options);
}

// ---- reading events back ---------------------------------------------------------

namespace {
constexpr std::size_t kChunk = 4096;       // references read before their batches are opened
constexpr std::size_t kCachedBatches = 4;  // opened batches kept
}  // namespace

EventReader::EventReader(store::Store& store, std::string data_dir)
    : store_(store), data_dir_(std::move(data_dir)) {}

Result<const EventReader::Batch*> EventReader::batch(const store::EventRef& ref) {
  for (auto it = cache_.begin(); it != cache_.end(); ++it) {
    if (it->path == ref.archive_path) {
      cache_.splice(cache_.begin(), cache_, it);
      return &cache_.front();
    }
  }
  const std::string name = "batch " + ref.archive_path + " (agent " + ref.agent_id + ", seq " +
                           std::to_string(ref.seq) + ")";
  auto unverified = [&](const Error& e) {
    return make_error(e.code, name + " failed verification: " + e.message);
  };
  auto key = keys_.find(ref.agent_id);
  if (key == keys_.end()) {
    auto agent = store_.agent(ref.agent_id);
    if (!agent) return agent.error();
    if (!*agent)
      return unverified(make_error(ErrorCode::kUnknownKey, "agent is not in the store"));
    key = keys_.emplace(ref.agent_id, (*agent)->public_key).first;
  }
  auto bytes = archive::Archive(data_dir_).read(ref.archive_path);
  if (!bytes) return make_error(bytes.error().code, name + ": " + bytes.error().message);
  auto opened = batch::open(crypto::as_bytes(*bytes), key->second);
  if (!opened) return unverified(opened.error());
  if (opened->header.agent_id != ref.agent_id || opened->header.seq != ref.seq)
    return unverified(make_error(ErrorCode::kConflict,
                                 "it is signed as agent " + opened->header.agent_id + " seq " +
                                     std::to_string(opened->header.seq)));
  if (archive::Archive::relative_path(opened->hash) != ref.archive_path)
    return unverified(make_error(ErrorCode::kConflict, "its content does not match its address"));
  Batch b;
  b.path = ref.archive_path;
  b.events.reserve(opened->header.event_count);
  Status parsed = batch::for_each_event(*opened, [&](events::Event&& e) { b.events.push_back(std::move(e)); });
  if (!parsed) return unverified(parsed.error());
  cache_.push_front(std::move(b));
  if (cache_.size() > kCachedBatches) cache_.pop_back();
  return &cache_.front();
}

Status EventReader::flush(std::vector<store::EventRef>& chunk,
                          const std::function<void(const events::Event&)>& on_event) {
  // Read batch by batch, hand out in the store's order.
  std::vector<std::size_t> order(chunk.size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    return std::tie(chunk[a].archive_path, chunk[a].line) < std::tie(chunk[b].archive_path, chunk[b].line);
  });
  std::vector<events::Event> picked(chunk.size());
  for (std::size_t i : order) {
    auto b = batch(chunk[i]);
    if (!b) return b.error();
    if (chunk[i].line >= (*b)->events.size())
      return make_error(ErrorCode::kNotFound, "batch " + chunk[i].archive_path + " has no line " +
                                                  std::to_string(chunk[i].line));
    picked[i] = (*b)->events[chunk[i].line];
  }
  for (const auto& e : picked) on_event(e);
  chunk.clear();
  return Ok{};
}

Status EventReader::for_each(const store::EventFilter& filter,
                             const std::function<void(const events::Event&)>& on_event) {
  std::vector<store::EventRef> chunk;
  chunk.reserve(kChunk);
  Status failed = Ok{};
  Status s = store_.events(filter, [&](const store::EventRef& ref) {
    chunk.push_back(ref);
    if (chunk.size() < kChunk) return true;
    failed = flush(chunk, on_event);
    return failed.ok();
  });
  if (!s) return s;
  if (!failed) return failed;
  return flush(chunk, on_event);
}

}  // namespace bt::collector::tools
