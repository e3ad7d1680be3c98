#include "common/result.h"

namespace bt {

const char* error_code_name(ErrorCode code) {
  switch (code) {
    case ErrorCode::kInvalidArgument: return "invalid_argument";
    case ErrorCode::kMalformed: return "malformed";
    case ErrorCode::kTruncated: return "truncated";
    case ErrorCode::kTooLarge: return "too_large";
    case ErrorCode::kBadSignature: return "bad_signature";
    case ErrorCode::kUnknownKey: return "unknown_key";
    case ErrorCode::kIo: return "io";
    case ErrorCode::kExists: return "exists";
    case ErrorCode::kNotFound: return "not_found";
    case ErrorCode::kCrypto: return "crypto";
    case ErrorCode::kUnavailable: return "unavailable";
    case ErrorCode::kConflict: return "conflict";
    case ErrorCode::kInternal: return "internal";
  }
  return "unknown";
}

}  // namespace bt
