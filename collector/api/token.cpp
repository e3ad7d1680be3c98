// API tokens; see token.h.
//
// Why SHA-256 and not a password hash (Argon2, scrypt): a password KDF is
// slow on purpose so that a stolen table of hashes of *guessable* secrets
// costs an attacker per guess. These secrets are 256 random bits: nothing
// can be guessed, so a fast one-way hash protects them as well, and the API
// pays microseconds per request instead of ~100 ms of CPU an unauthenticated
// client could make the collector spend at will.
#include "collector/api/token.h"

#include "collector/access/credential.h"

namespace bt::collector::api {

Status check_token_name(std::string_view name) {
  if (!access::is_plain_name(name))
    return make_error(ErrorCode::kInvalidArgument, "a token name is 1 to 64 of A-Z a-z 0-9 . _ @ -");
  return Ok{};
}

Result<NewToken> make_token(const std::string& name, store::ApiRole role, uint64_t now_ns) {
  if (Status s = check_token_name(name); !s) return s.error();
  auto credential = access::make_credential(kTokenPrefix);
  if (!credential) return credential.error();
  NewToken t;
  t.row.id = credential->id;
  t.text = std::move(credential->text);
  t.row.name = name;
  t.row.role = role;
  t.row.hash = token_hash(t.text);
  t.row.created_ns = now_ns;
  return t;
}

std::optional<std::string> token_id(std::string_view presented) {
  return access::credential_id(kTokenPrefix, presented);
}

crypto::Digest token_hash(std::string_view token) { return access::credential_hash(token); }

bool token_matches(const store::ApiToken& row, std::string_view presented) {
  return access::credential_matches(row.hash, presented);
}

}  // namespace bt::collector::api
