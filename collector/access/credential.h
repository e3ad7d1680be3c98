// The secrets people and scripts present: `<prefix>` + a public id (16 hex
// digits) + `_` + 32 random bytes as 43 characters of unpadded base64url.
// The id finds the stored row in one lookup by key; only the SHA-256 of the
// whole text is stored (a fast hash is enough for 256 random bits: nothing
// can be guessed, see collector/api/token.cpp), compared in constant time.
// Used by the UI's session cookies (`bts_`).
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "common/crypto/keys.h"
#include "common/result.h"

namespace bt::collector::access {

struct Credential {
  std::string id;    // the public part
  std::string text;  // the whole secret: handed out once, never stored
};

// What names a credential's owner (a user, a token): 1 to 64 of
// A-Z a-z 0-9 . _ @ -, so it prints as it is in logs and listings.
bool is_plain_name(std::string_view name);

// A fresh credential (libsodium randombytes_buf).
Result<Credential> make_credential(std::string_view prefix);

// The id of `presented` when it is shaped as a credential of `prefix`;
// nothing otherwise (then no lookup is needed to refuse it).
std::optional<std::string> credential_id(std::string_view prefix, std::string_view presented);

crypto::Digest credential_hash(std::string_view text);

// Whether `presented` hashes to `stored`; constant time (sodium_memcmp).
bool credential_matches(const crypto::Digest& stored, std::string_view presented);

}  // namespace bt::collector::access
