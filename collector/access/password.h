// People's passwords (`users add|passwd`, the login form): hashed with
// libsodium's crypto_pwhash_str (Argon2id, its "interactive" limits: 64 MiB
// and 2 passes, about 0.1 s here), which keeps algorithm, limits and salt in
// the string it returns. Unlike API tokens, a password is guessable, so its
// hash must be slow; that makes each check cost memory and CPU anyone who
// can reach the login form can ask for, so checks go through a gate of a
// few at a time (PasswordGate) and failed logins are rate-limited
// (collector/api/limiter.h).
#pragma once

#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "common/result.h"

namespace bt::collector::access {

inline constexpr std::size_t kMinPasswordBytes = 10;
inline constexpr std::size_t kMaxPasswordBytes = 1024;

// 10 to 1024 bytes, no control characters (a pasted newline is a mistake).
Status check_password(std::string_view password);

// A user name: 1 to 64 of A-Z a-z 0-9 . _ @ -, so it prints as it is.
Status check_user_name(std::string_view name);

// The crypto_pwhash_str string of `password`.
Result<std::string> hash_password(std::string_view password);

// Whether `password` is the one `hash` was made from.
bool verify_password(const std::string& hash, std::string_view password);

// At most `slots` password checks at once; the rest are told to come back
// (the login answers 503) rather than queue megabytes each.
class PasswordGate {
 public:
  explicit PasswordGate(int slots) : free_(slots) {}
  // Whether the password matches `hash`, or nothing when every slot is busy.
  // With no hash (an unknown user) a stored dummy is checked, so the
  // answer takes as long as for a user who exists.
  std::optional<bool> verify(const std::optional<std::string>& hash, std::string_view password);

 private:
  const std::string& dummy_hash();

  std::mutex mu_;
  int free_;
  std::once_flag dummy_once_;
  std::string dummy_;
};

}  // namespace bt::collector::access
