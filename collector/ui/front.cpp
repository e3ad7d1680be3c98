#include "collector/ui/front.h"

#include "collector/ui/assets.h"
#include "common/clock.h"

namespace bt::collector::ui {

namespace {

constexpr std::string_view kAssets = "/ui/assets/";

// 'self' only; no inline script or style, no eval, no plugins; forms post
// here only; no page may frame the UI; <base> cannot move the origin.
constexpr const char* kPolicy =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

api::Response asset_response(const api::Request& req, const Asset& a) {
  api::Response r;
  r.content_type = a.content_type;
  r.headers.emplace_back("ETag", a.etag);
  // Revalidated on each use (the ETag makes that a 304): the names are not
  // versioned, and a new collector must not run an old script.
  r.headers.emplace_back("Cache-Control", "no-cache");
  if (req.if_none_match == a.etag) {
    r.status = 304;
    return r;
  }
  r.body.assign(reinterpret_cast<const char*>(a.data), a.size);
  return r;
}

api::Response redirect(std::string location, int status = 303) {
  api::Response r;
  r.status = status;
  r.content_type = "text/plain; charset=utf-8";
  r.headers.emplace_back("Location", std::move(location));
  r.headers.emplace_back("Cache-Control", "no-store");
  return r;
}

// The path back after logging in: only our own paths, percent-encoded
// where they are not plain (the login page checks it again).
std::string next_parameter(const std::string& path) {
  std::string out;
  for (unsigned char c : path) {
    const bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '/' ||
                       c == '-' || c == '_' || c == '.';
    if (plain) {
      out += static_cast<char>(c);
    } else {
      constexpr char kHex[] = "0123456789ABCDEF";
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

bool is_get(const api::Request& req) { return req.method == "GET" || req.method == "HEAD"; }

api::Response method_not_allowed(const char* allow) {
  api::Response r = api::error_response(405, std::string("use ") + allow);
  r.headers.emplace_back("Allow", allow);
  return r;
}

}  // namespace

void add_security_headers(api::Response& r) {
  r.headers.emplace_back("Content-Security-Policy", kPolicy);
  r.headers.emplace_back("X-Frame-Options", "DENY");
  r.headers.emplace_back("Referrer-Policy", "no-referrer");
  r.headers.emplace_back("Cross-Origin-Opener-Policy", "same-origin");
  r.headers.emplace_back("Cross-Origin-Resource-Policy", "same-origin");
}

api::Response Front::handle(const api::Request& req) {
  api::Response r = route(req);
  add_security_headers(r);
  return r;
}

api::Response Front::route(const api::Request& req) {
  const std::string_view path = req.path;
  if (path == "/ui") return redirect("/ui/", 308);
  if (path.substr(0, kAssets.size()) == kAssets) {
    if (!is_get(req)) return method_not_allowed("GET, HEAD");
    const Asset* a = find_asset(path.substr(kAssets.size()));
    return a ? asset_response(req, *a) : api::error_response(404, "no such asset");
  }
  if (path == "/ui/login") {
    if (req.method == "POST") return login_.login(req);
    return is_get(req) ? asset_response(req, *find_asset("login.html")) : method_not_allowed("GET, HEAD, POST");
  }
  if (path == "/ui/logout") return req.method == "POST" ? login_.logout(req) : method_not_allowed("POST");
  if (path == "/ui/session") return is_get(req) ? login_.whoami(req) : method_not_allowed("GET, HEAD");
  if (!is_get(req)) return method_not_allowed("GET, HEAD");
  return page(req, "index.html");
}

// The application page, for a request with a credential; the login page
// (by redirect, so the address says where one is) for one without.
api::Response Front::page(const api::Request& req, const char* asset) {
  auto who = auth_.authenticate(req, clock::monotonic_ns(), clock::now_ns());
  if (auto* refused = std::get_if<api::Response>(&who)) {
    if (refused->status != 401) return std::move(*refused);
    return redirect("/ui/login?next=" + next_parameter(req.path));
  }
  api::Response r = asset_response(req, *find_asset(asset));
  // The page is the same for everyone, but only for those let in: no
  // shared cache keeps it.
  r.headers.emplace_back("Vary", "Cookie");
  return r;
}

}  // namespace bt::collector::ui
