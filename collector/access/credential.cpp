#include "collector/access/credential.h"

#include <sodium.h>

#include <array>

namespace bt::collector::access {

namespace {

constexpr std::size_t kIdBytes = 8;
constexpr std::size_t kSecretBytes = 32;
constexpr std::size_t kIdChars = 2 * kIdBytes;
constexpr std::size_t kSecretChars = (kSecretBytes * 4 + 2) / 3;  // unpadded base64url

bool is_hex(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); }
bool is_base64url(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
}

}  // namespace

bool is_plain_name(std::string_view name) {
  bool ok = !name.empty() && name.size() <= 64;
  for (char c : name) ok = ok && (is_base64url(c) || c == '.' || c == '@');
  return ok;
}

Result<Credential> make_credential(std::string_view prefix) {
  if (sodium_init() < 0) return make_error(ErrorCode::kCrypto, "libsodium failed to initialise");
  std::array<uint8_t, kIdBytes> id{};
  std::array<uint8_t, kSecretBytes> secret{};
  randombytes_buf(id.data(), id.size());
  randombytes_buf(secret.data(), secret.size());
  std::array<char, sodium_base64_ENCODED_LEN(kSecretBytes, sodium_base64_VARIANT_URLSAFE_NO_PADDING)> encoded{};
  sodium_bin2base64(encoded.data(), encoded.size(), secret.data(), secret.size(),
                    sodium_base64_VARIANT_URLSAFE_NO_PADDING);
  sodium_memzero(secret.data(), secret.size());
  Credential c;
  c.id = crypto::to_hex(id);
  c.text = std::string(prefix) + c.id + "_" + encoded.data();
  sodium_memzero(encoded.data(), encoded.size());
  return c;
}

std::optional<std::string> credential_id(std::string_view prefix, std::string_view presented) {
  if (presented.size() != prefix.size() + kIdChars + 1 + kSecretChars || presented.substr(0, prefix.size()) != prefix)
    return std::nullopt;
  const std::string_view id = presented.substr(prefix.size(), kIdChars);
  const std::string_view secret = presented.substr(prefix.size() + kIdChars + 1);
  bool ok = presented[prefix.size() + kIdChars] == '_';
  for (char c : id) ok = ok && is_hex(c);
  for (char c : secret) ok = ok && is_base64url(c);
  if (!ok) return std::nullopt;
  return std::string(id);
}

crypto::Digest credential_hash(std::string_view text) { return crypto::sha256(crypto::as_bytes(text)); }

bool credential_matches(const crypto::Digest& stored, std::string_view presented) {
  const crypto::Digest h = credential_hash(presented);
  return sodium_memcmp(h.data(), stored.data(), h.size()) == 0;
}

}  // namespace bt::collector::access
