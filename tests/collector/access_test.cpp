// Access control of the read API and the UI (issue 21 item 2) in the real
// collector over real HTTP(S): `users` (passwords from stdin, never argv;
// hashed; list shows no hash), the login form's endpoint (Origin checks,
// the cookie's attributes, failures logged without the password and
// rate-limited), the session cookie opening the read API, logout, `users
// passwd` and `users remove` ending sessions, an expired session refused,
// the UI's assets and their headers, and the two directions of the wall
// between agents and people: a session never posts a batch, an agent's
// client certificate never reads, a person's mapped certificate
// ([[access.certificate]]) reads and never posts.
#include <curl/curl.h>
#include <doctest/doctest.h>
#include <rapidjson/document.h>
#include <sys/stat.h>

#include <algorithm>
#include <fstream>
#include <map>

#include "collector/access/access_db.h"
#include "collector/access/credential.h"
#include "collector/access/password.h"
#include "collector/api/auth.h"
#include "collector/config/config.h"
#include "common/clock.h"
#include "tests/collector/collector_process.h"
#include "tests/common/test_pki.h"

using namespace bt;
using namespace bt::testing;

namespace {

const std::string kPassword = "correct horse battery";

struct Answer {
  long status = 0;
  std::string body;
  std::multimap<std::string, std::string> headers;  // names lowercased
  std::string header(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? "" : it->second;
  }
};

struct Call {
  std::string method = "GET";
  std::string body;
  std::vector<std::string> headers;
  std::vector<std::string> tls;  // ca, then optionally cert and key
};

Answer request(const std::string& url, const Call& call = {}) {
  Answer a;
  CURL* c = curl_easy_init();
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_TIMEOUT, 60L);
  curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
  curl_slist* headers = nullptr;
  for (const auto& h : call.headers) headers = curl_slist_append(headers, h.c_str());
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
  if (call.method == "POST") {
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, call.body.data());
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(call.body.size()));
  }
  if (!call.tls.empty()) curl_easy_setopt(c, CURLOPT_CAINFO, call.tls[0].c_str());
  if (call.tls.size() >= 3) {
    curl_easy_setopt(c, CURLOPT_SSLCERT, call.tls[1].c_str());
    curl_easy_setopt(c, CURLOPT_SSLKEY, call.tls[2].c_str());
  }
  auto write = +[](char* p, size_t s, size_t n, void* out) -> size_t {
    static_cast<std::string*>(out)->append(p, s * n);
    return s * n;
  };
  auto header = +[](char* p, size_t s, size_t n, void* out) -> size_t {
    const std::string line(p, s * n);
    const auto colon = line.find(':');
    if (colon != std::string::npos) {
      std::string name = line.substr(0, colon);
      std::transform(name.begin(), name.end(), name.begin(), ::tolower);
      std::string value = line.substr(colon + 1);
      value.erase(0, value.find_first_not_of(' '));
      value.erase(value.find_last_not_of("\r\n ") + 1);
      static_cast<Answer*>(out)->headers.emplace(name, value);
    }
    return s * n;
  };
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, write);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &a.body);
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, header);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, &a);
  curl_easy_perform(c);
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &a.status);
  curl_slist_free_all(headers);
  curl_easy_cleanup(c);
  return a;
}

std::string tool() { return build_path("collector/buildtrail-collector"); }

CommandResult users(const std::string& data, const std::string& args, const std::string& stdin_text = "") {
  return run_command("printf '%s' '" + stdin_text + "' | " + tool() + " users " + args + " --data " + data);
}

std::string origin_of(const CollectorProcess& c) { return "Origin: http://" + c.address(); }

Answer login(const CollectorProcess& c, const std::string& user, const std::string& password,
             std::vector<std::string> headers = {}) {
  Call call;
  call.method = "POST";
  call.body = "{\"user\":\"" + user + "\",\"password\":\"" + password + "\"}";
  call.headers = {"Content-Type: application/json"};
  if (headers.empty()) headers = {origin_of(c)};
  for (auto& h : headers) call.headers.push_back(h);
  return request(c.url("/ui/login"), call);
}

// "name=value" of the Set-Cookie header.
std::string cookie_of(const Answer& a) {
  const std::string set = a.header("set-cookie");
  return set.substr(0, set.find(';'));
}

Answer with_cookie(const std::string& url, const std::string& cookie, const std::string& method = "GET",
                   std::vector<std::string> more = {}) {
  Call call;
  call.method = method;
  call.headers = {"Cookie: " + cookie};
  for (auto& h : more) call.headers.push_back(h);
  return request(url, call);
}

}  // namespace

TEST_CASE("access: passwords hashed with crypto_pwhash_str, names and passwords checked, credentials shaped") {
  const auto hash = collector::access::hash_password(kPassword).value();
  CHECK(hash.rfind("$argon2id$", 0) == 0);
  CHECK(hash.find(kPassword) == std::string::npos);
  CHECK(collector::access::verify_password(hash, kPassword));
  CHECK_FALSE(collector::access::verify_password(hash, "correct horse batterY"));
  CHECK_FALSE(collector::access::check_password("short"));
  CHECK_FALSE(collector::access::check_password("has a\nnewline in it"));
  CHECK(collector::access::check_user_name("alice@example.com"));
  CHECK_FALSE(collector::access::check_user_name("<img src=x>"));
  collector::access::PasswordGate gate(1);
  CHECK(gate.verify(hash, kPassword) == std::optional(true));
  CHECK(gate.verify(std::nullopt, kPassword) == std::optional(false));  // an unknown user: the dummy, never true
  const auto c = collector::access::make_credential("bts_").value();
  CHECK(collector::access::credential_id("bts_", c.text) == std::optional(c.id));
  CHECK_FALSE(collector::access::credential_id("btk_", c.text));
  CHECK(collector::access::credential_matches(collector::access::credential_hash(c.text), c.text));
  std::string other = c.text;
  other.back() = other.back() == 'A' ? 'B' : 'A';
  CHECK_FALSE(collector::access::credential_matches(collector::access::credential_hash(c.text), other));
}

TEST_CASE("access: the [access] table and its certificates, each mistake one line naming the key") {
  using collector::config::parse_toml;
  const auto good = parse_toml(
      "[access]\nsession_hours = 8\norigins = [\"https://bt.example.com\"]\nsecure_cookie = true\n"
      "[[access.certificate]]\nname = \"alice\"\nsubject = \"CN=alice,O=Example\"\n"
      "[[access.certificate]]\nname = \"laptop\"\nrole = \"admin\"\nsha256 = \"" +
          std::string(31, 'A') + ":" + std::string(33, 'b') + "\"\n",
      "t.toml");
  REQUIRE_MESSAGE(good.ok(), good.error().message);
  const auto& a = good->access;
  CHECK(a.session_hours == 8);
  CHECK(a.secure_cookie);
  CHECK(a.origins == std::vector<std::string>{"https://bt.example.com"});
  REQUIRE(a.certificates.size() == 2);
  CHECK(a.certificates[0].role == "viewer");
  CHECK(a.certificates[1].sha256 == std::string(31, 'a') + std::string(33, 'b'));
  CHECK(parse_toml("", "t.toml")->access.session_hours == 12);
  const std::pair<const char*, const char*> bad[] = {
      {"[access]\nsession = 1\n", "t.toml: access: unknown key 'session'"},
      {"[access]\nsession_hours = 0\n", "t.toml: access: session_hours: 1 to 720"},
      {"[access]\nsession_hours = \"8h\"\n", "t.toml: access: session_hours: expected a non-negative integer"},
      {"[access]\norigins = [\"https://bt.example.com/ui\"]\n", "t.toml: access: origins: each one"},
      {"[[access.certificate]]\nname = \"x\"\n", "t.toml: access.certificate 'x': give one of sha256 and subject"},
      {"[[access.certificate]]\nname = \"x\"\nsha256 = \"abc\"\n", "sha256: 64 hex digits"},
      {"[[access.certificate]]\nname = \"x\"\nsubject = \"CN=x\"\nrole = \"root\"\n",
       "role: viewer or admin, not 'root'"},
      {"[[access.certificate]]\nsubject = \"CN=x\"\n", "access.certificate 1: missing key 'name'"},
      {"[[access.certificate]]\nname = \"x\"\nsubject = \"CN=x\"\n[[access.certificate]]\nname = \"x\"\n"
       "subject = \"CN=y\"\n",
       "name: used by another certificate"},
  };
  for (const auto& row : bad) {  // not a structured binding: clang 14 cannot capture one (doctest's lambdas)
    const auto r = parse_toml(row.first, "t.toml");
    REQUIRE_MESSAGE(!r.ok(), row.first);
    CHECK_MESSAGE(r.error().message.find(row.second) != std::string::npos, r.error().message);
  }
}

TEST_CASE("access: users add|list|passwd|remove; the password from stdin, never argv; access.db is private") {
  const std::string data = make_temp_dir("users") + "/data";
  auto added = users(data, "add --role admin alice", kPassword + "\n");
  REQUIRE_MESSAGE(added.exit_code == 0, added.output);
  CHECK(added.output.find("user 'alice' added (admin)") != std::string::npos);
  CHECK(users(data, "add alice", kPassword + "\n").exit_code == 1);  // exists
  CHECK(users(data, "add bob", "short\n").exit_code == 1);           // too short
  CHECK(users(data, "add bob").exit_code == 1);                      // no password at all
  CHECK(users(data, "add bob " + kPassword).exit_code == 2);         // a password in argv is refused
  CHECK(users(data, "add '<b>'", kPassword + "\n").exit_code == 2);  // a name that does not print as it is
  auto list = users(data, "list");
  CHECK(list.exit_code == 0);
  CHECK(list.output.find("alice") != std::string::npos);
  CHECK(list.output.find("admin") != std::string::npos);
  CHECK(list.output.find("argon2") == std::string::npos);
  struct stat st {};
  REQUIRE(::stat((data + "/access.db").c_str(), &st) == 0);
  CHECK((st.st_mode & 077) == 0);
  auto db = collector::access::AccessDb::open(data).value();
  const auto before = db->user("alice").value().value().password_hash;
  CHECK(users(data, "passwd alice", "another long password\n").exit_code == 0);
  const auto after = db->user("alice").value().value().password_hash;
  CHECK(before != after);
  CHECK(collector::access::verify_password(after, "another long password"));
  CHECK(users(data, "passwd nobody", kPassword + "\n").exit_code == 1);
  CHECK(users(data, "remove alice").exit_code == 0);
  CHECK(users(data, "remove alice").exit_code == 1);
  CHECK_FALSE(db->user("alice").value().has_value());
}

TEST_CASE("access: the login form, the session cookie, logout, passwd and remove ending sessions") {
  const std::string root = make_temp_dir("login");
  const std::string data = root + "/data";
  REQUIRE(users(data, "add alice", kPassword + "\n").exit_code == 0);
  CollectorProcess c(data);
  REQUIRE(c.running());

  SUBCASE("without a credential nothing is read, and the pages send the browser to the login form") {
    CHECK(request(c.url("/v1/alerts")).status == 401);
    CHECK(request(c.url("/ui/session")).status == 401);
    const auto page = request(c.url("/ui/builds/7/egress"));
    CHECK(page.status == 303);
    CHECK(page.header("location") == "/ui/login?next=/ui/builds/7/egress");
    CHECK(request(c.url("/ui/login")).status == 200);  // the form and its assets need no credential
    CHECK(request(c.url("/ui/assets/login.js")).status == 200);
  }

  SUBCASE("logging in needs the UI's own origin and a JSON body") {
    CHECK(login(c, "alice", kPassword, {"X-None: 1"}).status == 403);                     // no Origin
    CHECK(login(c, "alice", kPassword, {"Origin: https://evil.example"}).status == 403);  // another site
    CHECK(login(c, "alice", kPassword, {"Origin: null"}).status == 403);
    CHECK(login(c, "alice", kPassword, {origin_of(c), "Sec-Fetch-Site: cross-site"}).status == 403);
    Call form;
    form.method = "POST";
    form.body = "user=alice&password=" + kPassword;
    form.headers = {origin_of(c), "Content-Type: application/x-www-form-urlencoded"};
    CHECK(request(c.url("/ui/login"), form).status == 400);  // what a cross-site form could send
  }

  SUBCASE("a login sets a strict HttpOnly cookie that opens the read API; logout ends it") {
    const auto ok = login(c, "alice", kPassword);
    REQUIRE_MESSAGE(ok.status == 200, ok.body);
    const std::string set = ok.header("set-cookie");
    CHECK(set.rfind("buildtrail_session=bts_", 0) == 0);
    CHECK(set.find("; HttpOnly") != std::string::npos);
    CHECK(set.find("; SameSite=Strict") != std::string::npos);
    CHECK(set.find("; Path=/") != std::string::npos);
    CHECK(set.find("; Max-Age=43200") != std::string::npos);
    CHECK(set.find("Secure") == std::string::npos);  // plain HTTP: a browser would drop a Secure cookie
    const std::string cookie = cookie_of(ok);
    CHECK(with_cookie(c.url("/v1/alerts"), cookie).status == 200);
    const auto who = with_cookie(c.url("/ui/session"), cookie);
    CHECK(who.body == "{\"user\":\"alice\",\"role\":\"viewer\",\"via\":\"session\"}\n");
    CHECK(with_cookie(c.url("/ui/"), cookie).status == 200);
    // A state-changing request with the cookie from another origin is refused.
    CHECK(with_cookie(c.url("/ui/logout"), cookie, "POST", {"Origin: https://evil.example"}).status == 403);
    CHECK(with_cookie(c.url("/v1/alerts"), cookie).status == 200);
    const auto out = with_cookie(c.url("/ui/logout"), cookie, "POST", {origin_of(c)});
    CHECK(out.status == 200);
    CHECK(out.header("set-cookie").find("Max-Age=0") != std::string::npos);
    CHECK(with_cookie(c.url("/v1/alerts"), cookie).status == 401);
    CHECK(c.log().find("ui: user 'alice' logged out from 127.0.0.1") != std::string::npos);
  }

  SUBCASE("users passwd and users remove end the sessions of the user at once") {
    const std::string first = cookie_of(login(c, "alice", kPassword));
    REQUIRE(with_cookie(c.url("/v1/alerts"), first).status == 200);
    REQUIRE(users(data, "passwd alice", "a brand new password\n").exit_code == 0);
    CHECK(with_cookie(c.url("/v1/alerts"), first).status == 401);
    CHECK(login(c, "alice", kPassword).status == 401);
    const std::string second = cookie_of(login(c, "alice", "a brand new password"));
    REQUIRE(with_cookie(c.url("/v1/alerts"), second).status == 200);
    REQUIRE(users(data, "remove alice").exit_code == 0);
    CHECK(with_cookie(c.url("/v1/alerts"), second).status == 401);
  }

  SUBCASE("an expired session is refused") {
    auto db = collector::access::AccessDb::open(data).value();
    const auto cred = collector::access::make_credential(collector::api::kSessionPrefix).value();
    collector::access::Session s;
    s.id = cred.id;
    s.hash = collector::access::credential_hash(cred.text);
    s.user = "alice";
    s.created_ns = clock::now_ns() - 2000;
    s.expires_ns = clock::now_ns() - 1000;
    REQUIRE(db->add_session(s).ok());
    const auto r = with_cookie(c.url("/v1/alerts"), "buildtrail_session=" + cred.text);
    CHECK(r.status == 401);
    CHECK(r.body.find("expired") != std::string::npos);
  }

  SUBCASE("failed logins are logged without the password and rate-limited per address") {
    for (int i = 0; i < 5; ++i) CHECK(login(c, "alice", "wrong password " + std::to_string(i)).status == 401);
    CHECK(login(c, "my secret in the name field", "whatever it is").status == 429);
    const auto limited = login(c, "alice", kPassword);
    CHECK(limited.status == 429);
    CHECK(!limited.header("retry-after").empty());
    const std::string log = c.log();
    CHECK(log.find("ui: failed login from 127.0.0.1: wrong password for user 'alice'") != std::string::npos);
    CHECK(log.find("ui: 127.0.0.1 refused for a while: too many failed logins in a minute") != std::string::npos);
    CHECK(log.find("wrong password 3") == std::string::npos);
    CHECK(log.find(kPassword) == std::string::npos);
    // The read API's tokens are counted apart: the address still reads with one.
    CHECK(request(c.url("/v1/alerts")).status == 401);
  }

  SUBCASE("an unknown user's name is not logged: it may be a password typed in the wrong field") {
    CHECK(login(c, "hunter2hunter2", "whatever it is").status == 401);
    CHECK(c.log().find("hunter2hunter2") == std::string::npos);
    CHECK(c.log().find("an unknown user name (not shown)") != std::string::npos);
  }

  SUBCASE("a UI session never posts a batch") {
    const std::string cookie = cookie_of(login(c, "alice", kPassword));
    Call post;
    post.method = "POST";
    post.body = "not a batch";
    post.headers = {"Cookie: " + cookie};
    const auto r = request(c.url("/v1/batches"), post);
    CHECK(r.status == 403);
    CHECK(r.body.find("a UI session only reads") != std::string::npos);
    CHECK(request(c.url("/v1/enroll"), post).status == 403);
  }
}

TEST_CASE("access: the UI's assets, with their content types, ETags and security headers") {
  const std::string data = make_temp_dir("assets") + "/data";
  CollectorProcess c(data);
  REQUIRE(c.running());
  const auto js = request(c.url("/ui/assets/app.js"));
  CHECK(js.status == 200);
  CHECK(js.header("content-type") == "text/javascript; charset=utf-8");
  CHECK(js.header("x-content-type-options") == "nosniff");
  CHECK(js.header("x-frame-options") == "DENY");
  const std::string csp = js.header("content-security-policy");
  CHECK(csp.find("script-src 'self'") != std::string::npos);
  CHECK(csp.find("frame-ancestors 'none'") != std::string::npos);
  CHECK(csp.find("unsafe-inline") == std::string::npos);
  CHECK(js.headers.count("content-security-policy") == 1);
  const std::string etag = js.header("etag");
  REQUIRE(etag.size() == 34);
  Call again;
  again.headers = {"If-None-Match: " + etag};
  const auto cached = request(c.url("/ui/assets/app.js"), again);
  CHECK(cached.status == 304);
  CHECK(cached.body.empty());
  CHECK(request(c.url("/ui/assets/style.css")).header("content-type") == "text/css; charset=utf-8");
  CHECK(request(c.url("/ui/login")).header("content-type") == "text/html; charset=utf-8");
  CHECK(request(c.url("/ui/assets/nothing.js")).status == 404);
  CHECK(request(c.url("/ui/assets/../../etc/passwd")).status == 404);
  CHECK(request(c.url("/ui")).status == 308);
  // No inline script in any page: the policy would refuse it anyway.
  for (const char* page : {"/ui/login"}) {
    const auto html = request(c.url(page)).body;
    CHECK(html.find("<script type=\"module\" src=") != std::string::npos);
    CHECK(html.find("<script>") == std::string::npos);
  }
  CHECK(request(c.url("/v1/alerts")).header("content-security-policy") == "default-src 'none'; frame-ancestors 'none'");
}

TEST_CASE("access: agents' certificates never read, a person's mapped certificate reads and never posts") {
  const std::string root = make_temp_dir("mtls");
  TestPki pki;
  // A person's certificate from the same CA: clientAuth, CN=alice.
  const std::string make = "set -e; cd " + pki.dir +
                           "; openssl ecparam -name prime256v1 -genkey -noout -out alice.key"
                           "; openssl req -new -key alice.key -subj '/O=Example/CN=alice' -out alice.csr"
                           "; openssl x509 -req -in alice.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2"
                           " -extfile client.ext -out alice.pem";
  REQUIRE(run_command(make).exit_code == 0);
  const std::string config = root + "/collector.toml";
  std::ofstream(config) << "[access]\n\n[[access.certificate]]\nname = \"alice\"\nsubject = \"CN=alice,O=Example\"\n"
                           "role = \"viewer\"\n";
  CollectorProcess c(root + "/data", {"--tls-cert", pki.f("server.pem"), "--tls-key", pki.f("server.key"),
                                      "--client-ca", pki.f("ca.pem"), "--config", config});
  REQUIRE_MESSAGE(c.running(), c.log());
  const std::string base = "https://" + c.address();
  Call agent;
  agent.tls = {pki.f("ca.pem"), pki.f("client.pem"), pki.f("client.key")};
  Call alice;
  alice.tls = {pki.f("ca.pem"), pki.f("alice.pem"), pki.f("alice.key")};
  CHECK(request(base + "/v1/alerts", agent).status == 401);  // an agent's certificate is not a person's
  CHECK(request(base + "/ui/", agent).status == 303);
  const auto reads = request(base + "/v1/alerts", alice);
  CHECK_MESSAGE(reads.status == 200, reads.body);
  CHECK(request(base + "/ui/session", alice).body ==
        "{\"user\":\"alice\",\"role\":\"viewer\",\"via\":\"certificate\"}\n");
  alice.method = "POST";
  alice.body = "not a batch";
  const auto posts = request(base + "/v1/batches", alice);
  CHECK(posts.status == 403);
  CHECK(posts.body.find("is a person's") != std::string::npos);
  // Over TLS the session cookie is Secure and named __Host-.
  REQUIRE(users(root + "/data", "add bob", kPassword + "\n").exit_code == 0);
  Call form;
  form.method = "POST";
  form.body = "{\"user\":\"bob\",\"password\":\"" + kPassword + "\"}";
  form.headers = {"Content-Type: application/json", "Origin: " + base};
  form.tls = agent.tls;
  const auto ok = request(base + "/ui/login", form);
  CHECK(ok.status == 200);
  CHECK(ok.header("set-cookie").rfind("__Host-buildtrail_session=bts_", 0) == 0);
  CHECK(ok.header("set-cookie").find("; Secure") != std::string::npos);
}
