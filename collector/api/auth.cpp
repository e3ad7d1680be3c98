#include "collector/api/auth.h"

#include <strings.h>

#include <algorithm>

#include "collector/access/credential.h"
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

Response cannot_check(const Authenticator::Log& log, const Error& e) {
  log("api: cannot check a credential: " + text::printable(e.message));
  Response r = error_response(503, "cannot check the credential now; retry later");
  r.retry_after_s = 1;
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

bool is_read(const Request& req) { return req.method == "GET" || req.method == "HEAD"; }

}  // namespace

const char* via_name(Principal::Via via) {
  switch (via) {
    case Principal::Via::kToken:
      return "token";
    case Principal::Via::kSession:
      return "session";
    case Principal::Via::kCertificate:
      return "certificate";
  }
  return "?";
}

bool permits(store::ApiRole role, store::ApiRole needed) {
  return role == store::ApiRole::kAdmin || needed == store::ApiRole::kViewer;
}

std::optional<Response> refused_by_limiter(FailureLimiter& limiter, const Request& req, uint64_t monotonic_ns,
                                           std::string_view what) {
  const int wait_s = limiter.refused_for_s(req.client_address, monotonic_ns);
  if (wait_s <= 0) return std::nullopt;
  Response r = error_response(
      429, "too many " + std::string(what) + " from this address; retry in " + std::to_string(wait_s) + " s");
  r.retry_after_s = wait_s;
  return r;
}

Response Authenticator::refuse(const Request& req, const std::string& what, const std::string& why,
                               uint64_t monotonic_ns) {
  const std::string who = text::printable(req.client_address);
  log_("api: refused a " + what + " from " + who + ": " + why);
  if (limiter_.failed(req.client_address, monotonic_ns))
    log_("api: " + who + " refused for a while: too many invalid credentials in a minute");
  if (what == "token") return unauthorized(kInvalidChallenge, "the bearer token is not valid");
  return unauthorized(kChallenge, "the session is not valid; log in again");
}

std::variant<Principal, Response> Authenticator::authenticate(const Request& req, uint64_t monotonic_ns,
                                                              uint64_t now_ns) {
  if (auto limited = refused_by_limiter(limiter_, req, monotonic_ns, "invalid credentials")) return std::move(*limited);
  if (req.authorization.size() > 1) return refuse(req, "token", "more than one Authorization header", monotonic_ns);
  if (req.authorization.size() == 1) return by_token(req, req.authorization[0], monotonic_ns);
  if (const auto cookie = session_cookie(req)) {
    auto who = by_session(req, *cookie, monotonic_ns, now_ns);
    if (std::holds_alternative<Principal>(who) && !is_read(req) && !same_origin(req)) {
      log_("api: refused a " + req.method + " with a session cookie from " + text::printable(req.client_address) +
           ": not from the UI's origin (Origin '" + text::printable(req.origin) + "')");
      return error_response(403, "a request that changes something must come from the UI's own pages");
    }
    return who;
  }
  if (const CertificateRole* mapped = certificate_role(req)) {
    Principal p;
    p.via = Principal::Via::kCertificate;
    p.name = mapped->name;
    p.role = mapped->role;
    return p;
  }
  return unauthorized(kChallenge,
                      "a credential is required: Authorization: Bearer <token> (tokens create), or log in at /ui/");
}

std::variant<Principal, Response> Authenticator::by_token(const Request& req, const std::string& header,
                                                          uint64_t monotonic_ns) {
  const auto credential = bearer_credential(header);
  if (!credential) return refuse(req, "token", "not a bearer token", monotonic_ns);
  const auto id = token_id(*credential);
  if (!id) return refuse(req, "token", "not shaped as a buildtrail API token", monotonic_ns);
  auto row = tokens_(*id);
  if (!row) return cannot_check(log_, row.error());
  if (!*row) return refuse(req, "token", "unknown token", monotonic_ns);
  const store::ApiToken& token = **row;
  const std::string named = " (token '" + text::printable(token.name) + "')";
  if (!token_matches(token, *credential)) return refuse(req, "token", "wrong secret" + named, monotonic_ns);
  if (token.revoked_ns) return refuse(req, "token", "revoked" + named, monotonic_ns);
  Principal p;
  p.via = Principal::Via::kToken;
  p.name = token.name;
  p.id = token.id;
  p.role = token.role;
  p.last_used_ns = token.last_used_ns;
  return p;
}

std::variant<Principal, Response> Authenticator::by_session(const Request& req, std::string_view cookie,
                                                            uint64_t monotonic_ns, uint64_t now_ns) {
  const auto id = access::credential_id(kSessionPrefix, cookie);
  if (!id) return refuse(req, "session", "a session cookie not shaped as one", monotonic_ns);
  if (!sessions_) return refuse(req, "session", "sessions are not served here", monotonic_ns);
  auto row = sessions_(*id);
  if (!row) return cannot_check(log_, row.error());
  if (!*row) return refuse(req, "session", "unknown session (logged out, or its user removed)", monotonic_ns);
  const access::Session& session = **row;
  if (!access::credential_matches(session.hash, cookie))
    return refuse(req, "session", "wrong secret (user '" + text::printable(session.user) + "')", monotonic_ns);
  if (session.expires_ns <= now_ns) return unauthorized(kChallenge, "the session has expired; log in again");
  Principal p;
  p.via = Principal::Via::kSession;
  p.name = session.user;
  p.id = session.id;
  p.role = session.role;
  return p;
}

std::optional<std::string_view> Authenticator::session_cookie(const Request& req) const {
  const std::string_view name = cookie_name();
  for (const auto& [k, v] : req.cookies)
    if (k == name) return std::string_view(v);
  return std::nullopt;
}

const CertificateRole* Authenticator::certificate_role(const Request& req) const {
  if (!req.certificate) return nullptr;
  for (const auto& c : settings_.certificates)
    if ((!c.sha256.empty() && c.sha256 == req.certificate->sha256) ||
        (!c.subject.empty() && c.subject == req.certificate->subject))
      return &c;
  return nullptr;
}

bool Authenticator::same_origin(const Request& req) const {
  if (!req.sec_fetch_site.empty() && req.sec_fetch_site != "same-origin") return false;
  if (req.origin.empty() || req.origin == "null") return false;
  if (!req.host.empty() && req.origin == std::string(req.tls ? "https://" : "http://") + req.host) return true;
  return std::find(settings_.origins.begin(), settings_.origins.end(), req.origin) != settings_.origins.end();
}

}  // namespace bt::collector::api
