// Text from outside on a terminal or in a log line. Argv, paths, DNS names,
// host and build names come from build processes and CI variables, error
// messages quote them, and a collector's reply reaches the agent's log: any
// of them may carry escape sequences that repaint a terminal, newlines that
// fake output lines, or bidirectional overrides that reorder what is shown.
// Every place that writes such text to a terminal or a log line passes it
// through printable() (plain text) or json_printable() (JSON text); nothing
// else decides what is safe to show.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace bt::text {

// Code points never shown raw: C0 controls (tab and newline too), DEL, C1
// controls, the line and paragraph separators U+2028/U+2029 (line breaks to
// JavaScript and some viewers), and the bidirectional formatting marks
// (U+061C, U+200E, U+200F, U+202A..U+202E, U+2066..U+2069).
[[nodiscard]] bool unsafe(uint32_t code_point);

// For plain text: unsafe code points become \xNN (below U+0080) or
// \u{NNNN}, and bytes that are not UTF-8 (overlong forms, surrogates,
// truncated sequences included) become \xNN. Everything else is kept, so
// ordinary text reads as it was.
std::string printable(std::string_view text);

// For JSON text (one document or JSON lines): unsafe code points become
// \uNNNN escapes, which mean the same inside a JSON string -- the only
// place a valid document can hold them -- and bytes that are not UTF-8
// become \uFFFD. The newline that ends each line is kept. A valid document
// stays valid and decodes to the same values.
std::string json_printable(std::string_view json);
// Whether json_printable() would leave `json` as it is: the check alone,
// so a caller holding the text can skip the copy.
bool json_is_printable(std::string_view json);

// Code points in `text`, counting each byte that is not a UTF-8
// continuation byte.
std::size_t code_points(std::string_view text);

// At most `max_chars` code points; longer text ends in "...".
std::string truncate(std::string_view text, std::size_t max_chars);

// The longest prefix of `text` of at most `max_bytes` bytes that does not
// end inside a UTF-8 sequence.
std::string_view prefix_bytes(std::string_view text, std::size_t max_bytes);

}  // namespace bt::text
