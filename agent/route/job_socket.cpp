#include "agent/route/job_socket.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>

#include "common/log.h"

namespace bt::agent::route {

namespace {

constexpr int kReadTimeoutMs = 2000;                       // a client that sends nothing is dropped
constexpr auto kAnswerTimeout = std::chrono::seconds(10);  // the capture thread answers between polls

Error io_error(const std::string& what) { return make_error(ErrorCode::kIo, what + ": " + std::strerror(errno)); }

bool someone_listens(const sockaddr_un& addr) {
  const UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  return fd && ::connect(fd.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0;
}

// One request line (what came, when the peer closes without one); empty on timeout.
std::string read_line(int fd) {
  std::string line;
  char buf[4096];
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(kReadTimeoutMs);
  while (line.size() <= job::kMaxRequestBytes) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    pollfd p{fd, POLLIN, 0};
    if (left.count() <= 0 || ::poll(&p, 1, static_cast<int>(left.count())) <= 0) return {};
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    line.append(buf, static_cast<std::size_t>(n));
    if (const auto nl = line.find('\n'); nl != std::string::npos) return line.substr(0, nl);
  }
  return line;  // without a newline: the peer closed, or it is too long (parse_request says so)
}

void write_reply(int fd, const job::Reply& reply) {
  const std::string line = job::to_json(reply) + "\n";
  std::size_t sent = 0;
  while (sent < line.size()) {
    const ssize_t n = ::send(fd, line.data() + sent, line.size() - sent, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    sent += static_cast<std::size_t>(n);
  }
}

}  // namespace

Result<std::unique_ptr<JobSocket>> JobSocket::open(const std::string& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof addr.sun_path)
    return make_error(ErrorCode::kInvalidArgument, "daemon.socket: " + path + ": not a usable socket path");
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  std::error_code ec;
  const auto dir = std::filesystem::path(path).parent_path();
  if (!dir.empty()) std::filesystem::create_directories(dir, ec);
  if (ec) return make_error(ErrorCode::kIo, "daemon.socket: " + dir.string() + ": " + ec.message());
  if (someone_listens(addr))
    return make_error(ErrorCode::kConflict, "daemon.socket: another daemon is listening at " + path);
  struct stat st {};
  if (::lstat(path.c_str(), &st) == 0 && S_ISSOCK(st.st_mode)) ::unlink(path.c_str());

  std::unique_ptr<JobSocket> s(new JobSocket());
  s->path_ = path;
  s->listen_fd_.reset(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!s->listen_fd_) return io_error("daemon.socket: socket");
  if (::bind(s->listen_fd_.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0)
    return io_error("daemon.socket: " + path);
  s->bound_ = true;
  // Every build user's hooks connect; the peer credentials say who they are.
  if (::chmod(path.c_str(), 0666) != 0 || ::listen(s->listen_fd_.get(), 64) != 0)
    return io_error("daemon.socket: " + path);
  s->stop_fd_.reset(::eventfd(0, EFD_CLOEXEC));
  if (!s->stop_fd_) return io_error("daemon.socket: eventfd");
  s->thread_ = std::thread([raw = s.get()] { raw->serve(); });
  return s;
}

JobSocket::~JobSocket() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
    for (auto& p : pending_) p->reply.set_value({false, "the daemon is stopping"});
    pending_.clear();
  }
  if (thread_.joinable()) {
    const uint64_t one = 1;
    if (::write(stop_fd_.get(), &one, sizeof one) < 0) log::warn("daemon", "job socket: cannot stop its thread");
    thread_.join();
  }
  if (bound_) ::unlink(path_.c_str());
}

void JobSocket::serve() {
  for (;;) {
    pollfd fds[2] = {{listen_fd_.get(), POLLIN, 0}, {stop_fd_.get(), POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      log::error("daemon", "job socket: poll: " + std::string(std::strerror(errno)));
      return;
    }
    if (fds[1].revents) return;
    const UniqueFd client(::accept4(listen_fd_.get(), nullptr, nullptr, SOCK_CLOEXEC));
    if (client) serve_one(client.get());
  }
}

void JobSocket::serve_one(int client) {
  ucred cred{};
  socklen_t len = sizeof cred;
  if (::getsockopt(client, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0 || cred.pid <= 0) {
    write_reply(client, {false, "the caller's process is unknown (no peer credentials)"});
    return;
  }
  const std::string line = read_line(client);
  auto request = job::parse_request(line);
  if (!request) {
    log::warn("daemon", "pid " + std::to_string(cred.pid) + ": " + request.error().message);
    write_reply(client, {false, request.error().message});
    return;
  }
  auto pending = std::make_shared<Pending>();
  pending->request = std::move(*request);
  pending->peer = {static_cast<uint32_t>(cred.pid), static_cast<uint32_t>(cred.uid)};
  auto answered = pending->reply.get_future();
  {
    std::lock_guard lock(mutex_);
    if (stopping_) {
      write_reply(client, {false, "the daemon is stopping"});
      return;
    }
    pending_.push_back(pending);
  }
  if (answered.wait_for(kAnswerTimeout) != std::future_status::ready) {
    write_reply(client, {false, "the daemon did not answer in time"});
    return;
  }
  write_reply(client, answered.get());
}

void JobSocket::answer(const Handler& handle) {
  std::deque<std::shared_ptr<Pending>> batch;
  {
    std::lock_guard lock(mutex_);
    batch.swap(pending_);
  }
  for (auto& p : batch) p->reply.set_value(handle(p->request, p->peer));
}

}  // namespace bt::agent::route
