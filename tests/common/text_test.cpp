// common/text (the one escaping for terminals and log lines), and common/log
// through it.
#include <doctest/doctest.h>
#include <unistd.h>

#include <cstdio>
#include <string>

#include "common/events/examples.h"
#include "common/events/json.h"
#include "common/fs.h"
#include "common/log.h"
#include "common/text.h"
#include "tests/common/terminal.h"
#include "tests/common/test_util.h"

using namespace bt;
using testing::kHostile;
using testing::terminal_unsafe;

namespace {

// What `write` puts on stderr, read back from a file put in its place.
template <class Write>
std::string stderr_of(Write write) {
  const std::string path = testing::make_temp_dir("log") + "/stderr";
  std::fflush(stderr);
  const int saved = ::dup(2);
  FILE* f = std::fopen(path.c_str(), "w");
  REQUIRE(f);
  ::dup2(fileno(f), 2);
  write();
  std::fflush(stderr);
  ::dup2(saved, 2);
  ::close(saved);
  std::fclose(f);
  return fs::read_file(path, 1 << 20).value();
}

}  // namespace

TEST_CASE("printable: controls, DEL, C1, separators, bidi marks and bytes that are not UTF-8 are escaped") {
  CHECK(text::printable("plain text, caf\xc3\xa9 \xf0\x9f\x94\x91") == "plain text, caf\xc3\xa9 \xf0\x9f\x94\x91");
  CHECK(text::printable(kHostile) ==
        "x\\x1b[2J\\x0dFAKE\\x0averified 9 batches: 9 ok\\x7f\\u{2028}\\u{2029}\\u{202e}evil\\u{009b}1m\\xff");
  CHECK(text::printable("\xd8\x9c\xe2\x80\x8e\xe2\x81\xa6") == "\\u{061c}\\u{200e}\\u{2066}");  // ALM, LRM, LRI
  // Overlong forms, surrogates and truncated sequences: bytes, not characters.
  CHECK(text::printable("\xc0\xaf \xed\xa0\x80 \xe2\x80") == "\\xc0\\xaf \\xed\\xa0\\x80 \\xe2\\x80");
  CHECK(terminal_unsafe(text::printable(kHostile)).empty());
  CHECK_FALSE(terminal_unsafe(kHostile).empty());
}

TEST_CASE("json_printable: the same JSON, with nothing a terminal must not see") {
  // The event encoder already escapes C0 controls; DEL, C1, U+2028/2029 and
  // bidi marks it writes raw, as JSON allows.
  auto e = events::example_event(events::Kind::process_exec);
  e.host = std::string(testing::kHostileUtf8);
  std::get<events::ProcessExec>(e.body).argv = {"echo", std::string(testing::kHostileUtf8)};
  const std::string json = events::to_json(e) + "\n" + events::to_json(e) + "\n";
  CHECK_FALSE(terminal_unsafe(json).empty());
  const std::string safe = text::json_printable(json);
  CHECK_MESSAGE(terminal_unsafe(safe).empty(), terminal_unsafe(safe));
  CHECK(safe.find("\\u001B[2J\\rFAKE\\nverified 9 batches: 9 ok\\u007F\\u2028\\u2029\\u202Eevil\\u009B1m") !=
        std::string::npos);
  // Each line still decodes to the very same event.
  const std::string first = safe.substr(0, safe.find('\n'));
  CHECK(events::from_json(first).value() == e);
  CHECK(std::count(safe.begin(), safe.end(), '\n') == 2);
  // Clean JSON is returned as it is; bytes that are not UTF-8 become U+FFFD.
  CHECK(text::json_printable("{\"a\":\"caf\xc3\xa9\"}\n") == "{\"a\":\"caf\xc3\xa9\"}\n");
  CHECK(text::json_printable("\"\xff\"") == "\"\\uFFFD\"");
  INFO("json_is_printable says whether json_printable would change the text");
  for (const std::string& t : {json, safe, std::string("{\"a\":\"caf\xc3\xa9\"}\n"), std::string("\"\xff\""),
                               std::string("\"\xe2\x80\xae\""), std::string("\x7f"), std::string()})
    CHECK(text::json_is_printable(t) == (text::json_printable(t) == t));
  INFO("8 bytes are checked at a time: every byte value, at every place in and across those words");
  int wrong = 0;
  for (int b = 0; b < 256; ++b)
    for (std::size_t at = 0; at < 17; ++at) {
      std::string t(17, 'a');
      t[at] = static_cast<char>(b);
      const bool expected = (b >= 0x20 && b < 0x7f) || b == '\n';
      if (text::json_is_printable(t) != expected || (text::json_printable(t) == t) != expected) ++wrong;
    }
  CHECK(wrong == 0);
}

TEST_CASE("log lines are one line each, escaped, whatever the message quotes") {
  const std::string out = stderr_of([] {
    log::warn("daemon", "job begin from pid 7: " + std::string(kHostile));
    log::error("agent", "enrollment refused (400): {\"error\":\"\xe2\x80\xae\"}\r\n");
  });
  CHECK_MESSAGE(terminal_unsafe(out).empty(), terminal_unsafe(out));
  CHECK(out ==
        "warn daemon: job begin from pid 7: x\\x1b[2J\\x0dFAKE\\x0averified 9 batches: 9 "
        "ok\\x7f\\u{2028}\\u{2029}\\u{202e}evil\\u{009b}1m\\xff\n"
        "error agent: enrollment refused (400): {\"error\":\"\\u{202e}\"}\\x0d\\x0a\n");
}

TEST_CASE("prefix_bytes never ends inside a UTF-8 sequence") {
  CHECK(text::prefix_bytes("abc", 5) == "abc");
  CHECK(text::prefix_bytes("ab\xc3\xa9", 3) == "ab");
  CHECK(text::prefix_bytes("ab\xc3\xa9", 4) == "ab\xc3\xa9");
  CHECK(text::prefix_bytes("\xf0\x9f\x94\x91x", 3) == "");
}
