// API tokens; see token.h.
//
// Why SHA-256 and not a password hash (Argon2, scrypt): a password KDF is
// slow on purpose so that a stolen table of hashes of *guessable* secrets
// costs an attacker per guess. These secrets are 256 random bits: nothing
// can be guessed, so a fast one-way hash protects them as well, and the API
// pays microseconds per request instead of ~100 ms of CPU an unauthenticated
// client could make the collector spend at will.
#include "collector/api/token.h"

#include <sodium.h>

#include <array>

namespace bt::collector::api {

namespace {

constexpr std::size_t kIdBytes = 8;
constexpr std::size_t kSecretBytes = 32;
constexpr std::size_t kIdChars = 2 * kIdBytes;
// Unpadded base64url of 32 bytes: ceil(32 * 4 / 3).
constexpr std::size_t kSecretChars = (kSecretBytes * 4 + 2) / 3;
constexpr std::size_t kTokenChars = kTokenPrefix.size() + kIdChars + 1 + kSecretChars;

bool is_hex(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); }
bool is_base64url(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
}
bool is_name_char(char c) { return is_base64url(c) || c == '.' || c == '@'; }

}  // namespace

Status check_token_name(std::string_view name) {
  bool ok = !name.empty() && name.size() <= 64;
  for (char c : name) ok = ok && is_name_char(c);
  if (!ok) return make_error(ErrorCode::kInvalidArgument, "a token name is 1 to 64 of A-Z a-z 0-9 . _ @ -");
  return Ok{};
}

Result<NewToken> make_token(const std::string& name, store::ApiRole role, uint64_t now_ns) {
  if (Status s = check_token_name(name); !s) return s.error();
  if (sodium_init() < 0) return make_error(ErrorCode::kInternal, "libsodium failed to initialise");
  std::array<uint8_t, kIdBytes> id{};
  std::array<uint8_t, kSecretBytes> secret{};
  randombytes_buf(id.data(), id.size());
  randombytes_buf(secret.data(), secret.size());
  std::array<char, sodium_base64_ENCODED_LEN(kSecretBytes, sodium_base64_VARIANT_URLSAFE_NO_PADDING)> encoded{};
  sodium_bin2base64(encoded.data(), encoded.size(), secret.data(), secret.size(),
                    sodium_base64_VARIANT_URLSAFE_NO_PADDING);
  sodium_memzero(secret.data(), secret.size());
  NewToken t;
  t.row.id = crypto::to_hex(id);
  t.text = std::string(kTokenPrefix) + t.row.id + "_" + encoded.data();
  sodium_memzero(encoded.data(), encoded.size());
  t.row.name = name;
  t.row.role = role;
  t.row.hash = token_hash(t.text);
  t.row.created_ns = now_ns;
  return t;
}

std::optional<std::string> token_id(std::string_view presented) {
  if (presented.size() != kTokenChars || presented.substr(0, kTokenPrefix.size()) != kTokenPrefix) return std::nullopt;
  const std::string_view id = presented.substr(kTokenPrefix.size(), kIdChars);
  const std::string_view secret = presented.substr(kTokenPrefix.size() + kIdChars + 1);
  bool ok = presented[kTokenPrefix.size() + kIdChars] == '_';
  for (char c : id) ok = ok && is_hex(c);
  for (char c : secret) ok = ok && is_base64url(c);
  if (!ok) return std::nullopt;
  return std::string(id);
}

crypto::Digest token_hash(std::string_view token) { return crypto::sha256(crypto::as_bytes(token)); }

bool token_matches(const store::ApiToken& row, std::string_view presented) {
  const crypto::Digest h = token_hash(presented);
  return sodium_memcmp(h.data(), row.hash.data(), h.size()) == 0;
}

}  // namespace bt::collector::api
