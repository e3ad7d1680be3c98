#include "collector/http/server.h"

#include <arpa/inet.h>
#include <gnutls/gnutls.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <cstring>
#include <string_view>
#include <vector>

#include "common/fs.h"
#include "common/unique_fd.h"

namespace bt::collector::http {

namespace {

// Per-request state, kept in MHD's con_cls slot.
struct Request {
  std::string body;
  bool too_large = false;
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
// certificate chains to that CA.
bool client_verified(MHD_Connection* c) {
  const MHD_ConnectionInfo* info = MHD_get_connection_info(c, MHD_CONNECTION_INFO_GNUTLS_SESSION);
  if (!info || !info->tls_session) return false;
  auto session = static_cast<gnutls_session_t>(info->tls_session);
  unsigned status = 0;
  if (gnutls_certificate_verify_peers2(session, &status) != GNUTLS_E_SUCCESS) return false;
  return status == 0;
}

}  // namespace

struct Server::Impl {
  Config config;
  ingest::Ingest& ingest;
  metrics::Metrics& metrics;
  MHD_Daemon* daemon = nullptr;
  std::string cert, key, ca;  // MHD keeps pointers to these for its lifetime
  std::string address;

  Impl(const Config& c, ingest::Ingest& i, metrics::Metrics& m) : config(c), ingest(i), metrics(m) {}
  MHD_Result handle(MHD_Connection* c, std::string_view url, std::string_view method, const char* upload,
                    size_t* upload_size, void** slot);
  MHD_Result route(MHD_Connection* c, std::string_view url, std::string_view method, Request& req);
  Status read_tls_files();
  std::vector<MHD_OptionItem> daemon_options(sockaddr_storage* addr, bool tls);
};

namespace {

// The MHD callbacks; `cls` is the Server::Impl.
MHD_Result on_request(void* cls, MHD_Connection* c, const char* url, const char* method, const char* /*version*/,
                      const char* upload, size_t* upload_size, void** slot) {
  return static_cast<Server::Impl*>(cls)->handle(c, url, method, upload, upload_size, slot);
}

void on_completed(void*, MHD_Connection*, void** slot, MHD_RequestTerminationCode) {
  delete static_cast<Request*>(*slot);
  *slot = nullptr;
}

// Agents keep connections alive and MHD writes a response's header and
// body separately; with Nagle on, the body waits for the client's delayed
// ACK (~40 ms per request). Acks must not wait, so disable Nagle.
void on_connection(void*, MHD_Connection* c, void**, MHD_ConnectionNotificationCode code) {
  if (code != MHD_CONNECTION_NOTIFY_STARTED) return;
  const MHD_ConnectionInfo* info = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
  if (!info) return;
  const int one = 1;
  ::setsockopt(info->connect_fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
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
std::vector<MHD_OptionItem> Server::Impl::daemon_options(sockaddr_storage* addr, bool tls) {
  using Completed = void (*)(void*, MHD_Connection*, void**, MHD_RequestTerminationCode);
  using Notify = void (*)(void*, MHD_Connection*, void**, MHD_ConnectionNotificationCode);
  const Completed completed = on_completed;
  const Notify notify = on_connection;
  std::vector<MHD_OptionItem> opts = {
      {MHD_OPTION_SOCK_ADDR, 0, addr},
      {MHD_OPTION_CONNECTION_LIMIT, config.max_connections, nullptr},
      {MHD_OPTION_CONNECTION_TIMEOUT, config.idle_timeout_s, nullptr},
      {MHD_OPTION_THREAD_STACK_SIZE, 512 * 1024, nullptr},
      {MHD_OPTION_NOTIFY_COMPLETED, reinterpret_cast<intptr_t>(completed), nullptr},
      {MHD_OPTION_NOTIFY_CONNECTION, reinterpret_cast<intptr_t>(notify), nullptr},
  };
  if (tls) {
    opts.push_back({MHD_OPTION_HTTPS_MEM_CERT, 0, cert.data()});
    opts.push_back({MHD_OPTION_HTTPS_MEM_KEY, 0, key.data()});
    if (!ca.empty()) opts.push_back({MHD_OPTION_HTTPS_MEM_TRUST, 0, ca.data()});
  }
  opts.push_back({MHD_OPTION_END, 0, nullptr});
  return opts;
}

MHD_Result Server::Impl::handle(MHD_Connection* c, std::string_view url, std::string_view method, const char* upload,
                                size_t* upload_size, void** slot) {
  auto* req = static_cast<Request*>(*slot);
  if (!req) {
    req = new Request;
    *slot = req;
    if (!config.client_ca.empty() && !client_verified(c))
      return send(c, 403, json_error("a client certificate signed by the collector's CA is required"));
    if (const char* cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH)) {
      const unsigned long long n = std::strtoull(cl, nullptr, 10);
      if (n > config.max_body) {
        metrics.rejected(metrics::Reject::too_large);
        return send(c, 413,
                    json_error("body of " + std::to_string(n) + " bytes exceeds the limit of " +
                               std::to_string(config.max_body)));
      }
    }
    return MHD_YES;
  }
  if (*upload_size > 0) {
    if (!req->too_large && req->body.size() + *upload_size <= config.max_body) {
      req->body.append(upload, *upload_size);
    } else {
      req->too_large = true;
      req->body.clear();
    }
    *upload_size = 0;
    return MHD_YES;
  }
  if (req->too_large) {
    metrics.rejected(metrics::Reject::too_large);
    return send(c, 413, json_error("body exceeds the limit of " + std::to_string(config.max_body) + " bytes"));
  }
  return route(c, url, method, *req);
}

MHD_Result Server::Impl::route(MHD_Connection* c, std::string_view url, std::string_view method, Request& req) {
  const bool get = method == "GET" || method == "HEAD";
  const bool post = method == "POST";
  if (url == "/healthz") {
    return get ? send(c, 200, "ok\n", "text/plain") : send(c, 405, json_error("use GET"));
  }
  if (url == "/metrics") {
    if (!get) return send(c, 405, json_error("use GET"));
    return send(c, 200, metrics.render(ingest.store_bytes(), ingest.queue_depth()), "text/plain; version=0.0.4");
  }
  if (url == "/v1/batches" || url == "/v1/enroll") {
    if (!post) return send(c, 405, json_error("use POST"));
    const ingest::Outcome out =
        url == "/v1/batches" ? ingest.submit_batch({reinterpret_cast<const uint8_t*>(req.body.data()), req.body.size()})
                             : ingest.enroll(req.body);
    return send(c, out.status, out.body, "application/json", out.retry_after);
  }
  return send(c, 404, json_error("no such endpoint"));
}

Server::Server(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Server::~Server() { stop(); }

std::string Server::address() const { return impl_->address; }

void Server::stop() {
  if (!impl_->daemon) return;
  // Stop accepting first: MHD hands the listening socket over, and closing
  // it refuses new connections at once. MHD_stop_daemon then waits for the
  // connection threads, which finish the requests they are serving.
  static_assert(MHD_INVALID_SOCKET == -1, "UniqueFd takes -1 as no fd");
  UniqueFd(MHD_quiesce_daemon(impl_->daemon)).reset();
  MHD_stop_daemon(impl_->daemon);
  impl_->daemon = nullptr;
}

Result<std::unique_ptr<Server>> Server::start(const Config& config, ingest::Ingest& ingest, metrics::Metrics& metrics) {
  auto impl = std::make_unique<Impl>(config, ingest, metrics);
  bool v6 = false;
  auto addr = parse_listen(config.listen, &v6);
  if (!addr) return addr.error();
  const bool tls = !config.tls_cert.empty() || !config.tls_key.empty();
  if (tls && (config.tls_cert.empty() || config.tls_key.empty()))
    return make_error(ErrorCode::kInvalidArgument, "--tls-cert and --tls-key go together");
  if (!config.client_ca.empty() && !tls)
    return make_error(ErrorCode::kInvalidArgument, "--client-ca needs --tls-cert and --tls-key");
  if (tls) {
    Status read = impl->read_tls_files();
    if (!read) return read.error();
  }

  unsigned flags =
      MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL | MHD_USE_ITC | MHD_USE_ERROR_LOG;
  if (v6) flags |= MHD_USE_IPv6;
  if (tls) flags |= MHD_USE_TLS;
  std::vector<MHD_OptionItem> opts = impl->daemon_options(&*addr, tls);
  impl->daemon = MHD_start_daemon(flags, 0, nullptr, nullptr, on_request, impl.get(), MHD_OPTION_ARRAY, opts.data(),
                                  MHD_OPTION_END);
  if (!impl->daemon)
    return make_error(ErrorCode::kIo,
                      "cannot listen on " + config.listen + " (address in use, bad TLS files, or no permission)");
  const MHD_DaemonInfo* info = MHD_get_daemon_info(impl->daemon, MHD_DAEMON_INFO_BIND_PORT);
  const uint16_t port = info ? info->port : 0;
  const std::string host = config.listen.substr(0, config.listen.rfind(':'));
  impl->address = host + ":" + std::to_string(port);
  return std::unique_ptr<Server>(new Server(std::move(impl)));
}

}  // namespace bt::collector::http
