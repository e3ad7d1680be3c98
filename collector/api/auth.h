// Who may use the read API and the UI. A request is let in by one
// credential, looked for in this order:
//  1. `Authorization: Bearer <token>` (token.h), checked against the store
//     on every request, so a revoked token is refused from the revocation's
//     commit on (no cache to go stale);
//  2. the UI's session cookie (a `bts_` credential, collector/access/,
//     set by the login form, collector/ui/login.h), read from access.db on
//     every request: a logout, a removed user or a changed password ends it
//     at once; the role is the user's now;
//  3. a client certificate the TLS session verified (serve --client-ca)
//     whose SHA-256 or subject the config maps to a role
//     ([[access.certificate]], docs/collector-config.md).
// None: 401. A credential that is not valid (malformed, unknown, wrong
// secret, revoked): 401, logged with the client's address and why, never
// with the secret, and counted against the address (limiter.h): past the
// limit every request from it is 429 with Retry-After until it ages out.
// An expired session is 401 too, but not counted (a browser left open).
// A request let in by the cookie that would change something (not GET or
// HEAD) must also come from the UI's own origin (same_origin): 403 else.
// Agents' credentials (batch signatures, client certificates not in the
// map) grant nothing here; http/ refuses bearer tokens, cookies and
// mapped certificates on the agents' endpoints.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "collector/access/access_db.h"
#include "collector/api/limiter.h"
#include "collector/api/request.h"
#include "collector/store/store.h"

namespace bt::collector::api {

// The session cookie: `__Host-` (Secure, Path=/, no Domain: no subdomain
// can set or shadow it) where the cookie is Secure, a plain name on plain
// HTTP, where a browser refuses both.
inline constexpr std::string_view kSessionCookie = "buildtrail_session";
inline constexpr std::string_view kSecureSessionCookie = "__Host-buildtrail_session";
inline constexpr std::string_view kSessionPrefix = "bts_";

// What let a request in.
struct Principal {
  enum class Via { kToken, kSession, kCertificate };
  Via via = Via::kToken;
  std::string name;  // the token's, the user's, or the certificate's in the config
  std::string id;    // the token's or the session's id; empty for a certificate
  store::ApiRole role = store::ApiRole::kViewer;
  uint64_t last_used_ns = 0;  // a token's, as stored
};
const char* via_name(Principal::Via via);

// One [[access.certificate]] of the config: a person's client certificate,
// by the SHA-256 of its DER or by its subject DN (one of the two).
struct CertificateRole {
  std::string name;
  std::string sha256;   // lowercase hex
  std::string subject;  // RFC 4514, as GnuTLS prints it
  store::ApiRole role = store::ApiRole::kViewer;
};

struct AccessSettings {
  std::vector<CertificateRole> certificates;
  // Origins accepted for state-changing UI requests besides the listener's
  // own (scheme://Host): a proxy in front that serves another name.
  std::vector<std::string> origins;
  // The session cookie is Secure (and named __Host-...). serve sets it
  // with TLS, or when the config says a TLS proxy is in front.
  bool secure_cookie = false;
  FailureLimiter::Limits limits;
};

class Authenticator {
 public:
  // The stored token with this id, if any.
  using TokenLookup = std::function<Result<std::optional<store::ApiToken>>(const std::string& id)>;
  // The stored session with this id, if any (null: no sessions at all).
  using SessionLookup = std::function<Result<std::optional<access::Session>>(const std::string& id)>;
  // Where refusals are told (the collector's log); one line each.
  using Log = std::function<void(const std::string& line)>;

  Authenticator(TokenLookup tokens, SessionLookup sessions, Log log, AccessSettings settings = {})
      : tokens_(std::move(tokens)),
        sessions_(std::move(sessions)),
        log_(std::move(log)),
        settings_(std::move(settings)),
        limiter_(settings_.limits) {}

  // Who the request is, when it presents a valid credential; else the
  // response refusing it. `monotonic_ns` is the limiter's clock, `now_ns`
  // the wall clock sessions expire by.
  std::variant<Principal, Response> authenticate(const Request& req, uint64_t monotonic_ns, uint64_t now_ns);

  // The mapping of the request's verified client certificate, if any.
  const CertificateRole* certificate_role(const Request& req) const;
  // The session cookie's value, when the request carries it.
  std::optional<std::string_view> session_cookie(const Request& req) const;
  std::string_view cookie_name() const { return settings_.secure_cookie ? kSecureSessionCookie : kSessionCookie; }
  const AccessSettings& settings() const { return settings_; }
  // Whether a browser sent the request from the UI's own pages: Origin is
  // this listener's scheme://Host (or a configured origin), and
  // Sec-Fetch-Site, when sent, says same-origin.
  bool same_origin(const Request& req) const;
  // The failed credentials per address (shared with the login form).
  FailureLimiter& limiter() { return limiter_; }

 private:
  std::variant<Principal, Response> by_token(const Request& req, const std::string& header, uint64_t monotonic_ns);
  std::variant<Principal, Response> by_session(const Request& req, std::string_view cookie, uint64_t monotonic_ns,
                                               uint64_t now_ns);
  Response refuse(const Request& req, const std::string& what, const std::string& why, uint64_t monotonic_ns);

  TokenLookup tokens_;
  SessionLookup sessions_;
  Log log_;
  AccessSettings settings_;
  FailureLimiter limiter_;
};

// Whether `role` may do what needs `needed` (an admin may do what a viewer may).
bool permits(store::ApiRole role, store::ApiRole needed);

// 429 with Retry-After when the limiter refuses the address now.
std::optional<Response> refused_by_limiter(FailureLimiter& limiter, const Request& req, uint64_t monotonic_ns,
                                           std::string_view what);

}  // namespace bt::collector::api
