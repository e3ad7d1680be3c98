// One line per log event on stderr: "<level> <component>: <message>". Under
// systemd (JOURNAL_STREAM set) each line is prefixed with its sd-daemon
// priority ("<3>") so journald records the level. Callers never pass secret
// values; argv and URLs are redacted before they reach a log line. Control
// characters, newlines and bidirectional marks in a message are escaped
// (common/text.h printable()), so a line is always one line.
#pragma once

#include <string>
#include <string_view>

namespace bt::log {

enum class Level { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3 };

void set_level(Level level);
bool parse_level(std::string_view text, Level* out);
void write(Level level, std::string_view component, std::string_view message);

inline void info(std::string_view c, std::string_view m) { write(Level::kInfo, c, m); }
inline void warn(std::string_view c, std::string_view m) { write(Level::kWarn, c, m); }
inline void error(std::string_view c, std::string_view m) { write(Level::kError, c, m); }
inline void debug(std::string_view c, std::string_view m) { write(Level::kDebug, c, m); }

}  // namespace bt::log
