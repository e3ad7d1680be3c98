// The syslog connections; see connection.h.
#include "collector/output/syslog/connection.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <linux/sockios.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <thread>

#include "common/fs.h"
#include "common/text.h"

namespace bt::collector::output::syslog {

namespace {

using Clock = std::chrono::steady_clock;
constexpr int kPollSliceMs = 250;

Error failed(const std::string& what) { return make_error(ErrorCode::kUnavailable, what); }
Error sys_failed(const std::string& what, int err) { return failed(what + ": " + fs::errno_text(err)); }

struct Endpoint {
  std::string host, port;
};

Endpoint split_address(const std::string& address) {
  const auto colon = address.rfind(':');
  std::string host = address.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[') host = host.substr(1, host.size() - 2);
  return {host, address.substr(colon + 1)};
}

bool is_ip(const std::string& host) {
  unsigned char buf[sizeof(in6_addr)];
  return inet_pton(AF_INET, host.c_str(), buf) == 1 || inet_pton(AF_INET6, host.c_str(), buf) == 1;
}

// Waits for `events` on fd until `deadline`, in slices that look at stop.
// Returns the revents, 0 on timeout or stop.
short wait_for(int fd, short events, Clock::time_point deadline, const std::atomic<bool>& stop) {
  while (!stop && Clock::now() < deadline) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    pollfd p{fd, events, 0};
    const int n = ::poll(&p, 1, static_cast<int>(std::min<long>(std::max<long>(left, 1), kPollSliceMs)));
    if (n > 0) return p.revents;
    if (n < 0 && errno != EINTR) return POLLERR;
  }
  return 0;
}

class Socket {
 public:
  explicit Socket(int fd = -1) : fd_(fd) {}
  Socket(Socket&& o) noexcept : fd_(o.fd_) { o.fd_ = -1; }
  ~Socket() {
    if (fd_ >= 0) ::close(fd_);
  }
  int fd() const { return fd_; }

 private:
  int fd_;
};

// A non-blocking socket connected to the first address of `host:port`
// that answers within the deadline.
Result<Socket> connect_socket(const Endpoint& at, int type, Clock::time_point deadline, const std::atomic<bool>& stop) {
  addrinfo hints{};
  hints.ai_socktype = type;
  hints.ai_family = AF_UNSPEC;
  addrinfo* found = nullptr;
  if (const int rc = ::getaddrinfo(at.host.c_str(), at.port.c_str(), &hints, &found); rc != 0)
    return failed("resolve " + text::printable(at.host) + ": " + gai_strerror(rc));
  std::string last = "no address";
  for (addrinfo* a = found; a; a = a->ai_next) {
    Socket s(::socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol));
    if (s.fd() < 0) {
      last = std::string("socket: ") + std::strerror(errno);
      continue;
    }
    if (::connect(s.fd(), a->ai_addr, a->ai_addrlen) == 0) {
      ::freeaddrinfo(found);
      return s;
    }
    if (errno != EINPROGRESS) {
      last = std::string("connect: ") + std::strerror(errno);
      continue;
    }
    const short r = wait_for(s.fd(), POLLOUT, deadline, stop);
    int err = 0;
    socklen_t len = sizeof err;
    if (r == 0) {
      last = "connect: timed out";
      continue;
    }
    if (::getsockopt(s.fd(), SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err != 0) {
      last = std::string("connect: ") + std::strerror(err ? err : errno);
      continue;
    }
    ::freeaddrinfo(found);
    return s;
  }
  ::freeaddrinfo(found);
  return failed(text::printable(at.host) + ":" + at.port + ": " + last);
}

// Waits until fd takes more bytes. A server that takes nothing for `idle`
// (it accepted and stopped reading) fails the send: the chunk is tried
// again on a new connection after the backoff.
Status wait_writable(int fd, std::chrono::milliseconds idle, const std::atomic<bool>& stop) {
  const short r = wait_for(fd, POLLOUT, Clock::now() + idle, stop);
  if (stop) return failed("stopped");
  if (r & POLLOUT) return Ok{};
  if (r & (POLLRDHUP | POLLHUP | POLLERR)) return failed("send: the server closed the connection");
  return failed("send: the server took nothing for " + std::to_string(idle.count()) + " ms");
}

// The kernel's send queue of fd is empty: the server's kernel acknowledged
// every byte.
bool send_queue_empty(int fd) {
  int queued = 0;
  return ::ioctl(fd, SIOCOUTQ, &queued) == 0 && queued == 0;
}

// The server closed or reset the connection.
bool peer_gone(short revents) { return revents & (POLLRDHUP | POLLHUP | POLLERR); }

// Waits until the server's kernel acknowledged every byte sent on fd
// (its send queue is empty) while the connection stays up. A syslog
// server sends nothing: when fd is readable anyway, `ended()` reads what
// is there and says whether that was the end of the connection.
template <class Ended>
Status wait_taken(int fd, std::chrono::milliseconds timeout, const std::atomic<bool>& stop, Ended ended) {
  const auto deadline = Clock::now() + timeout;
  while (!stop) {
    pollfd p{fd, POLLIN | POLLRDHUP, 0};
    if (::poll(&p, 1, 0) > 0) {
      if (peer_gone(p.revents)) return failed("the server closed the connection");
      if ((p.revents & POLLIN) && ended()) return failed("the server closed the connection");
    }
    if (send_queue_empty(fd)) return Ok{};
    if (Clock::now() >= deadline)
      return failed("the server took nothing for " + std::to_string(timeout.count()) + " ms");
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return failed("stopped");
}

// ---- TCP ---------------------------------------------------------------------

class TcpConnection : public Connection {
 public:
  TcpConnection(Socket s, std::chrono::milliseconds idle) : s_(std::move(s)), idle_(idle) {}

  Status send(std::string_view bytes, const std::atomic<bool>& stop) override {
    std::size_t done = 0;
    while (done < bytes.size()) {
      const ssize_t n = ::send(s_.fd(), bytes.data() + done, bytes.size() - done, MSG_NOSIGNAL);
      if (n > 0) {
        done += static_cast<std::size_t>(n);
        continue;
      }
      if (n < 0 && errno != EAGAIN && errno != EINTR) return sys_failed("send", errno);
      if (Status s = wait_writable(s_.fd(), idle_, stop); !s) return s;
    }
    return Ok{};
  }

  Status taken(std::chrono::milliseconds timeout, const std::atomic<bool>& stop) override {
    return wait_taken(s_.fd(), timeout, stop, [&] {
      char buf[512];  // a syslog server says nothing; whatever it does say is read and let go
      return ::recv(s_.fd(), buf, sizeof buf, MSG_DONTWAIT) == 0;
    });
  }

 private:
  Socket s_;
  std::chrono::milliseconds idle_;
};

// ---- UDP ---------------------------------------------------------------------

class UdpConnection : public Connection {
 public:
  explicit UdpConnection(Socket s) : s_(std::move(s)) {}

  // One datagram per message: `bytes` is one message here.
  Status send(std::string_view bytes, const std::atomic<bool>& stop) override {
    const auto deadline = Clock::now() + std::chrono::seconds(10);
    for (;;) {
      if (::send(s_.fd(), bytes.data(), bytes.size(), MSG_NOSIGNAL) >= 0) return Ok{};
      if (errno != EAGAIN && errno != EINTR) return sys_failed("send", errno);  // ECONNREFUSED: nobody listens
      if (!wait_for(s_.fd(), POLLOUT, deadline, stop)) return failed("send: timed out");
    }
  }
  // UDP has no acknowledgement at all: sent is all it can be.
  Status taken(std::chrono::milliseconds, const std::atomic<bool>&) override { return Ok{}; }

 private:
  Socket s_;
};

// ---- TLS ---------------------------------------------------------------------

class TlsConnection : public Connection {
 public:
  ~TlsConnection() override {
    if (session_) gnutls_deinit(session_);
    if (creds_) gnutls_certificate_free_credentials(creds_);
  }

  static Result<std::unique_ptr<Connection>> open(const config::Output& config, const Endpoint& at, Socket s,
                                                  Clock::time_point deadline, const std::atomic<bool>& stop) {
    std::unique_ptr<TlsConnection> c(new TlsConnection(std::move(s), std::chrono::milliseconds(config.timeout_ms)));
    if (Status st = c->setup(config, at); !st) return st.error();
    if (Status st = c->handshake(deadline, stop); !st) return st.error();
    return std::unique_ptr<Connection>(std::move(c));
  }

  Status send(std::string_view bytes, const std::atomic<bool>& stop) override {
    std::size_t done = 0;
    while (done < bytes.size()) {
      const ssize_t n =
          gnutls_record_send(session_, bytes.data() + done, std::min<std::size_t>(bytes.size() - done, 16384));
      if (n > 0) {
        done += static_cast<std::size_t>(n);
        continue;
      }
      if (n != GNUTLS_E_AGAIN && n != GNUTLS_E_INTERRUPTED)
        return failed(std::string("TLS send: ") + gnutls_strerror(int(n)));
      // GnuTLS keeps the record it could not write: the same call again
      // (same data) finishes it once the socket can take more.
      if (Status st = wait_writable(s_.fd(), idle_, stop); !st) return st;
    }
    return Ok{};
  }

  Status taken(std::chrono::milliseconds timeout, const std::atomic<bool>& stop) override {
    return wait_taken(s_.fd(), timeout, stop, [&] {
      char buf[512];  // a close_notify, or records nobody asked for
      const ssize_t n = gnutls_record_recv(session_, buf, sizeof buf);
      return n == 0 || (n < 0 && n != GNUTLS_E_AGAIN && n != GNUTLS_E_INTERRUPTED);
    });
  }

 private:
  TlsConnection(Socket s, std::chrono::milliseconds idle) : s_(std::move(s)), idle_(idle) {}

  Status setup(const config::Output& config, const Endpoint& at) {
    if (gnutls_certificate_allocate_credentials(&creds_) != GNUTLS_E_SUCCESS) return failed("TLS: out of memory");
    const int trusted = config.ca_file.empty() ? gnutls_certificate_set_x509_system_trust(creds_)
                                               : gnutls_certificate_set_x509_trust_file(creds_, config.ca_file.c_str(),
                                                                                        GNUTLS_X509_FMT_PEM);
    if (trusted <= 0)
      return failed("TLS: no trusted CA loaded from " +
                    (config.ca_file.empty() ? std::string("the system store") : text::printable(config.ca_file)));
    if (!config.cert_file.empty()) {
      const int rc = gnutls_certificate_set_x509_key_file(creds_, config.cert_file.c_str(), config.key_file.c_str(),
                                                          GNUTLS_X509_FMT_PEM);
      if (rc != GNUTLS_E_SUCCESS) return failed(std::string("TLS: client certificate: ") + gnutls_strerror(rc));
    }
    if (gnutls_init(&session_, GNUTLS_CLIENT | GNUTLS_NONBLOCK) != GNUTLS_E_SUCCESS) return failed("TLS: init failed");
    gnutls_set_default_priority(session_);
    gnutls_credentials_set(session_, GNUTLS_CRD_CERTIFICATE, creds_);
    name_ = config.server_name.empty() ? at.host : config.server_name;
    if (!is_ip(name_)) gnutls_server_name_set(session_, GNUTLS_NAME_DNS, name_.data(), name_.size());
    // The chain and the name (a DNS name, or an IP address in the
    // certificate's IP SANs) are checked during the handshake.
    gnutls_session_set_verify_cert(session_, name_.c_str(), 0);
    gnutls_transport_set_int(session_, s_.fd());
    gnutls_handshake_set_timeout(session_, 0);
    return Ok{};
  }

  Status handshake(Clock::time_point deadline, const std::atomic<bool>& stop) {
    for (;;) {
      const int rc = gnutls_handshake(session_);
      if (rc == GNUTLS_E_SUCCESS) return Ok{};
      if (rc == GNUTLS_E_CERTIFICATE_VERIFICATION_ERROR) {
        const unsigned status = gnutls_session_get_verify_cert_status(session_);
        gnutls_datum_t why{};
        std::string reason = "unknown";
        if (gnutls_certificate_verification_status_print(status, GNUTLS_CRT_X509, &why, 0) == GNUTLS_E_SUCCESS) {
          reason = reinterpret_cast<const char*>(why.data);
          gnutls_free(why.data);
        }
        return failed("TLS: the server's certificate for " + text::printable(name_) +
                      " was refused: " + text::printable(reason));
      }
      if (gnutls_error_is_fatal(rc)) return failed(std::string("TLS handshake: ") + gnutls_strerror(rc));
      const short want = gnutls_record_get_direction(session_) ? POLLOUT : POLLIN;
      if (!wait_for(s_.fd(), want, deadline, stop)) return failed(stop ? "stopped" : "TLS handshake: timed out");
    }
  }

  Socket s_;
  std::chrono::milliseconds idle_;
  gnutls_certificate_credentials_t creds_ = nullptr;
  gnutls_session_t session_ = nullptr;
  std::string name_;
};

}  // namespace

Result<std::unique_ptr<Connection>> connect(const config::Output& config, const std::atomic<bool>& stop) {
  const Endpoint at = split_address(config.address);
  const auto deadline = Clock::now() + std::chrono::milliseconds(config.timeout_ms);
  const bool udp = config.transport == "udp";
  auto s = connect_socket(at, udp ? SOCK_DGRAM : SOCK_STREAM, deadline, stop);
  if (!s) return s.error();
  if (udp) return std::unique_ptr<Connection>(new UdpConnection(std::move(*s)));
  if (config.transport == "tls") return TlsConnection::open(config, at, std::move(*s), deadline, stop);
  return std::unique_ptr<Connection>(new TcpConnection(std::move(*s), std::chrono::milliseconds(config.timeout_ms)));
}

}  // namespace bt::collector::output::syslog
