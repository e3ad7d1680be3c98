#include "common/log.h"

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <string>

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
  line += component;
  line += ": ";
  for (char c : message) line += (c == '\n' || c == '\r') ? ' ' : c;  // one line per event
  line += '\n';
  std::fwrite(line.data(), 1, line.size(), stderr);
}

}  // namespace bt::log
