// The sender on a real libuv loop against real processes on loopback: the
// collector (plain HTTP, TLS, mTLS) and tiny listeners written here for what
// the collector never does (503 + Retry-After, silence, huge bodies, counting
// connections). Every test runs its loop dry and closes it: a handle left
// behind fails uv_loop_close (and would leak under ASan).
#include <arpa/inet.h>
#include <doctest/doctest.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "collector/store/store.h"
#include "tests/collector/collector_process.h"
#include "tests/common/test_pki.h"
#include "transport/sender/sender.h"

using namespace bt;
using namespace bt::testing;
using bt::transport::sender::Config;
using bt::transport::sender::Delivery;
using bt::transport::sender::Response;
using bt::transport::sender::Sender;

namespace {

const char* const kType = "application/octet-stream";

// Loopback only, whatever proxy the environment running the tests names.
const bool kNoProxy = [] {
  ::setenv("no_proxy", "*", 1);
  ::setenv("NO_PROXY", "*", 1);
  return true;
}();

bool contains(const std::string& hay, const std::string& needle) { return hay.find(needle) != std::string::npos; }

struct Loop {
  uv_loop_t loop{};
  bool closed = false;
  Loop() { REQUIRE(uv_loop_init(&loop) == 0); }
  ~Loop() {
    if (closed) return;
    // A failed test: close whatever is left so the next test starts clean.
    uv_walk(
        &loop,
        [](uv_handle_t* h, void*) {
          if (!uv_is_closing(h)) uv_close(h, nullptr);
        },
        nullptr);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
  }
  uv_loop_t* get() { return &loop; }
  void run() { uv_run(&loop, UV_RUN_DEFAULT); }
  // Runs the loop dry; every handle must be closed by then.
  void finish() {
    run();
    const int rc = uv_loop_close(&loop);
    CHECK_MESSAGE(rc == 0, "uv_loop_close: " << uv_strerror(rc));
    closed = rc == 0;
  }
};

std::unique_ptr<Sender> make_sender(uv_loop_t* loop, const Config& config) {
  auto s = Sender::create(loop, config);
  if (!s) FAIL("Sender::create: " << s.error().message);
  return std::move(s.value());
}

Config config_for(const std::string& url) {
  Config c;
  c.collector_url = url;
  c.connect_timeout_ms = 5000;
  c.transfer_timeout_ms = 20000;
  return c;
}

// Posts once and runs the loop until the sender is idle again.
Response send_one(Sender& s, Loop& loop, const std::string& body, const std::string& path = "/v1/batches") {
  std::optional<Response> out;
  int calls = 0;
  s.post(path, body, kType, [&](Response r) {
    ++calls;
    out = std::move(r);
  });
  CHECK(s.in_flight() == 1);
  loop.run();
  CHECK(calls == 1);
  CHECK(s.in_flight() == 0);
  REQUIRE(out.has_value());
  return std::move(*out);
}

std::string describe(const Response& r) {
  return "status " + std::to_string(r.status) + ", error '" + r.error + "', body '" + r.body + "'";
}

int port_of(const std::string& address) { return std::stoi(address.substr(address.rfind(':') + 1)); }

sockaddr_in loopback(int port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return a;
}

// A port nothing listens on: bound once by the kernel's choice, then closed.
int closed_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  REQUIRE(fd >= 0);
  sockaddr_in a = loopback(0);
  socklen_t len = sizeof a;
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0);
  ::close(fd);
  return ntohs(a.sin_port);
}

bool send_all(int fd, const char* p, std::size_t n) {
  while (n > 0) {
    const ssize_t w = ::send(fd, p, n, MSG_NOSIGNAL);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return false;
    p += w;
    n -= static_cast<std::size_t>(w);
  }
  return true;
}

// Relayed answers must not wait for Nagle's algorithm.
void no_delay(int fd) {
  const int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

// Length of the first complete HTTP request in `in` (headers and a
// Content-Length body), 0 while incomplete.
std::size_t request_length(const std::string& in) {
  const std::size_t end = in.find("\r\n\r\n");
  if (end == std::string::npos) return 0;
  std::size_t body = 0;
  std::string head = in.substr(0, end);
  for (char& c : head) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  const std::size_t cl = head.find("\r\ncontent-length:");
  if (cl != std::string::npos) body = std::stoul(head.substr(cl + 17));
  return in.size() >= end + 4 + body ? end + 4 + body : 0;
}

// A loopback TCP listener on its own thread. With a response it answers every
// complete request with it (keep-alive); with an empty one it reads and never
// answers; with forward_port it relays each connection to that port. Counts
// accepted connections either way.
class Listener {
 public:
  explicit Listener(std::string response, int forward_port = 0)
      : response_(std::move(response)), forward_(forward_port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    REQUIRE(fd_ >= 0);
    sockaddr_in a = loopback(0);
    socklen_t len = sizeof a;
    REQUIRE(::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
    REQUIRE(::listen(fd_, 64) == 0);
    REQUIRE(::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len) == 0);
    port_ = ntohs(a.sin_port);
    REQUIRE(::pipe2(wake_, O_CLOEXEC) == 0);
    thread_ = std::thread([this] { serve(); });
  }
  ~Listener() {
    const char c = 0;
    if (::write(wake_[1], &c, 1) != 1) std::abort();
    thread_.join();
    ::close(fd_);
    ::close(wake_[0]);
    ::close(wake_[1]);
  }
  Listener(const Listener&) = delete;
  Listener& operator=(const Listener&) = delete;

  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  int accepted() const { return accepted_.load(); }
  int requests() const { return requests_.load(); }

 private:
  struct Conn {
    int fd = -1;
    int peer = -1;  // forwarding target
    std::string in;
    bool dead = false;
  };

  void serve() {
    std::vector<Conn> conns;
    for (;;) {
      std::vector<pollfd> pfds = {{fd_, POLLIN, 0}, {wake_[0], POLLIN, 0}};
      std::vector<std::pair<std::size_t, bool>> owner;  // (conn, is peer side)
      for (std::size_t i = 0; i < conns.size(); ++i) {
        pfds.push_back({conns[i].fd, POLLIN, 0});
        owner.emplace_back(i, false);
        if (conns[i].peer >= 0) {
          pfds.push_back({conns[i].peer, POLLIN, 0});
          owner.emplace_back(i, true);
        }
      }
      if (::poll(pfds.data(), pfds.size(), -1) < 0) {
        if (errno == EINTR) continue;
        break;
      }
      if (pfds[1].revents != 0) break;
      for (std::size_t k = 2; k < pfds.size(); ++k) {
        if (pfds[k].revents == 0) continue;
        Conn& c = conns[owner[k - 2].first];
        if (c.dead) continue;
        char buf[65536];
        const int from = owner[k - 2].second ? c.peer : c.fd;
        const ssize_t n = ::recv(from, buf, sizeof buf, 0);
        if (n <= 0) {
          c.dead = true;
          continue;
        }
        if (forward_ != 0) {
          if (!send_all(owner[k - 2].second ? c.fd : c.peer, buf, static_cast<std::size_t>(n))) c.dead = true;
          continue;
        }
        c.in.append(buf, static_cast<std::size_t>(n));
        while (std::size_t len = request_length(c.in)) {
          c.in.erase(0, len);
          ++requests_;
          if (!response_.empty() && !send_all(c.fd, response_.data(), response_.size())) c.dead = true;
        }
      }
      for (auto it = conns.begin(); it != conns.end();) {
        if (!it->dead) {
          ++it;
          continue;
        }
        ::close(it->fd);
        if (it->peer >= 0) ::close(it->peer);
        it = conns.erase(it);
      }
      if (pfds[0].revents & POLLIN) {
        Conn c;
        c.fd = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
        if (c.fd < 0) continue;
        ++accepted_;
        no_delay(c.fd);
        if (forward_ != 0) {
          c.peer = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
          sockaddr_in a = loopback(forward_);
          if (c.peer < 0 || ::connect(c.peer, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
            if (c.peer >= 0) ::close(c.peer);
            ::close(c.fd);
            continue;
          }
          no_delay(c.peer);
        }
        conns.push_back(std::move(c));
      }
    }
    for (auto& c : conns) {
      ::close(c.fd);
      if (c.peer >= 0) ::close(c.peer);
    }
  }

  std::string response_;
  int forward_ = 0;
  int fd_ = -1;
  int wake_[2] = {-1, -1};
  int port_ = 0;
  std::atomic<int> accepted_{0};
  std::atomic<int> requests_{0};
  std::thread thread_;
};

struct Env : CollectorData {
  Env() : CollectorData("snd") {}
  crypto::KeyPair key = test_key(31);
  std::string agent = "agent-sender-1";
};

}  // namespace

TEST_CASE("classify") {
  CHECK(transport::sender::classify(200) == Delivery::kDelivered);
  CHECK(transport::sender::classify(204) == Delivery::kDelivered);
  CHECK(transport::sender::classify(0) == Delivery::kRetry);
  CHECK(transport::sender::classify(100) == Delivery::kRetry);
  CHECK(transport::sender::classify(301) == Delivery::kRetry);
  CHECK(transport::sender::classify(408) == Delivery::kRetry);
  CHECK(transport::sender::classify(429) == Delivery::kRetry);
  CHECK(transport::sender::classify(500) == Delivery::kRetry);
  CHECK(transport::sender::classify(503) == Delivery::kRetry);
  for (long s : {400L, 401L, 403L, 404L, 409L, 413L, 499L})
    CHECK(transport::sender::classify(s) == Delivery::kRejected);
}

TEST_CASE("create validates the URL and the TLS files") {
  Loop loop;
  auto err = [&](const Config& c) {
    auto s = Sender::create(loop.get(), c);
    REQUIRE_FALSE(s.ok());
    CHECK(s.error().message.find('\n') == std::string::npos);
    return s.error().message;
  };
  CHECK(contains(err(config_for("ftp://127.0.0.1:21")), "http"));
  CHECK(contains(err(config_for("127.0.0.1:8443")), "127.0.0.1:8443"));
  CHECK(contains(err(config_for("https://")), "collector_url"));
  CHECK(contains(err(config_for("https://h.example/?q=1")), "query"));
  Config c = config_for("https://collector.example:8443/");
  c.ca_file = "/nonexistent/ca.pem";
  CHECK(contains(err(c), "/nonexistent/ca.pem"));
  c.ca_file = "/tmp";
  CHECK(contains(err(c), "not a regular file"));
  c.ca_file.clear();
  c.client_cert = "/nonexistent/client.pem";
  CHECK(contains(err(c), "/nonexistent/client.pem"));
  c.client_cert.clear();
  c.client_key = "/nonexistent/client.key";
  CHECK(contains(err(c), "client_cert"));
  c = config_for("http://127.0.0.1:1");
  c.transfer_timeout_ms = 0;
  CHECK(contains(err(c), "transfer_timeout_ms"));
  CHECK_FALSE(Sender::create(nullptr, config_for("http://127.0.0.1:1")).ok());
  // A valid config with an upper-case scheme and a trailing slash is fine.
  CHECK(Sender::create(loop.get(), config_for("HTTP://127.0.0.1:1/")).ok());
  loop.finish();
}

TEST_CASE("batches to a real collector: stored, duplicate, unknown agent") {
  Env env;
  env.add_agent(env.agent, env.key);
  CollectorProcess c(env.data);
  REQUIRE_MESSAGE(c.running(), c.log());
  auto chain = sealed_chain(env.key, env.agent, 2);
  Loop loop;
  auto s = make_sender(loop.get(), config_for("http://" + c.address()));

  auto r = send_one(*s, loop, chain[0].bytes);
  CHECK_MESSAGE(r.delivery == Delivery::kDelivered, describe(r));
  CHECK(r.status == 200);
  CHECK(r.error.empty());
  CHECK(r.retry_after_s == -1);
  CHECK(contains(r.body, "\"status\":\"stored\""));

  r = send_one(*s, loop, chain[0].bytes);
  CHECK_MESSAGE(r.delivery == Delivery::kDelivered, describe(r));
  CHECK(contains(r.body, "\"status\":\"duplicate\""));

  auto stranger = sealed_chain(test_key(32), "agent-unknown", 1);
  r = send_one(*s, loop, stranger[0].bytes);
  CHECK_MESSAGE(r.delivery == Delivery::kRejected, describe(r));
  CHECK(r.status == 401);
  CHECK(contains(r.body, "unknown agent"));

  r = send_one(*s, loop, chain[1].bytes);
  CHECK_MESSAGE(r.delivery == Delivery::kDelivered, describe(r));
  CHECK(env.stats().batches == 2);

  s.reset();
  loop.finish();
}

TEST_CASE("200 sequential posts on one loop reuse one connection") {
  Env env;
  env.add_agent(env.agent, env.key);
  CollectorProcess c(env.data);
  REQUIRE_MESSAGE(c.running(), c.log());
  Listener relay("", port_of(c.address()));  // counts the sender's connections
  auto chain = sealed_chain(env.key, env.agent, 200, 3);
  Loop loop;
  auto s = make_sender(loop.get(), config_for(relay.url()));

  std::size_t next = 0;
  int delivered = 0;
  std::string problem;
  std::function<void()> send_next = [&] {
    s->post("/v1/batches", chain[next].bytes, kType, [&](Response r) {
      if (r.delivery == Delivery::kDelivered)
        ++delivered;
      else if (problem.empty())
        problem = describe(r);
      if (++next < chain.size()) send_next();  // posting from `done` is fine
    });
  };
  const auto t0 = std::chrono::steady_clock::now();
  send_next();
  loop.run();
  const auto elapsed = std::chrono::steady_clock::now() - t0;
  CHECK_MESSAGE(delivered == 200, problem);
  CHECK(relay.accepted() == 1);
  CHECK(elapsed < std::chrono::seconds(30));
  MESSAGE("200 posts in " << std::chrono::duration_cast<std::chrono::milliseconds>(elapsed).count() << " ms");
  CHECK(env.stats().batches == 200);
  s.reset();
  loop.finish();
}

TEST_CASE("connection refused is a retry with curl's reason") {
  Loop loop;
  auto s = make_sender(loop.get(), config_for("http://127.0.0.1:" + std::to_string(closed_port())));
  auto r = send_one(*s, loop, "x");
  CHECK(r.delivery == Delivery::kRetry);
  CHECK(r.status == 0);
  CHECK_MESSAGE(contains(r.error, "onnect"), r.error);  // "Couldn't connect to server: ..."
  s.reset();
  loop.finish();
}

TEST_CASE("503 with Retry-After: retry, and the hint is passed on") {
  Listener busy("HTTP/1.1 503 Service Unavailable\r\nRetry-After: 7\r\nContent-Length: 0\r\n\r\n");
  Loop loop;
  auto s = make_sender(loop.get(), config_for(busy.url()));
  auto r = send_one(*s, loop, std::string(100000, 'b'));
  CHECK_MESSAGE(r.delivery == Delivery::kRetry, describe(r));
  CHECK(r.status == 503);
  CHECK(r.retry_after_s == 7);
  CHECK(r.error.empty());
  CHECK(busy.requests() == 1);
  s.reset();
  loop.finish();
}

TEST_CASE("other answers: 429 and 408 retry, 413 rejects, 302 retries, Retry-After: 0") {
  struct Case {
    std::string head;
    Delivery want;
    long status;
    int retry_after;
  };
  const Case cases[] = {
      {"429 Too Many Requests\r\nRetry-After: 0", Delivery::kRetry, 429, 0},
      {"408 Request Timeout", Delivery::kRetry, 408, -1},
      {"413 Payload Too Large", Delivery::kRejected, 413, -1},
      {"302 Found\r\nLocation: http://127.0.0.1:1/", Delivery::kRetry, 302, -1},
  };
  for (const auto& k : cases) {
    CAPTURE(k.head);
    Listener l("HTTP/1.1 " + k.head + "\r\nContent-Length: 2\r\n\r\nno");
    Loop loop;
    auto s = make_sender(loop.get(), config_for(l.url()));
    auto r = send_one(*s, loop, "x");
    CHECK(r.delivery == k.want);
    CHECK(r.status == k.status);
    CHECK(r.retry_after_s == k.retry_after);
    CHECK(r.body == "no");
    s.reset();
    loop.finish();
  }
}

TEST_CASE("the response body is capped at 64 KiB") {
  const std::string big(200000, 'z');
  Listener l("HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(big.size()) + "\r\n\r\n" + big);
  Loop loop;
  auto s = make_sender(loop.get(), config_for(l.url()));
  auto r = send_one(*s, loop, "x");
  CHECK(r.delivery == Delivery::kDelivered);
  CHECK(r.body.size() == 64 * 1024);
  // The rest was read and dropped: the connection is reused.
  r = send_one(*s, loop, "y");
  CHECK(r.delivery == Delivery::kDelivered);
  CHECK(l.accepted() == 1);
  s.reset();
  loop.finish();
}

TEST_CASE("a collector that never answers: retry after transfer_timeout_ms") {
  Listener silent("");
  Loop loop;
  Config c = config_for(silent.url());
  c.transfer_timeout_ms = 300;
  auto s = make_sender(loop.get(), c);
  const auto t0 = std::chrono::steady_clock::now();
  auto r = send_one(*s, loop, "x");
  const auto elapsed = std::chrono::steady_clock::now() - t0;
  CHECK(r.delivery == Delivery::kRetry);
  CHECK(r.status == 0);
  CHECK_MESSAGE((contains(r.error, "imeout") || contains(r.error, "timed out")), r.error);
  CHECK(elapsed >= std::chrono::milliseconds(250));
  CHECK(elapsed < std::chrono::seconds(5));
  s.reset();
  loop.finish();
}

TEST_CASE("invalid requests fail through done, never inside post") {
  Listener l("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
  Loop loop;
  auto s = make_sender(loop.get(), config_for(l.url()));
  std::vector<Response> got;
  s->post("no-slash", "x", kType, [&](Response r) { got.push_back(std::move(r)); });
  s->post("/v1/batches", "x", "text/plain\r\nX-Evil: 1", [&](Response r) { got.push_back(std::move(r)); });
  CHECK(got.empty());
  CHECK(s->in_flight() == 0);
  loop.run();
  REQUIRE(got.size() == 2);
  CHECK(got[0].delivery == Delivery::kRejected);
  CHECK(contains(got[0].error, "path"));
  CHECK(got[1].delivery == Delivery::kRejected);
  CHECK(contains(got[1].error, "content type"));
  CHECK(l.requests() == 0);
  s.reset();
  loop.finish();
}

TEST_CASE("TLS: the test CA is trusted, a wrong CA is a retry with a clear error") {
  Env env;
  env.add_agent(env.agent, env.key);
  TestPki pki;
  CollectorProcess c(env.data, {"--tls-cert", pki.f("server.pem"), "--tls-key", pki.f("server.key")});
  REQUIRE_MESSAGE(c.running(), c.log());
  const std::string batch = sealed_chain(env.key, env.agent, 1)[0].bytes;
  Loop loop;

  Config good = config_for("https://" + c.address());
  good.ca_file = pki.f("ca.pem");
  auto s = make_sender(loop.get(), good);
  auto r = send_one(*s, loop, batch);
  CHECK_MESSAGE(r.delivery == Delivery::kDelivered, describe(r));
  CHECK(contains(r.body, "\"status\":\"stored\""));
  s.reset();

  Config wrong = good;
  wrong.ca_file = pki.f("other.pem");
  s = make_sender(loop.get(), wrong);
  r = send_one(*s, loop, batch);
  CHECK(r.delivery == Delivery::kRetry);
  CHECK(r.status == 0);
  CHECK_MESSAGE((contains(r.error, "SSL") && contains(r.error, "certificate")), r.error);
  s.reset();

  // No CA file: the system store does not know the test CA.
  s = make_sender(loop.get(), config_for("https://" + c.address()));
  r = send_one(*s, loop, batch);
  CHECK_MESSAGE(r.delivery == Delivery::kRetry, describe(r));
  s.reset();
  loop.finish();
}

TEST_CASE("mTLS: delivered with the client certificate, not without") {
  Env env;
  env.add_agent(env.agent, env.key);
  TestPki pki;
  CollectorProcess c(
      env.data, {"--tls-cert", pki.f("server.pem"), "--tls-key", pki.f("server.key"), "--client-ca", pki.f("ca.pem")});
  REQUIRE_MESSAGE(c.running(), c.log());
  auto chain = sealed_chain(env.key, env.agent, 2);
  Loop loop;

  Config cfg = config_for("https://" + c.address());
  cfg.ca_file = pki.f("ca.pem");
  cfg.client_cert = pki.f("client.pem");
  cfg.client_key = pki.f("client.key");
  auto s = make_sender(loop.get(), cfg);
  for (const auto& b : chain) {
    auto r = send_one(*s, loop, b.bytes);
    CHECK_MESSAGE(r.delivery == Delivery::kDelivered, describe(r));
  }
  s.reset();

  Config anonymous = cfg;
  anonymous.client_cert.clear();
  anonymous.client_key.clear();
  s = make_sender(loop.get(), anonymous);
  auto r = send_one(*s, loop, chain[0].bytes);
  CHECK_MESSAGE(r.delivery != Delivery::kDelivered, describe(r));
  s.reset();
  CHECK(env.stats().batches == 2);
  loop.finish();
}

TEST_CASE("close with a transfer in flight: done gets \"sender closed\", no handle is left") {
  Listener silent("");
  Loop loop;
  auto s = make_sender(loop.get(), config_for(silent.url()));
  std::vector<Response> got;
  for (int i = 0; i < 3; ++i)
    s->post("/v1/batches", std::string(1000, 'q'), kType, [&](Response r) { got.push_back(std::move(r)); });
  CHECK(s->in_flight() == 3);

  // Close from a timer once the requests are on the wire.
  uv_timer_t closer;
  REQUIRE(uv_timer_init(loop.get(), &closer) == 0);
  struct Ctx {
    Sender* sender;
    Listener* listener;
    std::vector<Response>* got;
    std::size_t got_inside_close = 0;
    int ticks = 0;
  } ctx{s.get(), &silent, &got};
  closer.data = &ctx;
  REQUIRE(uv_timer_start(
              &closer,
              [](uv_timer_t* t) {
                auto* x = static_cast<Ctx*>(t->data);
                if (x->listener->requests() < 3 && ++x->ticks < 500) return;  // 10 ms ticks, 5 s at most
                x->sender->close();
                x->got_inside_close = x->got->size();
                x->sender->close();  // idempotent
                uv_close(reinterpret_cast<uv_handle_t*>(t), nullptr);
              },
              10, 10) == 0);
  loop.run();

  CHECK(silent.requests() == 3);
  CHECK(ctx.got_inside_close == 3);  // aborted transfers complete inside close()
  REQUIRE(got.size() == 3);
  for (const auto& r : got) {
    CHECK(r.delivery == Delivery::kRetry);
    CHECK(r.status == 0);
    CHECK(r.error == "sender closed");
  }
  CHECK(s->in_flight() == 0);

  // A post after close completes (asynchronously) the same way.
  std::optional<Response> late;
  s->post("/v1/batches", "x", kType, [&](Response r) { late = std::move(r); });
  CHECK_FALSE(late.has_value());
  loop.run();
  REQUIRE(late.has_value());
  CHECK(late->delivery == Delivery::kRetry);
  CHECK(late->error == "sender closed");

  s.reset();
  loop.finish();
}

TEST_CASE("the sender may be destroyed mid-transfer or from inside done") {
  Listener silent("");
  Listener ok("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
  Loop loop;

  SUBCASE("destructor with a transfer in flight") {
    auto s = make_sender(loop.get(), config_for(silent.url()));
    std::optional<Response> got;
    s->post("/v1/batches", "x", kType, [&](Response r) { got = std::move(r); });
    // Run until the request reached the listener, then drop the sender.
    uv_timer_t t;
    REQUIRE(uv_timer_init(loop.get(), &t) == 0);
    struct Ctx {
      std::unique_ptr<Sender>* s;
      Listener* l;
      int ticks = 0;
    } ctx{&s, &silent};
    t.data = &ctx;
    REQUIRE(uv_timer_start(
                &t,
                [](uv_timer_t* h) {
                  auto* x = static_cast<Ctx*>(h->data);
                  if (x->l->requests() < 1 && ++x->ticks < 500) return;
                  x->s->reset();
                  uv_close(reinterpret_cast<uv_handle_t*>(h), nullptr);
                },
                10, 10) == 0);
    loop.run();
    REQUIRE(got.has_value());
    CHECK(got->error == "sender closed");
    CHECK(s == nullptr);
  }
  SUBCASE("destroyed by its own done callback, with another transfer pending") {
    auto s = make_sender(loop.get(), config_for(ok.url()));
    std::vector<std::string> order;
    s->post("/v1/batches", "x", kType, [&](Response r) {
      order.push_back("first " + std::to_string(r.status));
      // Either the second is still in flight (aborted) or it already completed.
      s.reset();
    });
    s->post("/v1/batches", "y", kType,
            [&](Response r) { order.push_back("second " + std::to_string(r.status) + " " + r.error); });
    loop.run();
    CHECK(s == nullptr);
    REQUIRE(order.size() == 2);
  }
  loop.finish();
}
