// libcurl's multi interface driven by a libuv loop (the pattern of curl's
// docs/examples/multi-uv.c), hardened for a long-running agent.
//
// Lifetimes
// - Every libuv handle made here is its own heap object, freed only in its
//   uv_close callback and never by Impl: the owner may destroy the Sender
//   before the loop runs those callbacks, so no close callback touches Impl.
// - SocketCtx: one uv_poll_t per socket curl wants watched. Made on the first
//   CURLMOPT_SOCKETFUNCTION call for a socket and tied to it with
//   curl_multi_assign; closed on CURL_POLL_REMOVE, which curl sends before it
//   closes the socket, so a descriptor is never closed under an active poll.
// - Transfer: everything curl reads while a request runs (the POST body for
//   CURLOPT_POSTFIELDS, the header list, the error buffer) from post() until
//   its easy handle is removed from the multi and cleaned up.
// - Connections: easy handles are per request; the connection cache of the
//   multi handle keeps keep-alive connections open between requests, so
//   sequential posts reuse one connection.
// - `done` callbacks run last, after the sender's state is consistent, and
//   nothing touches Impl after them: a callback may post, close or destroy
//   the sender.
#include "transport/sender/sender.h"

#include <curl/curl.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <climits>
#include <cstring>
#include <new>
#include <utility>

#include "common/fs.h"

namespace bt::transport::sender {

namespace {

constexpr std::size_t kMaxResponseBody = 64 * 1024;
// Idle keep-alive connections the multi handle keeps; one collector needs few.
constexpr long kMaxCachedConnections = 4;

// curl_global_init is not thread-safe in every libcurl build: run it once per
// process (a function-local static is initialised exactly once) and never
// undo it, since other code in the process may use curl too.
bool curl_ready() {
  static const CURLcode rc = curl_global_init(CURL_GLOBAL_DEFAULT);
  return rc == CURLE_OK;
}

Error invalid(const std::string& message) { return make_error(ErrorCode::kInvalidArgument, "sender: " + message); }

// Control characters would end a log line or a header early.
std::string printable(const std::string& s) {
  std::string out;
  for (char c : s) out += (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) ? '?' : c;
  return out;
}

bool starts_with_nocase(const std::string& s, const char* prefix) {
  const std::size_t n = std::strlen(prefix);
  if (s.size() < n) return false;
  for (std::size_t i = 0; i < n; ++i)
    if (std::tolower(static_cast<unsigned char>(s[i])) != prefix[i]) return false;
  return true;
}

// Returns collector_url without trailing slashes, or why it is unusable.
Result<std::string> check_url(const std::string& url) {
  if (!starts_with_nocase(url, "http://") && !starts_with_nocase(url, "https://"))
    return invalid("collector_url '" + printable(url) + "' is not an http:// or https:// URL");
  CURLU* u = curl_url();
  if (u == nullptr) return make_error(ErrorCode::kInternal, "sender: curl_url: out of memory");
  Result<std::string> out = invalid("collector_url '" + printable(url) + "' has no host");
  const CURLUcode rc = curl_url_set(u, CURLUPART_URL, url.c_str(), 0);
  if (rc != CURLUE_OK) {
    out = invalid("collector_url '" + printable(url) + "': " + curl_url_strerror(rc));
  } else {
    char* part = nullptr;
    const bool has_host = curl_url_get(u, CURLUPART_HOST, &part, 0) == CURLUE_OK && part != nullptr && part[0] != '\0';
    curl_free(part);
    part = nullptr;
    const bool has_query = curl_url_get(u, CURLUPART_QUERY, &part, 0) == CURLUE_OK;
    curl_free(part);
    part = nullptr;
    const bool has_fragment = curl_url_get(u, CURLUPART_FRAGMENT, &part, 0) == CURLUE_OK;
    curl_free(part);
    if (has_query || has_fragment) {
      out = invalid("collector_url '" + printable(url) + "' must not have a query or fragment");
    } else if (has_host) {
      std::string base = url;
      while (!base.empty() && base.back() == '/') base.pop_back();
      out = base;
    }
  }
  curl_url_cleanup(u);
  return out;
}

// A readable regular file, checked up front so a typo fails at startup with
// the file named rather than on every request with a TLS error.
Status check_readable(const char* what, const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return invalid(std::string(what) + " '" + printable(path) + "': " + fs::errno_text(errno));
  struct stat st {};
  const bool regular = ::fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
  ::close(fd);
  if (!regular) return invalid(std::string(what) + " '" + printable(path) + "': not a regular file");
  return Ok{};
}

// Request paths and header values go on the request line and into headers:
// no controls or spaces in a path, no controls in a header value.
bool valid_path(const std::string& path) {
  if (!path.empty() && path[0] != '/') return false;
  return std::all_of(path.begin(), path.end(), [](char c) { return c > 0x20 && c < 0x7f; });
}

bool valid_header_value(const std::string& v) {
  return !v.empty() && std::all_of(v.begin(), v.end(), [](char c) { return c >= 0x20 && c < 0x7f; });
}

std::string curl_error_text(CURLcode rc, const char* detail) {
  std::string text = curl_easy_strerror(rc);
  std::string more = detail;
  while (!more.empty() && (more.back() == '\n' || more.back() == '\r')) more.pop_back();
  if (!more.empty() && more != text) text += ": " + more;
  return text;
}

// Retry-After in seconds, -1 when the answer had none. CURLINFO_RETRY_AFTER
// parses both forms (seconds, HTTP date) but reports 0 for "absent" too, so a
// 0 is only believed when the header is there and says 0.
int retry_after(CURL* easy) {
  curl_off_t seconds = 0;
  if (curl_easy_getinfo(easy, CURLINFO_RETRY_AFTER, &seconds) == CURLE_OK && seconds > 0)
    return seconds > INT_MAX ? INT_MAX : static_cast<int>(seconds);
  curl_header* h = nullptr;
  if (curl_easy_header(easy, "Retry-After", 0, CURLH_HEADER, -1, &h) != CURLHE_OK || h == nullptr ||
      h->value == nullptr)
    return -1;
  std::string v = h->value;
  v.erase(0, v.find_first_not_of(" \t"));
  v.erase(v.find_last_not_of(" \t\r\n") + 1);
  const bool zero = !v.empty() && v.find_first_not_of('0') == std::string::npos;
  return zero ? 0 : -1;
}

// A completion that cannot run inline (post() failed before curl took the
// request, or the sender is closed): a one-shot timer runs it on the next
// loop iteration so `done` never runs inside post().
struct Deferred {
  uv_timer_t timer;
  std::function<void(Response)> done;
  Response response;
};

void delete_deferred(uv_handle_t* h) noexcept { delete static_cast<Deferred*>(h->data); }

void run_deferred(uv_timer_t* t) noexcept {
  auto* d = static_cast<Deferred*>(t->data);
  auto done = std::move(d->done);
  Response r = std::move(d->response);
  uv_close(reinterpret_cast<uv_handle_t*>(t), delete_deferred);
  if (done) done(std::move(r));
}

void defer_done(uv_loop_t* loop, std::function<void(Response)> done, Response r) {
  auto* d = new (std::nothrow) Deferred;
  if (d != nullptr) {
    if (uv_timer_init(loop, &d->timer) == 0) {
      d->timer.data = d;
      d->done = std::move(done);
      d->response = std::move(r);
      if (uv_timer_start(&d->timer, run_deferred, 0, 0) == 0) return;
      done = std::move(d->done);
      r = std::move(d->response);
      uv_close(reinterpret_cast<uv_handle_t*>(&d->timer), delete_deferred);
    } else {
      delete d;
    }
  }
  // No timer to be had: better now than never ("exactly once").
  if (done) done(std::move(r));
}

}  // namespace

Delivery classify(long status) {
  if (status >= 200 && status < 300) return Delivery::kDelivered;
  if (status == 408 || status == 429) return Delivery::kRetry;
  if (status >= 400 && status < 500) return Delivery::kRejected;
  return Delivery::kRetry;  // 0 (no answer), 1xx, 3xx (not followed), 5xx, nonsense
}

namespace {

struct SocketCtx {
  uv_poll_t poll;
  curl_socket_t fd = CURL_SOCKET_BAD;
  Sender::Impl* impl = nullptr;
  SocketCtx* prev = nullptr;
  SocketCtx* next = nullptr;
};

void delete_socket_ctx(uv_handle_t* h) noexcept { delete static_cast<SocketCtx*>(h->data); }

struct Transfer {
  CURL* easy = nullptr;
  curl_slist* headers = nullptr;
  std::string body;           // CURLOPT_POSTFIELDS points here until cleanup
  std::string response_body;  // capped at kMaxResponseBody
  std::function<void(Response)> done;
  Response response;  // filled when the transfer ends
  char error[CURL_ERROR_SIZE] = {};
  int watch_error = 0;  // libuv error when a socket of it could not be watched
  Transfer* prev = nullptr;
  Transfer* next = nullptr;

  Transfer() = default;
  Transfer(const Transfer&) = delete;
  Transfer& operator=(const Transfer&) = delete;
  ~Transfer() {
    if (easy != nullptr) curl_easy_cleanup(easy);  // only ever after curl_multi_remove_handle
    curl_slist_free_all(headers);
  }
};

size_t on_body(char* data, size_t size, size_t count, void* userp) noexcept {
  auto* t = static_cast<Transfer*>(userp);
  const size_t len = size * count;
  const size_t room = kMaxResponseBody - std::min(kMaxResponseBody, t->response_body.size());
  try {
    t->response_body.append(data, std::min(len, room));
  } catch (...) {
    return 0;  // out of memory: curl fails the transfer with CURLE_WRITE_ERROR
  }
  return len;  // the rest beyond the cap is read and dropped
}

// Runs the `done` of each transfer of a finished list (linked through next)
// and frees it. Static on purpose: a callback may destroy the sender.
void deliver(Transfer* list) noexcept {
  while (list != nullptr) {
    Transfer* t = list;
    list = t->next;
    auto done = std::move(t->done);
    Response r = std::move(t->response);
    delete t;
    if (done) done(std::move(r));
  }
}

}  // namespace

struct Sender::Impl {
  uv_loop_t* loop;
  Config config;
  std::string base_url;
  CURLM* multi = nullptr;
  CURLSH* share = nullptr;      // TLS sessions shared by all requests
  uv_timer_t* timer = nullptr;  // CURLMOPT_TIMERFUNCTION's timer
  SocketCtx* sockets = nullptr;
  Transfer* transfers = nullptr;
  std::size_t in_flight = 0;
  bool closed = false;
  bool in_timer = false;
  bool watch_failed = false;  // some transfer has a watch_error

  Impl(uv_loop_t* l, const Config& c, std::string base) : loop(l), config(c), base_url(std::move(base)) {}
  Impl(const Impl&) = delete;
  Impl& operator=(const Impl&) = delete;
  ~Impl() { close(); }  // a no-op after Sender::~Sender; here for create()'s error paths

  Status init() {
    multi = curl_multi_init();
    if (multi == nullptr) return make_error(ErrorCode::kInternal, "sender: curl_multi_init failed");
    share = curl_share_init();
    if (share == nullptr) return make_error(ErrorCode::kInternal, "sender: curl_share_init failed");
    if (curl_share_setopt(share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION) != CURLSHE_OK)
      return make_error(ErrorCode::kInternal, "sender: cannot share TLS sessions");
    CURLMcode rc = CURLM_OK;
    auto set = [&](CURLMoption opt, auto value) {
      if (rc == CURLM_OK) rc = curl_multi_setopt(multi, opt, value);
    };
    set(CURLMOPT_SOCKETFUNCTION, static_cast<curl_socket_callback>(&Impl::on_curl_socket));
    set(CURLMOPT_SOCKETDATA, static_cast<void*>(this));
    set(CURLMOPT_TIMERFUNCTION, static_cast<curl_multi_timer_callback>(&Impl::on_curl_timer));
    set(CURLMOPT_TIMERDATA, static_cast<void*>(this));
    set(CURLMOPT_MAXCONNECTS, kMaxCachedConnections);
    if (rc != CURLM_OK)
      return make_error(ErrorCode::kInternal, std::string("sender: curl_multi_setopt: ") + curl_multi_strerror(rc));
    timer = new (std::nothrow) uv_timer_t;
    if (timer == nullptr) return make_error(ErrorCode::kInternal, "sender: out of memory");
    const int err = uv_timer_init(loop, timer);
    if (err != 0) {
      delete timer;  // never initialised: nothing to close
      timer = nullptr;
      return make_error(ErrorCode::kInternal, std::string("sender: uv_timer_init: ") + uv_strerror(err));
    }
    timer->data = this;
    return Ok{};
  }

  // --- curl → libuv -------------------------------------------------------

  // CURLMOPT_SOCKETFUNCTION: watch `s` for what curl asks, or stop watching.
  // When a socket cannot be watched, the transfer is marked and failed right
  // after the curl call that asked (see reap); returning -1 instead would
  // make curl fail every transfer of the multi, and only at their next
  // timeout.
  static int on_curl_socket(CURL* easy, curl_socket_t s, int what, void* userp, void* socketp) noexcept {
    auto* self = static_cast<Impl*>(userp);
    auto* ctx = static_cast<SocketCtx*>(socketp);
    if (self->closed) return 0;  // close() has already shut every poll
    if (what == CURL_POLL_REMOVE) {
      if (ctx != nullptr) {
        self->close_socket(ctx);
        curl_multi_assign(self->multi, s, nullptr);
      }
      return 0;
    }
    const int err = self->watch(s, what, ctx);
    if (err != 0) {
      char* priv = nullptr;
      curl_easy_getinfo(easy, CURLINFO_PRIVATE, &priv);
      if (auto* t = reinterpret_cast<Transfer*>(priv); t != nullptr && t->watch_error == 0) {
        t->watch_error = err;
        self->watch_failed = true;
      }
    }
    return 0;
  }

  // Returns 0 or a libuv error code.
  int watch(curl_socket_t s, int what, SocketCtx* ctx) noexcept {
    if (ctx == nullptr) {
      ctx = new (std::nothrow) SocketCtx;
      if (ctx == nullptr) return UV_ENOMEM;
      const int err = uv_poll_init_socket(loop, &ctx->poll, s);
      if (err != 0) {
        delete ctx;  // a failed init registers nothing with the loop
        return err;
      }
      ctx->fd = s;
      ctx->impl = this;
      ctx->poll.data = ctx;
      link(ctx);
      if (curl_multi_assign(multi, s, ctx) != CURLM_OK) {
        close_socket(ctx);
        return UV_EINVAL;
      }
    }
    int events = 0;
    if (what & CURL_POLL_IN) events |= UV_READABLE;
    if (what & CURL_POLL_OUT) events |= UV_WRITABLE;
    if (events == 0) return uv_poll_stop(&ctx->poll);
    return uv_poll_start(&ctx->poll, events, &Impl::on_poll);
  }

  // CURLMOPT_TIMERFUNCTION: one timer; -1 stops it. A 0 ms timeout asks for
  // socket_action "as soon as possible, but not from inside this callback";
  // from within the timer callback it becomes 1 ms so a libuv timer re-armed
  // with 0 cannot run again in the same loop iteration and starve I/O.
  static int on_curl_timer(CURLM*, long timeout_ms, void* userp) noexcept {
    auto* self = static_cast<Impl*>(userp);
    if (self->closed || self->timer == nullptr) return 0;
    if (timeout_ms < 0) {
      uv_timer_stop(self->timer);
      return 0;
    }
    uint64_t ms = static_cast<uint64_t>(timeout_ms);
    if (ms == 0 && self->in_timer) ms = 1;
    return uv_timer_start(self->timer, &Impl::on_timer, ms, 0) == 0 ? 0 : -1;
  }

  // --- libuv → curl -------------------------------------------------------

  static void on_poll(uv_poll_t* handle, int status, int events) noexcept {
    auto* ctx = static_cast<SocketCtx*>(handle->data);
    int flags = 0;
    if (status < 0) {
      flags = CURL_CSELECT_ERR;  // curl fails the transfer with the socket error
    } else {
      if (events & UV_READABLE) flags |= CURL_CSELECT_IN;
      if (events & UV_WRITABLE) flags |= CURL_CSELECT_OUT;
    }
    Impl* self = ctx->impl;  // ctx may be closed by the call below
    int running = 0;
    curl_multi_socket_action(self->multi, ctx->fd, flags, &running);
    self->reap();  // may destroy *self
  }

  static void on_timer(uv_timer_t* t) noexcept {
    auto* self = static_cast<Impl*>(t->data);
    int running = 0;
    self->in_timer = true;
    curl_multi_socket_action(self->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    self->in_timer = false;
    self->reap();  // may destroy *self
  }

  // Takes every finished transfer out of curl, then runs their callbacks.
  void reap() noexcept {
    Transfer* finished = nullptr;
    Transfer** tail = &finished;
    auto append = [&](Transfer* t) {
      unlink(t);
      t->next = nullptr;
      *tail = t;
      tail = &t->next;
    };
    int queued = 0;
    while (CURLMsg* m = curl_multi_info_read(multi, &queued)) {
      if (m->msg != CURLMSG_DONE) continue;
      // `m` dies with curl_multi_remove_handle: copy first.
      CURL* easy = m->easy_handle;
      const CURLcode result = m->data.result;
      char* priv = nullptr;
      curl_easy_getinfo(easy, CURLINFO_PRIVATE, &priv);
      auto* t = reinterpret_cast<Transfer*>(priv);
      if (t == nullptr) {  // not ours; cannot happen
        curl_multi_remove_handle(multi, easy);
        curl_easy_cleanup(easy);
        continue;
      }
      t->response = response_of(*t, result);
      curl_multi_remove_handle(multi, easy);
      curl_easy_cleanup(easy);
      t->easy = nullptr;
      append(t);
    }
    // Transfers whose socket could not be watched would never progress.
    if (watch_failed) {
      watch_failed = false;
      for (Transfer* t = transfers; t != nullptr;) {
        Transfer* next = t->next;
        if (t->watch_error != 0) {
          curl_multi_remove_handle(multi, t->easy);
          curl_easy_cleanup(t->easy);
          t->easy = nullptr;
          t->response = Response{};
          t->response.delivery = Delivery::kRetry;
          t->response.error = std::string("cannot watch the connection: ") + uv_strerror(t->watch_error);
          append(t);
        }
        t = next;
      }
    }
    deliver(finished);  // nothing touches *this after this line
  }

  static Response response_of(Transfer& t, CURLcode result) {
    Response r;
    long status = 0;
    curl_easy_getinfo(t.easy, CURLINFO_RESPONSE_CODE, &status);
    r.status = status;
    r.retry_after_s = retry_after(t.easy);
    r.body = std::move(t.response_body);
    if (result != CURLE_OK) {
      // Even after a status line: the answer is incomplete, and ingest is
      // idempotent, so sending again is the safe side.
      r.delivery = Delivery::kRetry;
      r.error = curl_error_text(result, t.error);
    } else {
      r.delivery = classify(status);
      if (status == 0) r.error = "no HTTP status in the answer";
    }
    return r;
  }

  // --- requests -----------------------------------------------------------

  void post(const std::string& path, std::string body, const std::string& content_type,
            std::function<void(Response)> done) {
    auto fail = [&](Delivery d, std::string error) {
      Response r;
      r.delivery = d;
      r.error = std::move(error);
      defer_done(loop, std::move(done), std::move(r));
    };
    if (closed) return fail(Delivery::kRetry, "sender closed");
    if (!valid_path(path)) return fail(Delivery::kRejected, "invalid request path '" + printable(path) + "'");
    if (!valid_header_value(content_type))
      return fail(Delivery::kRejected, "invalid content type '" + printable(content_type) + "'");

    std::unique_ptr<Transfer> t(new (std::nothrow) Transfer);
    if (!t) return fail(Delivery::kRetry, "out of memory");
    t->body = std::move(body);
    t->easy = curl_easy_init();
    if (t->easy == nullptr) return fail(Delivery::kRetry, "curl_easy_init failed");
    for (const std::string& h : {std::string("Expect:"), "Content-Type: " + content_type}) {
      curl_slist* more = curl_slist_append(t->headers, h.c_str());
      if (more == nullptr) return fail(Delivery::kRetry, "out of memory");
      t->headers = more;
    }
    const CURLcode rc = configure(*t, base_url + path);
    if (rc != CURLE_OK) return fail(Delivery::kRetry, std::string("curl setup: ") + curl_easy_strerror(rc));

    t->done = std::move(done);
    const CURLMcode mrc = curl_multi_add_handle(multi, t->easy);  // arms the timer (0 ms)
    if (mrc != CURLM_OK) {
      done = std::move(t->done);
      return fail(Delivery::kRetry, std::string("curl_multi_add_handle: ") + curl_multi_strerror(mrc));
    }
    link(t.release());
  }

  CURLcode configure(Transfer& t, const std::string& url) {
    CURL* e = t.easy;
    CURLcode rc = CURLE_OK;
    auto set = [&](CURLoption opt, auto value) {
      if (rc == CURLE_OK) rc = curl_easy_setopt(e, opt, value);
    };
    set(CURLOPT_URL, url.c_str());  // curl copies strings it is given
    set(CURLOPT_PRIVATE, static_cast<void*>(&t));
    set(CURLOPT_ERRORBUFFER, t.error);
    set(CURLOPT_NOSIGNAL, 1L);
    set(CURLOPT_PROTOCOLS_STR, "http,https");
    set(CURLOPT_HTTP_VERSION, static_cast<long>(CURL_HTTP_VERSION_1_1));
    set(CURLOPT_CONNECTTIMEOUT_MS, config.connect_timeout_ms);
    set(CURLOPT_TIMEOUT_MS, config.transfer_timeout_ms);
    set(CURLOPT_TCP_KEEPALIVE, 1L);
    set(CURLOPT_USERAGENT, "buildtrail-agent/" BUILDTRAIL_VERSION);
    // TLS: always verified. A configured CA bundle replaces the system
    // store entirely (CAPATH off too), so only the collector's CA is trusted.
    set(CURLOPT_SSL_VERIFYPEER, 1L);
    set(CURLOPT_SSL_VERIFYHOST, 2L);
    if (!config.ca_file.empty()) {
      set(CURLOPT_CAINFO, config.ca_file.c_str());
      set(CURLOPT_CAPATH, static_cast<const char*>(nullptr));
    }
    if (!config.client_cert.empty()) set(CURLOPT_SSLCERT, config.client_cert.c_str());
    if (!config.client_key.empty()) set(CURLOPT_SSLKEY, config.client_key.c_str());
    set(CURLOPT_SHARE, share);
    // Proxies: libcurl's default, i.e. http_proxy / https_proxy / no_proxy
    // from the environment. Redirects are not followed (3xx → kRetry).
    set(CURLOPT_HTTPHEADER, t.headers);  // "Expect:" off: no 100-continue wait
    set(CURLOPT_POST, 1L);
    set(CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(t.body.size()));
    set(CURLOPT_POSTFIELDS, t.body.data());  // t.body lives until cleanup
    set(CURLOPT_WRITEFUNCTION, static_cast<curl_write_callback>(&on_body));
    set(CURLOPT_WRITEDATA, static_cast<void*>(&t));
    return rc;
  }

  // --- teardown -----------------------------------------------------------

  void close() noexcept {
    if (closed) return;
    closed = true;  // from here curl's callbacks are ignored
    // Stop polling before curl closes the descriptors.
    while (sockets != nullptr) close_socket(sockets);
    if (timer != nullptr) {
      uv_timer_stop(timer);
      uv_close(reinterpret_cast<uv_handle_t*>(timer),
               [](uv_handle_t* h) noexcept { delete reinterpret_cast<uv_timer_t*>(h); });
      timer = nullptr;
    }
    Transfer* aborted = transfers;
    transfers = nullptr;
    in_flight = 0;
    for (Transfer* t = aborted; t != nullptr; t = t->next) {
      curl_multi_remove_handle(multi, t->easy);
      curl_easy_cleanup(t->easy);
      t->easy = nullptr;
      t->response = Response{};
      t->response.delivery = Delivery::kRetry;
      t->response.error = "sender closed";
    }
    if (multi != nullptr) curl_multi_cleanup(multi);  // closes cached connections
    multi = nullptr;
    if (share != nullptr) curl_share_cleanup(share);
    share = nullptr;
    deliver(aborted);  // nothing touches *this after this line
  }

  // --- intrusive lists (no allocation inside curl/libuv callbacks) --------

  void link(SocketCtx* c) {
    c->prev = nullptr;
    c->next = sockets;
    if (sockets != nullptr) sockets->prev = c;
    sockets = c;
  }
  void close_socket(SocketCtx* c) {
    if (c->prev != nullptr)
      c->prev->next = c->next;
    else
      sockets = c->next;
    if (c->next != nullptr) c->next->prev = c->prev;
    c->prev = c->next = nullptr;
    uv_close(reinterpret_cast<uv_handle_t*>(&c->poll), delete_socket_ctx);  // frees c later
  }
  void link(Transfer* t) {
    t->prev = nullptr;
    t->next = transfers;
    if (transfers != nullptr) transfers->prev = t;
    transfers = t;
    ++in_flight;
  }
  void unlink(Transfer* t) {
    if (t->prev != nullptr)
      t->prev->next = t->next;
    else
      transfers = t->next;
    if (t->next != nullptr) t->next->prev = t->prev;
    t->prev = t->next = nullptr;
    --in_flight;
  }
};

Result<std::unique_ptr<Sender>> Sender::create(uv_loop_t* loop, const Config& config) {
  if (loop == nullptr) return invalid("no event loop");
  auto base = check_url(config.collector_url);
  if (!base) return base.error();
  if (config.connect_timeout_ms <= 0) return invalid("connect_timeout_ms must be positive");
  if (config.transfer_timeout_ms <= 0) return invalid("transfer_timeout_ms must be positive");
  if (!config.client_key.empty() && config.client_cert.empty())
    return invalid("client_key is set but client_cert is not");
  const std::pair<const char*, const std::string*> files[] = {
      {"ca_file", &config.ca_file}, {"client_cert", &config.client_cert}, {"client_key", &config.client_key}};
  for (const auto& [what, path] : files) {
    if (path->empty()) continue;
    Status st = check_readable(what, *path);
    if (!st) return st.error();
  }
  if (!curl_ready()) return make_error(ErrorCode::kInternal, "sender: curl_global_init failed");

  auto impl = std::make_unique<Impl>(loop, config, std::move(base.value()));
  Status st = impl->init();
  if (!st) return st.error();  // ~Impl closes what init made
  return std::unique_ptr<Sender>(new Sender(std::move(impl)));
}

Sender::Sender(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Sender::~Sender() {
  if (impl_) impl_->close();
}

void Sender::post(const std::string& path, std::string body, const std::string& content_type,
                  std::function<void(Response)> done) {
  impl_->post(path, std::move(body), content_type, std::move(done));
}

std::size_t Sender::in_flight() const { return impl_->in_flight; }

void Sender::close() { impl_->close(); }  // may destroy *this through a callback

}  // namespace bt::transport::sender
