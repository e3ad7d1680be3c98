#include "common/log.h"

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "common/text.h"

namespace bt::log {

namespace {
std::atomic<int> g_level{static_cast<int>(Level::kInfo)};
constexpr const char* kNames[] = {"debug", "info", "warn", "error"};
constexpr const char* kJournalPriority[] = {"<7>", "<6>", "<4>", "<3>"};
}  // namespace

void set_level(Level level) { g_level = static_cast<int>(level); }

bool parse_level(std::string_view text, Level* out) {
  for (int i = 0; i < 4; ++i) {
    if (text == kNames[i]) {
      *out = static_cast<Level>(i);
      return true;
    }
  }
  return false;
}

void write(Level level, std::string_view component, std::string_view message) {
  const int l = static_cast<int>(level);
  if (l < g_level) return;
  static const bool journal = std::getenv("JOURNAL_STREAM") != nullptr;
  std::string line;
  line.reserve(message.size() + component.size() + 16);
  if (journal) line += kJournalPriority[l];
  line += kNames[l];
  line += ' ';
  // Messages quote outside data (runner and build names, paths, a
  // collector's reply): escaped here, once for every caller, so a log line
  // is one line and cannot carry escape sequences to a terminal or journal.
  line += text::printable(component);
  line += ": ";
  line += text::printable(message);
  line += '\n';
  std::fwrite(line.data(), 1, line.size(), stderr);
}

}  // namespace bt::log
