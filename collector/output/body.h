// Request bodies of the HTTP sinks (splunk_hec, otlp): gzip, and text made
// valid UTF-8 before it goes into a format that requires it (JSON strings
// for Splunk, protobuf `string` fields for OTLP).
#pragma once

#include <string>
#include <string_view>

#include "common/result.h"

namespace bt::collector::output::body {

// `data` as one gzip member (RFC 1952), by zlib's deflate.
Result<std::string> gzip(std::string_view data);

// `text` with every byte that does not start or continue a well-formed
// UTF-8 sequence (overlong forms, surrogates, truncated sequences, past
// U+10FFFF) replaced by U+FFFD; valid text is returned unchanged.
std::string valid_utf8(std::string_view text);

}  // namespace bt::collector::output::body
