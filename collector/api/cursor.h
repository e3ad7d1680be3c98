// Page cursors. A page's "next" is an opaque string the client hands back
// as `after` for the page that follows; clients must not build or read
// them. Inside, a cursor is the sort key of the last item of the page
// (integers joined by '.'), so pages never repeat or skip an item whose
// key does not change, however many items are added meanwhile.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace bt::collector::api {

std::string make_cursor(std::initializer_list<int64_t> parts);
// A cursor of exactly `parts` non-negative integers; an error otherwise.
Result<std::vector<int64_t>> parse_cursor(std::string_view text, std::size_t parts);

// A cursor holding a string key (an agent id, a destination): its bytes
// in hex, so any key travels as a plain URL parameter.
std::string make_text_cursor(std::string_view key);
Result<std::string> parse_text_cursor(std::string_view text);

}  // namespace bt::collector::api
