#include "collector/api/auth.h"

#include <strings.h>

#include "collector/api/token.h"
#include "common/text.h"

namespace bt::collector::api {

namespace {

constexpr const char* kChallenge = "Bearer realm=\"buildtrail\"";
constexpr const char* kInvalidChallenge = "Bearer realm=\"buildtrail\", error=\"invalid_token\"";

Response unauthorized(const char* challenge, std::string_view message) {
  Response r = error_response(401, message);
  r.headers.emplace_back("WWW-Authenticate", challenge);
  return r;
}

// The credential of "Bearer <credential>" (the scheme in any case), or
// nothing when the header is of another scheme or shape.
std::optional<std::string_view> bearer_credential(std::string_view header) {
  constexpr std::string_view kScheme = "bearer";
  if (header.size() <= kScheme.size() || strncasecmp(header.data(), kScheme.data(), kScheme.size()) != 0 ||
      header[kScheme.size()] != ' ')
    return std::nullopt;
  std::string_view rest = header.substr(kScheme.size());
  while (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
  while (!rest.empty() && rest.back() == ' ') rest.remove_suffix(1);
  if (rest.empty() || rest.find(' ') != std::string_view::npos) return std::nullopt;
  return rest;
}

}  // namespace

bool permits(store::ApiRole role, store::ApiRole needed) {
  return role == store::ApiRole::kAdmin || needed == store::ApiRole::kViewer;
}

Response Authenticator::refuse(const Request& req, const std::string& why, uint64_t now_ns) {
  const std::string who = text::printable(req.client_address);
  log_("api: refused a token from " + who + ": " + why);
  if (limiter_.failed(req.client_address, now_ns))
    log_("api: " + who + " refused for a while: too many invalid tokens in a minute");
  return unauthorized(kInvalidChallenge, "the bearer token is not valid");
}

std::variant<store::ApiToken, Response> Authenticator::authenticate(const Request& req, uint64_t now_ns) {
  if (const int wait_s = limiter_.refused_for_s(req.client_address, now_ns); wait_s > 0) {
    Response r =
        error_response(429, "too many invalid tokens from this address; retry in " + std::to_string(wait_s) + " s");
    r.retry_after_s = wait_s;
    return r;
  }
  if (req.authorization.empty())
    return unauthorized(kChallenge, "a bearer token is required: Authorization: Bearer <token> (tokens create)");
  if (req.authorization.size() > 1) return refuse(req, "more than one Authorization header", now_ns);
  const auto credential = bearer_credential(req.authorization[0]);
  if (!credential) return refuse(req, "not a bearer token", now_ns);
  const auto id = token_id(*credential);
  if (!id) return refuse(req, "not shaped as a buildtrail API token", now_ns);
  auto row = lookup_(*id);
  if (!row) {
    log_("api: cannot check a token: " + text::printable(row.error().message));
    Response r = error_response(503, "cannot check the token now; retry later");
    r.retry_after_s = 1;
    return r;
  }
  if (!*row) return refuse(req, "unknown token", now_ns);
  const store::ApiToken& token = **row;
  const std::string named = " (token '" + text::printable(token.name) + "')";
  if (!token_matches(token, *credential)) return refuse(req, "wrong secret" + named, now_ns);
  if (token.revoked_ns) return refuse(req, "revoked" + named, now_ns);
  return token;
}

}  // namespace bt::collector::api
