// Who may use the read API: a request carries `Authorization: Bearer
// <token>` (token.h), checked against the store on every request, so a
// revoked token is refused from the revocation's commit on (no cache to go
// stale). Missing: 401. Not a valid token (malformed, unknown, wrong
// secret, revoked): 401, logged with the client's address and why, never
// with the token, and counted against the address (limiter.h): past the
// limit every request from it is 429 with Retry-After until it ages out.
// Agents' credentials (batch signatures, client certificates) grant
// nothing here; http/ refuses a bearer token on the agents' endpoints.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <variant>

#include "collector/api/limiter.h"
#include "collector/api/request.h"
#include "collector/store/store.h"

namespace bt::collector::api {

class Authenticator {
 public:
  // The stored token with this id, if any.
  using Lookup = std::function<Result<std::optional<store::ApiToken>>(const std::string& id)>;
  // Where refusals are told (the collector's log); one line each.
  using Log = std::function<void(const std::string& line)>;

  Authenticator(Lookup lookup, Log log, FailureLimiter::Limits limits = {})
      : lookup_(std::move(lookup)), log_(std::move(log)), limiter_(limits) {}

  // The token the request presents, when it is valid; else the response
  // refusing the request. `now_ns` is a monotonic clock (the limiter's).
  std::variant<store::ApiToken, Response> authenticate(const Request& req, uint64_t now_ns);

 private:
  Response refuse(const Request& req, const std::string& why, uint64_t now_ns);

  Lookup lookup_;
  Log log_;
  FailureLimiter limiter_;
};

// Whether `role` may do what needs `needed` (an admin may do what a viewer may).
bool permits(store::ApiRole role, store::ApiRole needed);

}  // namespace bt::collector::api
