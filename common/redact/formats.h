// Well-known token formats: secrets recognisable by their shape alone, with
// no flag or variable name next to them (`echo sk_live_...`, a key pasted
// into a URL, a token in a config string). One table (formats.cpp), each
// row with the vendor documentation that defines the format; the table is
// published as docs/redaction.md#token-formats.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace bt::redact {

// The characters a token's body is made of.
enum class Body : uint8_t {
  kAlnum,       // [A-Za-z0-9]
  kUpperDigit,  // [A-Z0-9]
  kHex,         // [0-9a-fA-F]
  kWord,        // [A-Za-z0-9_]
  kB64url,      // [A-Za-z0-9_-]
  kB64,         // [A-Za-z0-9+/=_]
  kSlack,       // [A-Za-z0-9-]
  kDotted,      // [A-Za-z0-9_.-]
  kPath,        // [A-Za-z0-9/]: a webhook URL's secret path
  kJwt,         // header.payload.signature (structure, not a class)
  kPem,         // a PEM private key block, BEGIN line to END line
};

struct TokenFormat {
  std::string_view vendor;
  std::string_view what;
  std::string_view prefix;
  Body body;
  uint16_t min;  // body length bounds; max 0 = unbounded, min == max = exact
  uint16_t max;
  bool keep_prefix;  // the prefix stays visible (a webhook URL's host and path)
  std::string_view kind;
  std::string_view source;  // the vendor's documentation of the format
};

std::span<const TokenFormat> token_formats();

struct TokenMatch {
  std::size_t keep = 0;    // bytes of prefix that stay
  std::size_t length = 0;  // bytes matched, prefix included; 0 = no match
  std::string_view kind;
};

// A token starting at s[0]; the caller has checked that a word starts
// there. A token needs its full length and ends at a word boundary. On a
// failed JWT, `*no_jwt_before` is where the header's run ended: a JWT
// starting inside that run fails the same way (keeps "eyJ-eyJ-..." linear).
TokenMatch match_token(std::string_view s, std::size_t* no_jwt_before = nullptr);

// "-----BEGIN <label> PRIVATE KEY-----" up to its END line, or to the end of
// `s` when the block was cut off: its length, or 0.
std::size_t match_pem(std::string_view s);

// The kind of a value that is one token from end to end, else empty.
std::string_view shape_kind(std::string_view v);

// The table as Markdown (docs/redaction.md, part "formats").
std::string formats_reference();

}  // namespace bt::redact
