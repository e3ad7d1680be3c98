// The UI's login, logout and "who am I" (docs/collector-api.md "The UI and
// its sessions"). POST /ui/login takes {"user","password"} as JSON from the
// login page's script and answers with the session cookie (HttpOnly,
// SameSite=Strict, Path=/, Secure and named __Host-... where the cookie is
// Secure: api/auth.h); POST /ui/logout forgets the session. Both must come
// from the UI's own origin (Authenticator::same_origin), and a JSON body is
// something no cross-site form can send. Failed logins are logged with the
// address and the user name when it is a user's (a password typed into the
// name field is never logged), never with the password, and counted per
// address (api/limiter.h): past the limit the form answers 429.
#pragma once

#include <cstdint>

#include "collector/access/access_db.h"
#include "collector/access/password.h"
#include "collector/api/auth.h"
#include "collector/api/request.h"

namespace bt::collector::ui {

struct LoginSettings {
  uint64_t session_ns = 12ull * 3600 * 1000000000;
  api::FailureLimiter::Limits limits{5, 60ull * 1000000000, 10000};
  int password_slots = 2;  // password checks at once (64 MiB each)
};

class Login {
 public:
  Login(api::Authenticator& auth, access::AccessDb& db, api::Authenticator::Log log, LoginSettings settings)
      : auth_(auth),
        db_(db),
        log_(std::move(log)),
        settings_(settings),
        limiter_(settings.limits),
        gate_(settings.password_slots) {}

  api::Response login(const api::Request& req);
  api::Response logout(const api::Request& req);
  // GET /ui/session: {"user","role","via"} of the request's credential.
  api::Response whoami(const api::Request& req);

 private:
  api::Response refuse(const api::Request& req, const std::string& why);
  api::Response open_session(const api::Request& req, const access::User& user);
  std::string cookie(const std::string& value, uint64_t max_age_s) const;

  api::Authenticator& auth_;
  access::AccessDb& db_;
  api::Authenticator::Log log_;
  LoginSettings settings_;
  api::FailureLimiter limiter_;
  access::PasswordGate gate_;
};

}  // namespace bt::collector::ui
