#include "collector/http/server.h"

#include <arpa/inet.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <strings.h>

#include <algorithm>
#include <cstring>
#include <string_view>
#include <vector>

#include "collector/http/body.h"
#include "collector/ui/front.h"
#include "common/crypto/keys.h"
#include "common/fs.h"
#include "common/unique_fd.h"

namespace bt::collector::http {

namespace {

// Per-request state, kept in MHD's con_cls slot. The body's bytes are
// reserved from the guard's budget until the request ends.
struct Request {
  Body body;
  Guard* guard = nullptr;
  uint64_t reserved = 0;
  ~Request() {
    if (guard) guard->release(reserved);
  }
};

// The two listeners share the callbacks; this says which one a call is on.
struct Front {
  Server::Impl* impl;
  bool health_only;
};

Result<sockaddr_storage> parse_listen(const std::string& listen, bool* v6) {
  const auto colon = listen.rfind(':');
  if (colon == std::string::npos)
    return make_error(ErrorCode::kInvalidArgument, "--listen wants ADDR:PORT, got '" + listen + "'");
  std::string host = listen.substr(0, colon);
  const std::string port_text = listen.substr(colon + 1);
  char* end = nullptr;
  const long port = std::strtol(port_text.c_str(), &end, 10);
  if (port_text.empty() || *end || port < 0 || port > 65535)
    return make_error(ErrorCode::kInvalidArgument, "--listen: bad port '" + port_text + "'");
  sockaddr_storage ss{};
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
    auto* a = reinterpret_cast<sockaddr_in6*>(&ss);
    a->sin6_family = AF_INET6;
    a->sin6_port = htons(static_cast<uint16_t>(port));
    if (inet_pton(AF_INET6, host.c_str(), &a->sin6_addr) != 1)
      return make_error(ErrorCode::kInvalidArgument, "--listen: bad IPv6 address '" + host + "'");
    *v6 = true;
  } else {
    auto* a = reinterpret_cast<sockaddr_in*>(&ss);
    a->sin_family = AF_INET;
    a->sin_port = htons(static_cast<uint16_t>(port));
    if (host == "localhost") host = "127.0.0.1";
    if (inet_pton(AF_INET, host.c_str(), &a->sin_addr) != 1)
      return make_error(ErrorCode::kInvalidArgument, "--listen: bad IPv4 address '" + host + "'");
    *v6 = false;
  }
  return ss;
}

MHD_Result send(MHD_Connection* c, int status, const std::string& body, const char* type = "application/json",
                int retry_after = 0) {
  MHD_Response* r = MHD_create_response_from_buffer(body.size(), const_cast<char*>(body.data()), MHD_RESPMEM_MUST_COPY);
  if (!r) return MHD_NO;
  MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
  if (retry_after > 0) MHD_add_response_header(r, MHD_HTTP_HEADER_RETRY_AFTER, std::to_string(retry_after).c_str());
  const MHD_Result ret = MHD_queue_response(c, static_cast<unsigned>(status), r);
  MHD_destroy_response(r);
  return ret;
}

std::string json_error(std::string_view message) {
  std::string out = "{\"error\":\"";
  for (char ch : message) {
    if (ch == '"' || ch == '\\') out += '\\';
    if (static_cast<unsigned char>(ch) >= 0x20) out += ch;
  }
  return out + "\"}\n";
}

// With --client-ca, a request is served only over a TLS session whose client
// certificate chains to that CA and may be used by a client: a certificate
// with extended key usages must list clientAuth (a server's certificate,
// serverAuth only, signed by the same CA is not a client's).
bool client_verified(MHD_Connection* c) {
  const MHD_ConnectionInfo* info = MHD_get_connection_info(c, MHD_CONNECTION_INFO_GNUTLS_SESSION);
  if (!info || !info->tls_session) return false;
  auto session = static_cast<gnutls_session_t>(info->tls_session);
  gnutls_typed_vdata_st purpose{};
  purpose.type = GNUTLS_DT_KEY_PURPOSE_OID;
  purpose.data = reinterpret_cast<unsigned char*>(const_cast<char*>(GNUTLS_KP_TLS_WWW_CLIENT));
  unsigned status = 0;
  if (gnutls_certificate_verify_peers(session, &purpose, 1, &status) != GNUTLS_E_SUCCESS) return false;
  return status == 0;
}

// The client certificate of a session that client_verified(): the SHA-256
// of its DER form and its subject DN, what [[access.certificate]] names.
std::optional<api::ClientCertificate> peer_certificate(MHD_Connection* c) {
  const MHD_ConnectionInfo* info = MHD_get_connection_info(c, MHD_CONNECTION_INFO_GNUTLS_SESSION);
  if (!info || !info->tls_session || !client_verified(c)) return std::nullopt;
  unsigned count = 0;
  const gnutls_datum_t* chain = gnutls_certificate_get_peers(static_cast<gnutls_session_t>(info->tls_session), &count);
  if (!chain || count == 0) return std::nullopt;
  api::ClientCertificate out;
  out.sha256 = crypto::to_hex(crypto::sha256({chain[0].data, chain[0].size}));
  gnutls_x509_crt_t crt = nullptr;
  gnutls_datum_t dn{};
  if (gnutls_x509_crt_init(&crt) == GNUTLS_E_SUCCESS) {
    if (gnutls_x509_crt_import(crt, &chain[0], GNUTLS_X509_FMT_DER) == GNUTLS_E_SUCCESS &&
        gnutls_x509_crt_get_dn3(crt, &dn, 0) == GNUTLS_E_SUCCESS) {
      out.subject.assign(reinterpret_cast<const char*>(dn.data), dn.size);
      gnutls_free(dn.data);
    }
    gnutls_x509_crt_deinit(crt);
  }
  return out;
}

// The one Content-Length a request may have: a second one, or one beside a
// Transfer-Encoding, could be read one way here and another by a proxy in
// front (request smuggling).
enum class Length { kNone, kOne, kAmbiguous };
Length content_length(MHD_Connection* c, uint64_t* out) {
  struct Count {
    int lengths = 0, encodings = 0;
    const char* value = nullptr;
  } count;
  MHD_get_connection_values(
      c, MHD_HEADER_KIND,
      [](void* cls, MHD_ValueKind, const char* key, const char* value) -> MHD_Result {
        auto* n = static_cast<Count*>(cls);
        if (strcasecmp(key, MHD_HTTP_HEADER_CONTENT_LENGTH) == 0) ++n->lengths, n->value = value;
        if (strcasecmp(key, MHD_HTTP_HEADER_TRANSFER_ENCODING) == 0) ++n->encodings;
        return MHD_YES;
      },
      &count);
  if (count.lengths > 1 || (count.lengths == 1 && count.encodings > 0)) return Length::kAmbiguous;
  if (count.lengths == 0) return Length::kNone;
  char* end = nullptr;
  const unsigned long long n = std::strtoull(count.value, &end, 10);
  if (*count.value < '0' || *count.value > '9' || *end) return Length::kAmbiguous;
  *out = n;
  return Length::kOne;
}

// Every value of the request's Authorization headers.
std::vector<std::string> authorization_headers(MHD_Connection* c) {
  std::vector<std::string> out;
  MHD_get_connection_values(
      c, MHD_HEADER_KIND,
      [](void* cls, MHD_ValueKind, const char* key, const char* value) -> MHD_Result {
        if (strcasecmp(key, MHD_HTTP_HEADER_AUTHORIZATION) == 0)
          static_cast<std::vector<std::string>*>(cls)->emplace_back(value ? value : "");
        return MHD_YES;
      },
      &out);
  return out;
}

// The peer's IP address without the port; an IPv4 client of a dual-stack
// listener as plain IPv4.
std::string client_address(MHD_Connection* c) {
  const MHD_ConnectionInfo* info = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
  if (!info || !info->client_addr) return "unknown";
  char text[INET6_ADDRSTRLEN] = {};
  const sockaddr* sa = info->client_addr;
  if (sa->sa_family == AF_INET) {
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(sa)->sin_addr, text, sizeof text);
  } else if (sa->sa_family == AF_INET6) {
    const in6_addr& a = reinterpret_cast<const sockaddr_in6*>(sa)->sin6_addr;
    if (IN6_IS_ADDR_V4MAPPED(&a))
      inet_ntop(AF_INET, a.s6_addr + 12, text, sizeof text);
    else
      inet_ntop(AF_INET6, &a, text, sizeof text);
  }
  return text[0] ? text : "unknown";
}

// Every value of `kind` (headers, cookies, query arguments) as (name, value).
std::vector<std::pair<std::string, std::string>> connection_values(MHD_Connection* c, MHD_ValueKind kind) {
  std::vector<std::pair<std::string, std::string>> out;
  MHD_get_connection_values(
      c, kind,
      [](void* cls, MHD_ValueKind, const char* key, const char* value) -> MHD_Result {
        static_cast<std::vector<std::pair<std::string, std::string>>*>(cls)->emplace_back(key ? key : "",
                                                                                          value ? value : "");
        return MHD_YES;
      },
      &out);
  return out;
}

std::string header(MHD_Connection* c, const char* name) {
  const char* v = MHD_lookup_connection_value(c, MHD_HEADER_KIND, name);
  return v ? v : "";
}

// The read API's and the UI's view of a request: decoded query
// parameters, cookies, the headers the checks read, the body of a POST.
api::Request api_request(MHD_Connection* c, std::string_view url, std::string_view method, bool tls, std::string body) {
  api::Request r;
  r.method = method;
  r.path = url;
  r.query = connection_values(c, MHD_GET_ARGUMENT_KIND);
  r.cookies = connection_values(c, MHD_COOKIE_KIND);
  r.authorization = authorization_headers(c);
  r.client_address = client_address(c);
  r.origin = header(c, "Origin");
  r.host = header(c, MHD_HTTP_HEADER_HOST);
  r.sec_fetch_site = header(c, "Sec-Fetch-Site");
  r.if_none_match = header(c, MHD_HTTP_HEADER_IF_NONE_MATCH);
  r.content_type = header(c, MHD_HTTP_HEADER_CONTENT_TYPE);
  r.body = std::move(body);
  r.tls = tls;
  if (tls) r.certificate = peer_certificate(c);
  return r;
}

// No API answer is a page: a JSON body opened as a document runs nothing
// and cannot be framed.
constexpr const char* kApiPolicy = "default-src 'none'; frame-ancestors 'none'";

MHD_Result send_api(MHD_Connection* c, const api::Response& answer) {
  MHD_Response* r =
      MHD_create_response_from_buffer(answer.body.size(), const_cast<char*>(answer.body.data()), MHD_RESPMEM_MUST_COPY);
  if (!r) return MHD_NO;
  MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, answer.content_type.c_str());
  MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
  const bool has_policy = std::any_of(answer.headers.begin(), answer.headers.end(),
                                      [](const auto& h) { return h.first == "Content-Security-Policy"; });
  if (!has_policy) MHD_add_response_header(r, "Content-Security-Policy", kApiPolicy);
  for (const auto& [name, value] : answer.headers) MHD_add_response_header(r, name.c_str(), value.c_str());
  if (answer.retry_after_s > 0)
    MHD_add_response_header(r, MHD_HTTP_HEADER_RETRY_AFTER, std::to_string(answer.retry_after_s).c_str());
  const MHD_Result ret = MHD_queue_response(c, static_cast<unsigned>(answer.status), r);
  MHD_destroy_response(r);
  return ret;
}

constexpr uint64_t kMaxUiBody = 16 << 10;

bool is_ui(std::string_view url) { return url == "/ui" || url.substr(0, 4) == "/ui/"; }

int fd_of(MHD_Connection* c) {
  const MHD_ConnectionInfo* info = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
  return info ? info->connect_fd : -1;
}

}  // namespace

struct Server::Impl {
  Config config;
  ingest::Ingest& ingest;
  metrics::Metrics& metrics;
  api::Api* api;
  ui::Front* ui;
  Guard guard;
  Front main_front{this, false}, health_front{this, true};
  MHD_Daemon* daemon = nullptr;
  MHD_Daemon* health = nullptr;
  std::string cert, key, ca;  // MHD keeps pointers to these for its lifetime
  std::string address, health_address;

  Impl(const Config& c, ingest::Ingest& i, metrics::Metrics& m, api::Api* a, ui::Front* u)
      : config(c), ingest(i), metrics(m), api(a), ui(u), guard(c.guard, [&m] { m.deadline_missed(); }) {}
  MHD_Result handle(MHD_Connection* c, const Front& front, std::string_view url, std::string_view method,
                    const char* upload, size_t* upload_size, void** slot);
  MHD_Result begin(MHD_Connection* c, std::string_view url, std::string_view method, Request& req);
  MHD_Result route(MHD_Connection* c, const Front& front, std::string_view url, std::string_view method, Request& req);
  MHD_Result agents_endpoint(MHD_Connection* c, std::string_view url, std::string_view method, Request& req);
  bool tls() const { return !config.tls_cert.empty(); }
  Status read_tls_files();
  std::vector<MHD_OptionItem> daemon_options(sockaddr_storage* addr, bool tls, Front* front, unsigned max_connections);
  Result<MHD_Daemon*> listen(const std::string& listen, bool tls, Front* front, unsigned max_connections,
                             std::string* bound);
};

namespace {

// The MHD callbacks; `cls` is the Server::Impl.
MHD_Result on_request(void* cls, MHD_Connection* c, const char* url, const char* method, const char* /*version*/,
                      const char* upload, size_t* upload_size, void** slot) {
  const auto* front = static_cast<const Front*>(cls);
  return front->impl->handle(c, *front, url, method, upload, upload_size, slot);
}

// A request ended: its budget comes back (~Request), and a kept-alive
// connection owes its next request's headers in time.
void on_completed(void* cls, MHD_Connection* c, void** slot, MHD_RequestTerminationCode code) {
  delete static_cast<Request*>(*slot);
  *slot = nullptr;
  if (code == MHD_REQUEST_TERMINATED_COMPLETED_OK)
    static_cast<const Front*>(cls)->impl->guard.expect_headers(c, fd_of(c));
}

// Agents keep connections alive and MHD writes a response's header and
// body separately; with Nagle on, the body waits for the client's delayed
// ACK (~40 ms per request). Acks must not wait, so disable Nagle. Each
// connection is watched from its start until libmicrohttpd closes it --
// which it does after this CLOSED notice, so the guard never shuts down a
// socket number another connection got since.
void on_connection(void* cls, MHD_Connection* c, void**, MHD_ConnectionNotificationCode code) {
  Guard& guard = static_cast<const Front*>(cls)->impl->guard;
  if (code == MHD_CONNECTION_NOTIFY_CLOSED) return guard.forget(c);
  const int fd = fd_of(c);
  if (fd < 0) return;
  const int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  guard.expect_headers(c, fd);
}

}  // namespace

Status Server::Impl::read_tls_files() {
  for (auto [path, out] :
       {std::pair{&config.tls_cert, &cert}, std::pair{&config.tls_key, &key}, std::pair{&config.client_ca, &ca}}) {
    if (path->empty()) continue;
    auto text = fs::read_file(*path, 1 << 20);
    if (!text) return text.error();
    *out = std::move(*text);
  }
  return Ok{};
}

// MHD keeps pointers into `addr` and the PEM strings; both outlive start().
std::vector<MHD_OptionItem> Server::Impl::daemon_options(sockaddr_storage* addr, bool tls, Front* front,
                                                         unsigned max_connections) {
  using Completed = void (*)(void*, MHD_Connection*, void**, MHD_RequestTerminationCode);
  using Notify = void (*)(void*, MHD_Connection*, void**, MHD_ConnectionNotificationCode);
  const Completed completed = on_completed;
  const Notify notify = on_connection;
  std::vector<MHD_OptionItem> opts = {
      {MHD_OPTION_SOCK_ADDR, 0, addr},
      {MHD_OPTION_CONNECTION_LIMIT, max_connections, nullptr},
      {MHD_OPTION_PER_IP_CONNECTION_LIMIT, std::min(config.max_connections_per_address, max_connections), nullptr},
      {MHD_OPTION_CONNECTION_TIMEOUT, config.idle_timeout_s, nullptr},
      {MHD_OPTION_THREAD_STACK_SIZE, 512 * 1024, nullptr},
      {MHD_OPTION_NOTIFY_COMPLETED, reinterpret_cast<intptr_t>(completed), front},
      {MHD_OPTION_NOTIFY_CONNECTION, reinterpret_cast<intptr_t>(notify), front},
  };
  if (tls) {
    opts.push_back({MHD_OPTION_HTTPS_MEM_CERT, 0, cert.data()});
    opts.push_back({MHD_OPTION_HTTPS_MEM_KEY, 0, key.data()});
    if (!ca.empty()) opts.push_back({MHD_OPTION_HTTPS_MEM_TRUST, 0, ca.data()});
  }
  opts.push_back({MHD_OPTION_END, 0, nullptr});
  return opts;
}

MHD_Result Server::Impl::handle(MHD_Connection* c, const Front& front, std::string_view url, std::string_view method,
                                const char* upload, size_t* upload_size, void** slot) {
  auto* req = static_cast<Request*>(*slot);
  if (!req) {
    req = new Request;
    *slot = req;
    return begin(c, url, method, *req);
  }
  if (*upload_size > 0) {
    // Never more than the Content-Length that was reserved: libmicrohttpd
    // stops at it. Only a POST reserves; the body of any other request
    // (a GET of the read API) is read and dropped, never held.
    if (req->guard) req->body.append(upload, *upload_size);
    *upload_size = 0;
    return MHD_YES;
  }
  guard.busy(c);
  return route(c, front, url, method, *req);
}

// The headers are in: refuse what cannot be a request of ours before any
// body is read, and reserve the body's bytes.
MHD_Result Server::Impl::begin(MHD_Connection* c, std::string_view url, std::string_view method, Request& req) {
  if (!config.client_ca.empty() && !client_verified(c))
    return send(c, 403, json_error("a client certificate for client use, signed by the collector's CA, is required"));
  uint64_t length = 0;
  const Length declared = content_length(c, &length);
  if (declared == Length::kAmbiguous) {
    metrics.rejected(metrics::Reject::malformed);
    return send(c, 400, json_error("one Content-Length, and no Transfer-Encoding beside it"));
  }
  if (method != "POST") {
    guard.busy(c);
    return MHD_YES;
  }
  if (declared == Length::kNone) return send(c, 411, json_error("a POST needs a Content-Length"));
  // The UI's POSTs (a login form) are small: none may hold a batch's budget.
  if (is_ui(url) && length > kMaxUiBody)
    return send(c, 413, json_error("a request of the UI is at most " + std::to_string(kMaxUiBody) + " bytes"));
  if (length > config.max_body) {
    metrics.rejected(metrics::Reject::too_large);
    return send(c, 413,
                json_error("body of " + std::to_string(length) + " bytes exceeds the limit of " +
                           std::to_string(config.max_body)));
  }
  if (!guard.reserve(length)) {
    metrics.rejected(metrics::Reject::overloaded);
    return send(c, 503, json_error("too many request bodies in flight, retry later"), "application/json",
                config.retry_after_s);
  }
  req.guard = &guard;
  req.reserved = length;
  if (!req.body.reserve(length)) {
    metrics.rejected(metrics::Reject::overloaded);
    return send(c, 503, json_error("no memory for the request body, retry later"), "application/json",
                config.retry_after_s);
  }
  guard.expect_body(c, length);
  return MHD_YES;
}

// Agents authenticate by their signatures and enrollment tokens. A read
// API token, a browser's cookie or a person's client certificate
// ([[access.certificate]]) is the wrong credential here, and is refused
// rather than ignored, so a client that mixes them up learns it at once and
// no credential of the UI ever posts a batch.
MHD_Result Server::Impl::agents_endpoint(MHD_Connection* c, std::string_view url, std::string_view method,
                                         Request& req) {
  if (method != "POST") return send(c, 405, json_error("use POST"));
  if (!authorization_headers(c).empty())
    return send(c, 403,
                json_error("an Authorization header is not accepted here: batches are authenticated by "
                           "their agent's signature, and API tokens only read"));
  if (MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_COOKIE))
    return send(c, 403, json_error("a cookie is not accepted here: a UI session only reads"));
  if (api && tls()) {
    api::Request who;
    who.certificate = peer_certificate(c);
    if (const auto* person = api->authenticator().certificate_role(who))
      return send(c, 403,
                  json_error("this client certificate is a person's ([[access.certificate]] '" + person->name +
                             "'), not an agent's"));
  }
  const ingest::Outcome out =
      url == "/v1/batches"
          ? ingest.submit_batch({reinterpret_cast<const uint8_t*>(req.body.view().data()), req.body.view().size()})
          : ingest.enroll(req.body.view());
  return send(c, out.status, out.body, "application/json", out.retry_after);
}

MHD_Result Server::Impl::route(MHD_Connection* c, const Front& front, std::string_view url, std::string_view method,
                               Request& req) {
  const bool get = method == "GET" || method == "HEAD";
  const bool post = method == "POST";
  if (url == "/healthz") {
    return get ? send(c, 200, "ok\n", "text/plain") : send(c, 405, json_error("use GET"));
  }
  if (url == "/metrics") {
    if (!get) return send(c, 405, json_error("use GET"));
    return send(c, 200, metrics.render(ingest.store_bytes(), ingest.queue_depth()), "text/plain; version=0.0.4");
  }
  if (!front.health_only && (url == "/v1/batches" || url == "/v1/enroll")) return agents_endpoint(c, url, method, req);
  if (!front.health_only && api && url.substr(0, 4) == "/v1/")
    return send_api(c, api->handle(api_request(c, url, method, tls(), {})));
  if (!front.health_only && ui && is_ui(url))
    return send_api(
        c, ui->handle(api_request(c, url, method, tls(), post ? std::string(req.body.view()) : std::string())));
  return send(c, 404, json_error("no such endpoint"));
}

Server::Server(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Server::~Server() { stop(); }

std::string Server::address() const { return impl_->address; }
std::string Server::health_address() const { return impl_->health_address; }

namespace {

// Stops accepting first: MHD hands the listening socket over, and closing
// it refuses new connections at once. MHD_stop_daemon then waits for the
// connection threads, which finish the requests they are serving.
void stop_daemon(MHD_Daemon*& daemon) {
  if (!daemon) return;
  static_assert(MHD_INVALID_SOCKET == -1, "UniqueFd takes -1 as no fd");
  UniqueFd(MHD_quiesce_daemon(daemon)).reset();
  MHD_stop_daemon(daemon);
  daemon = nullptr;
}

}  // namespace

void Server::stop() {
  stop_daemon(impl_->daemon);
  stop_daemon(impl_->health);
}

Result<MHD_Daemon*> Server::Impl::listen(const std::string& where, bool tls, Front* front, unsigned max_connections,
                                         std::string* bound) {
  bool v6 = false;
  auto addr = parse_listen(where, &v6);
  if (!addr) return addr.error();
  unsigned flags =
      MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL | MHD_USE_ITC | MHD_USE_ERROR_LOG;
  if (v6) flags |= MHD_USE_IPv6;
  if (tls) flags |= MHD_USE_TLS;
  std::vector<MHD_OptionItem> opts = daemon_options(&*addr, tls, front, max_connections);
  MHD_Daemon* d =
      MHD_start_daemon(flags, 0, nullptr, nullptr, on_request, front, MHD_OPTION_ARRAY, opts.data(), MHD_OPTION_END);
  if (!d)
    return make_error(ErrorCode::kIo,
                      "cannot listen on " + where + " (address in use, bad TLS files, or no permission)");
  const MHD_DaemonInfo* info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
  *bound = where.substr(0, where.rfind(':')) + ":" + std::to_string(info ? info->port : 0);
  return d;
}

Result<std::unique_ptr<Server>> Server::start(const Config& config, ingest::Ingest& ingest, metrics::Metrics& metrics,
                                              api::Api* api, ui::Front* ui) {
  auto impl = std::make_unique<Impl>(config, ingest, metrics, api, ui);
  const bool tls = !config.tls_cert.empty() || !config.tls_key.empty();
  if (tls && (config.tls_cert.empty() || config.tls_key.empty()))
    return make_error(ErrorCode::kInvalidArgument, "--tls-cert and --tls-key go together");
  if (!config.client_ca.empty() && !tls)
    return make_error(ErrorCode::kInvalidArgument, "--client-ca needs --tls-cert and --tls-key");
  if (tls) {
    Status read = impl->read_tls_files();
    if (!read) return read.error();
  }
  auto daemon = impl->listen(config.listen, tls, &impl->main_front, config.max_connections, &impl->address);
  if (!daemon) return daemon.error();
  impl->daemon = *daemon;
  // The probes' own listener: plain HTTP, a few connections, the same deadlines.
  if (!config.health_listen.empty()) {
    constexpr unsigned kHealthConnections = 16;
    auto health =
        impl->listen(config.health_listen, false, &impl->health_front, kHealthConnections, &impl->health_address);
    if (!health) {
      stop_daemon(impl->daemon);
      return health.error();
    }
    impl->health = *health;
  }
  return std::unique_ptr<Server>(new Server(std::move(impl)));
}

}  // namespace bt::collector::http
