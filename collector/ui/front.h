// Everything under /ui/ (issue 21): the embedded assets (public: the login
// page needs them, and they are the code of this repository), the login
// page, the login/logout/session endpoints (login.h), and the application
// page for every other path (/ui/, /ui/builds/12/egress, ...: the script
// routes by path, so each view has its own address and a reload lands on
// it). The application page needs a credential; without one it redirects
// to the login page. Every answer carries a Content-Security-Policy that
// allows only this origin's scripts and styles, no inline script, and no
// framing.
#pragma once

#include "collector/api/request.h"
#include "collector/ui/login.h"

namespace bt::collector::ui {

class Front {
 public:
  Front(api::Authenticator& auth, access::AccessDb& db, api::Authenticator::Log log, LoginSettings settings)
      : auth_(auth), login_(auth, db, std::move(log), settings) {}

  // Thread-safe. `req.path` starts with /ui.
  api::Response handle(const api::Request& req);

 private:
  api::Response route(const api::Request& req);
  api::Response page(const api::Request& req, const char* asset);

  api::Authenticator& auth_;
  Login login_;
};

// The security headers of every /ui/ answer.
void add_security_headers(api::Response& r);

}  // namespace bt::collector::ui
