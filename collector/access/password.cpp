#include "collector/access/password.h"

#include <sodium.h>

#include "collector/access/credential.h"

namespace bt::collector::access {

Status check_password(std::string_view password) {
  if (password.size() < kMinPasswordBytes || password.size() > kMaxPasswordBytes)
    return make_error(ErrorCode::kInvalidArgument, "a password is " + std::to_string(kMinPasswordBytes) + " to " +
                                                       std::to_string(kMaxPasswordBytes) + " bytes");
  for (unsigned char c : password)
    if (c < 0x20 || c == 0x7f) return make_error(ErrorCode::kInvalidArgument, "a password has no control characters");
  return Ok{};
}

Status check_user_name(std::string_view name) {
  if (!is_plain_name(name))
    return make_error(ErrorCode::kInvalidArgument, "a user name is 1 to 64 of A-Z a-z 0-9 . _ @ -");
  return Ok{};
}

Result<std::string> hash_password(std::string_view password) {
  if (sodium_init() < 0) return make_error(ErrorCode::kCrypto, "libsodium failed to initialise");
  char out[crypto_pwhash_STRBYTES] = {};
  if (crypto_pwhash_str(out, password.data(), password.size(), crypto_pwhash_OPSLIMIT_INTERACTIVE,
                        crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0)
    return make_error(ErrorCode::kCrypto, "cannot hash the password (out of memory)");
  return std::string(out);
}

bool verify_password(const std::string& hash, std::string_view password) {
  if (sodium_init() < 0) return false;
  return crypto_pwhash_str_verify(hash.c_str(), password.data(), password.size()) == 0;
}

const std::string& PasswordGate::dummy_hash() {
  std::call_once(dummy_once_, [this] {
    auto h = hash_password("not a password: the hash an unknown user is checked against");
    dummy_ = h ? *h : std::string();
  });
  return dummy_;
}

std::optional<bool> PasswordGate::verify(const std::optional<std::string>& hash, std::string_view password) {
  {
    std::lock_guard lock(mu_);
    if (free_ == 0) return std::nullopt;
    --free_;
  }
  const bool matches = hash ? verify_password(*hash, password) : (verify_password(dummy_hash(), password), false);
  std::lock_guard lock(mu_);
  ++free_;
  return matches;
}

}  // namespace bt::collector::access
