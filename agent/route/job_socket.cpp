#include "agent/route/job_socket.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>

#include "common/log.h"

namespace bt::agent::route {

namespace {

using Clock = std::chrono::steady_clock;

constexpr std::size_t kAcceptsPerRound = 64;  // then the clients already connected get their turn

Error io_error(const std::string& what) { return make_error(ErrorCode::kIo, what + ": " + std::strerror(errno)); }

bool someone_listens(const sockaddr_un& addr) {
  const UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  return fd && ::connect(fd.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0;
}

// Never blocks: a reply is one short line, which fits a fresh socket's
// buffer; a client that does not read it loses it, nobody else waits.
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

// One connection: reading its request until `deadline`, then (pending set)
// waiting for the capture thread's answer until `deadline` again.
struct JobSocket::Client {
  UniqueFd fd;
  Peer peer;
  std::string in;
  Clock::time_point deadline;
  std::shared_ptr<Pending> pending;
  bool done = false;  // replied or dropped: removed at the end of the round
};

Result<std::unique_ptr<JobSocket>> JobSocket::open(const std::string& path, const Limits& limits) {
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
  s->limits_ = limits;
  s->listen_fd_.reset(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!s->listen_fd_) return io_error("daemon.socket: socket");
  if (::bind(s->listen_fd_.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0)
    return io_error("daemon.socket: " + path);
  s->bound_ = true;
  // Every build user's hooks connect; the peer credentials say who they
  // are. AT_SYMLINK_NOFOLLOW: if the path is no longer our socket but a
  // link, a daemon running as root must not make its target world-writable.
  if (::fchmodat(AT_FDCWD, path.c_str(), 0666, AT_SYMLINK_NOFOLLOW) != 0 || ::listen(s->listen_fd_.get(), 64) != 0)
    return io_error("daemon.socket: " + path);
  s->wake_fd_.reset(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!s->wake_fd_) return io_error("daemon.socket: eventfd");
  s->thread_ = std::thread([raw = s.get()] { raw->serve(); });
  return s;
}

JobSocket::~JobSocket() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  if (thread_.joinable()) {
    wake();
    thread_.join();
  }
  if (bound_) ::unlink(path_.c_str());
}

void JobSocket::wake() {
  const uint64_t one = 1;
  if (::write(wake_fd_.get(), &one, sizeof one) < 0 && errno != EAGAIN)
    log::warn("daemon", "job socket: cannot wake its thread: " + std::string(std::strerror(errno)));
}

void JobSocket::serve() {
  std::vector<pollfd> fds;
  for (;;) {
    // Whoever is nearest its deadline bounds the wait.
    const auto now = Clock::now();
    int timeout_ms = -1;
    fds.clear();
    fds.push_back({wake_fd_.get(), POLLIN, 0});
    fds.push_back({listen_fd_.get(), POLLIN, 0});
    for (const auto& c : clients_) {
      // A client waiting for its answer is not read: one request each.
      fds.push_back({c->fd.get(), static_cast<short>(c->pending ? 0 : POLLIN), 0});
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(c->deadline - now).count() + 1;
      timeout_ms = timeout_ms < 0 ? static_cast<int>(std::max<int64_t>(0, left))
                                  : std::min(timeout_ms, static_cast<int>(std::max<int64_t>(0, left)));
    }
    if (::poll(fds.data(), fds.size(), timeout_ms) < 0) {
      if (errno == EINTR) continue;
      log::error("daemon", "job socket: poll: " + std::string(std::strerror(errno)));
      return;
    }
    if (fds[0].revents) {
      uint64_t count = 0;
      (void)!::read(wake_fd_.get(), &count, sizeof count);
    }
    bool stopping = false;
    {
      // Answers the capture thread gave since the last round.
      std::lock_guard lock(mutex_);
      stopping = stopping_;
      for (auto& c : clients_) {
        if (!c->pending || !c->pending->reply) continue;
        write_reply(c->fd.get(), *c->pending->reply);
        c->done = true;
      }
    }
    if (stopping) {
      for (auto& c : clients_)
        if (!c->done) write_reply(c->fd.get(), {false, "the daemon is stopping"});
      clients_.clear();
      return;
    }
    for (std::size_t i = 0; i < clients_.size(); ++i) {
      Client& c = *clients_[i];
      if (c.done || !(fds[i + 2].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      if (!c.pending)
        read_request(c);
      else
        c.done = true;  // hung up while waiting: its request is still answered, its slot is free
    }
    const auto after = Clock::now();
    for (auto& c : clients_) {
      if (c->done || after < c->deadline) continue;
      write_reply(c->fd.get(), c->pending
                                   ? job::Reply{false, "the daemon did not answer in time"}
                                   : job::Reply{false, "no request line within " +
                                                           std::to_string(limits_.request_timeout.count()) + " ms"});
      c->done = true;
    }
    std::erase_if(clients_, [](const std::unique_ptr<Client>& c) { return c->done; });
    if (fds[1].revents) accept_clients();
  }
}

void JobSocket::accept_clients() {
  for (std::size_t n = 0; n < kAcceptsPerRound; ++n) {
    UniqueFd fd(::accept4(listen_fd_.get(), nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK));
    if (!fd) return;  // EAGAIN: none left (or a transient error: the next round)
    ucred cred{};
    socklen_t len = sizeof cred;
    if (::getsockopt(fd.get(), SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0 || cred.pid <= 0) {
      write_reply(fd.get(), {false, "the caller's process is unknown (no peer credentials)"});
      continue;
    }
    const auto same_user = static_cast<std::size_t>(std::count_if(
        clients_.begin(), clients_.end(), [&](const std::unique_ptr<Client>& c) { return c->peer.uid == cred.uid; }));
    if (clients_.size() >= limits_.max_clients || same_user >= limits_.max_clients_per_uid) {
      // One line a second at most: a flood of connections must not become a flood of log lines.
      ++refused_busy_;
      if (const auto now = Clock::now(); now - last_busy_log_ >= std::chrono::seconds(1)) {
        log::warn("daemon", "job socket: busy, refused pid " + std::to_string(cred.pid) + " (uid " +
                                std::to_string(cred.uid) + ", " + std::to_string(same_user) +
                                " of its connections open; " + std::to_string(refused_busy_) +
                                " refused since the last such line)");
        last_busy_log_ = now;
        refused_busy_ = 0;
      }
      write_reply(fd.get(), {false, "the daemon is busy (too many connections); try again"});
      continue;
    }
    auto c = std::make_unique<Client>();
    c->fd = std::move(fd);
    c->peer = {static_cast<uint32_t>(cred.pid), static_cast<uint32_t>(cred.uid)};
    c->deadline = Clock::now() + limits_.request_timeout;
    clients_.push_back(std::move(c));
  }
}

// Reads what the client sent; at a full line (or when it closes) the
// request is parsed and queued for the capture thread.
void JobSocket::read_request(Client& c) {
  char buf[4096];
  bool closed = false;
  for (;;) {
    const ssize_t n = ::read(c.fd.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      if (errno == EAGAIN) break;
      c.done = true;  // reset by the peer: nobody to answer
      return;
    }
    if (n == 0) {
      closed = true;
      break;
    }
    c.in.append(buf, static_cast<std::size_t>(n));
    if (c.in.find('\n') != std::string::npos || c.in.size() > limits_.max_request_bytes) break;
  }
  const auto nl = c.in.find('\n');
  if (nl == std::string::npos && !closed && c.in.size() <= limits_.max_request_bytes) return;  // more to come
  // Without a newline: the peer closed, or it is too long (parse_request says so).
  const std::string line = nl == std::string::npos ? c.in : c.in.substr(0, nl);
  auto request =
      line.size() > limits_.max_request_bytes
          ? Result<job::Request>(make_error(
                ErrorCode::kTooLarge, "job request: more than " + std::to_string(limits_.max_request_bytes) + " bytes"))
          : job::parse_request(line);
  if (!request) {
    log::warn("daemon", "pid " + std::to_string(c.peer.pid) + ": " + request.error().message);
    write_reply(c.fd.get(), {false, request.error().message});
    c.done = true;
    return;
  }
  c.in.clear();
  c.pending = std::make_shared<Pending>();
  c.pending->request = std::move(*request);
  c.pending->peer = c.peer;
  c.deadline = Clock::now() + limits_.answer_timeout;
  std::lock_guard lock(mutex_);
  pending_.push_back(c.pending);
}

void JobSocket::answer(const Handler& handle) {
  std::deque<std::shared_ptr<Pending>> batch;
  {
    std::lock_guard lock(mutex_);
    batch.swap(pending_);
  }
  if (batch.empty()) return;
  std::vector<job::Reply> replies;
  replies.reserve(batch.size());
  for (const auto& p : batch) replies.push_back(handle(p->request, p->peer));
  {
    std::lock_guard lock(mutex_);
    for (std::size_t i = 0; i < batch.size(); ++i) batch[i]->reply = std::move(replies[i]);
  }
  wake();
}

}  // namespace bt::agent::route
