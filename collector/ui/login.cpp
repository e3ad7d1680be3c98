#include "collector/ui/login.h"

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <sodium.h>

#include "collector/access/credential.h"
#include "common/clock.h"
#include "common/text.h"

namespace bt::collector::ui {

namespace {

constexpr std::size_t kMaxLoginBody = 4096;

api::Response json(int status, const std::vector<std::pair<const char*, std::string>>& fields) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  w.StartObject();
  for (const auto& [k, v] : fields) {
    w.Key(k);
    w.String(v.data(), static_cast<rapidjson::SizeType>(v.size()));
  }
  w.EndObject();
  api::Response r;
  r.status = status;
  r.body = text::json_printable(std::string_view(buf.GetString(), buf.GetSize())) + "\n";
  r.headers.emplace_back("Cache-Control", "no-store");
  return r;
}

api::Response not_same_origin() {
  return api::error_response(403, "log in and out from the UI's own pages (the Origin header is not this listener's)");
}

struct Form {
  std::string user, password;
};

// {"user":"…","password":"…"} and nothing else; the error never quotes
// the body (it holds a password).
std::optional<Form> parse_form(const api::Request& req) {
  if (req.body.size() > kMaxLoginBody || req.content_type.rfind("application/json", 0) != 0) return std::nullopt;
  rapidjson::Document parsed;
  parsed.Parse(req.body.data(), req.body.size());
  const rapidjson::Document& d = parsed;  // const: clang 14 compares RapidJSON's const iterators only
  if (d.HasParseError() || !d.IsObject() || d.MemberCount() != 2 || !d.HasMember("user") || !d.HasMember("password") ||
      !d["user"].IsString() || !d["password"].IsString())
    return std::nullopt;
  Form f;
  f.user.assign(d["user"].GetString(), d["user"].GetStringLength());
  f.password.assign(d["password"].GetString(), d["password"].GetStringLength());
  return f;
}

}  // namespace

std::string Login::cookie(const std::string& value, uint64_t max_age_s) const {
  return std::string(auth_.cookie_name()) + "=" + value + "; Path=/; Max-Age=" + std::to_string(max_age_s) +
         "; HttpOnly; SameSite=Strict" + (auth_.settings().secure_cookie ? "; Secure" : "");
}

api::Response Login::refuse(const api::Request& req, const std::string& why) {
  const std::string who = text::printable(req.client_address);
  log_("ui: failed login from " + who + ": " + why);
  if (limiter_.failed(req.client_address, clock::monotonic_ns()))
    log_("ui: " + who + " refused for a while: too many failed logins in a minute");
  return api::error_response(401, "wrong user name or password");
}

api::Response Login::login(const api::Request& req) {
  if (!auth_.same_origin(req)) return not_same_origin();
  if (auto limited = api::refused_by_limiter(limiter_, req, clock::monotonic_ns(), "failed logins")) return *limited;
  auto form = parse_form(req);
  if (!form) return api::error_response(400, "send {\"user\":…,\"password\":…} as application/json, at most 4 KiB");
  Result<std::optional<access::User>> user = std::optional<access::User>();
  if (access::check_user_name(form->user)) user = db_.user(form->user);
  if (!user) {
    log_("ui: cannot check a login: " + text::printable(user.error().message));
    api::Response r = api::error_response(503, "cannot check the login now; retry later");
    r.retry_after_s = 1;
    return r;
  }
  const auto& found = *user;
  const auto matches = gate_.verify(found ? std::optional(found->password_hash) : std::nullopt, form->password);
  sodium_memzero(form->password.data(), form->password.size());
  if (!matches) {
    api::Response r = api::error_response(503, "too many logins at once; retry in a second");
    r.retry_after_s = 1;
    return r;
  }
  // A name that is not a user's is not logged: it may be a password typed
  // into the wrong field.
  if (!found) return refuse(req, "an unknown user name (not shown)");
  if (!*matches) return refuse(req, "wrong password for user '" + found->name + "'");
  return open_session(req, *found);
}

api::Response Login::open_session(const api::Request& req, const access::User& user) {
  const uint64_t now = clock::now_ns();
  (void)db_.remove_expired_sessions(now);
  auto credential = access::make_credential(api::kSessionPrefix);
  if (!credential) return api::error_response(500, "cannot make a session");
  access::Session s;
  s.id = credential->id;
  s.hash = access::credential_hash(credential->text);
  s.user = user.name;
  s.created_ns = now;
  s.expires_ns = now + settings_.session_ns;
  if (Status added = db_.add_session(s); !added) {
    log_("ui: cannot open a session: " + text::printable(added.error().message));
    return api::error_response(503, "cannot open a session now; retry later");
  }
  log_("ui: user '" + user.name + "' logged in from " + text::printable(req.client_address) + " (" +
       store::api_role_name(user.role) + ")");
  api::Response r = json(200, {{"user", user.name}, {"role", store::api_role_name(user.role)}});
  r.headers.emplace_back("Set-Cookie", cookie(credential->text, settings_.session_ns / 1000000000));
  sodium_memzero(credential->text.data(), credential->text.size());
  return r;
}

api::Response Login::logout(const api::Request& req) {
  if (!auth_.same_origin(req)) return not_same_origin();
  auto who = auth_.authenticate(req, clock::monotonic_ns(), clock::now_ns());
  api::Response r = json(200, {{"status", "logged out"}});
  if (const auto* p = std::get_if<api::Principal>(&who); p && p->via == api::Principal::Via::kSession) {
    if (Status s = db_.remove_session(p->id); !s) {
      log_("ui: cannot end a session: " + text::printable(s.error().message));
      return api::error_response(503, "cannot end the session now; retry later");
    }
    log_("ui: user '" + p->name + "' logged out from " + text::printable(req.client_address));
  }
  // The browser forgets the cookie whether or not it was still valid.
  r.headers.emplace_back("Set-Cookie", cookie("", 0));
  return r;
}

api::Response Login::whoami(const api::Request& req) {
  auto who = auth_.authenticate(req, clock::monotonic_ns(), clock::now_ns());
  if (auto* refused = std::get_if<api::Response>(&who)) return std::move(*refused);
  const auto& p = std::get<api::Principal>(who);
  return json(200, {{"user", p.name}, {"role", store::api_role_name(p.role)}, {"via", api::via_name(p.via)}});
}

}  // namespace bt::collector::ui
