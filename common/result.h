// Errors are values at module boundaries: every fallible call in common/,
// transport/ and collector/ returns Result<T>. An Error carries a stable code
// (what class of failure) and a one-line message naming the problem (field,
// offset, file) so callers can print it as is. Exceptions are reserved for
// programmer errors and never cross a module boundary.
#pragma once

#include <string>
#include <utility>
#include <variant>

namespace bt {

enum class ErrorCode {
  kInvalidArgument,  // the caller passed something unusable
  kMalformed,        // outside bytes do not follow the format
  kTruncated,        // outside bytes end early
  kTooLarge,         // a size limit was hit
  kBadSignature,     // authenticity check failed
  kUnknownKey,       // no key for this agent/key id
  kIo,               // the operating system refused (errno in message)
  kExists,           // refusing to overwrite
  kNotFound,
  kCrypto,       // libsodium failure
  kUnavailable,  // a dependency (store, peer) cannot serve now
  kConflict,     // state conflict (e.g. a chain fork)
  kForbidden,    // known, but not allowed (a revoked agent or key)
  kInternal,
};

struct Error {
  ErrorCode code;
  std::string message;
};

template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}      // NOLINT: implicit by design
  Result(Error error) : v_(std::move(error)) {}  // NOLINT
  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T* operator->() { return &std::get<0>(v_); }
  const T* operator->() const { return &std::get<0>(v_); }
  T& operator*() & { return std::get<0>(v_); }
  const Error& error() const { return std::get<1>(v_); }

 private:
  std::variant<T, Error> v_;
};

struct Ok {};
using Status = Result<Ok>;

inline Error make_error(ErrorCode code, std::string message) { return Error{code, std::move(message)}; }

// Prefix an error with context ("agent.key: " + cause), keeping its code.
inline Error with_context(const std::string& context, Error cause) {
  cause.message = context + ": " + cause.message;
  return cause;
}

}  // namespace bt
