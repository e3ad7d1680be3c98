// The read API's bearer tokens: `btk_` + a public id (16 hex digits) + `_`
// + a secret of 32 random bytes (43 characters of unpadded base64url).
// `tokens create` shows the token once; the store keeps its SHA-256 and
// finds it again by the id, so a presented token costs one lookup by key
// and one comparison in constant time.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "collector/store/store.h"
#include "common/crypto/keys.h"
#include "common/result.h"

namespace bt::collector::api {

inline constexpr std::string_view kTokenPrefix = "btk_";

struct NewToken {
  std::string text;     // the token: shown once, never stored
  store::ApiToken row;  // what the store keeps of it
};

// A token's name: 1 to 64 of A-Z a-z 0-9 . _ @ -, so it prints as it is.
Status check_token_name(std::string_view name);

// A fresh token (libsodium randombytes_buf) and its row.
Result<NewToken> make_token(const std::string& name, store::ApiRole role, uint64_t now_ns);

// The id part of a presented token; nothing when it is not shaped as one
// of ours (then no lookup is needed to refuse it).
std::optional<std::string> token_id(std::string_view presented);

// SHA-256 of the whole token text.
crypto::Digest token_hash(std::string_view token);

// Whether `presented` is the token `row` was made from; constant time in
// the hash (sodium_memcmp).
bool token_matches(const store::ApiToken& row, std::string_view presented);

}  // namespace bt::collector::api
