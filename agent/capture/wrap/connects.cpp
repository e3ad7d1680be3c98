#include "agent/capture/wrap/connects.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>

#include "agent/capture/dns/dns.h"
#include "agent/capture/proc/procfs.h"
#include "agent/capture/wrap/pidfd.h"
#include "common/clock.h"

#ifndef __NR_pidfd_getfd
#define __NR_pidfd_getfd 438
#endif

namespace bt::agent::wrap {

std::string sockaddr_text(const sockaddr_storage& ss, uint64_t* port) {
  char buf[INET6_ADDRSTRLEN] = {0};
  if (ss.ss_family == AF_INET) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(&ss);
    *port = ntohs(in->sin_port);
    return ::inet_ntop(AF_INET, &in->sin_addr, buf, sizeof buf) ? buf : "";
  }
  const auto* in6 = reinterpret_cast<const sockaddr_in6*>(&ss);
  *port = ntohs(in6->sin6_port);
  return ::inet_ntop(AF_INET6, &in6->sin6_addr, buf, sizeof buf) ? buf : "";
}

namespace {

std::string fd_link(pid_t tid, int fd) {
  return procfs::read_link("/proc/" + std::to_string(tid) + "/fd/" + std::to_string(fd));
}

}  // namespace

std::optional<ConnectCall> read_connect(pid_t tid, const uint64_t* args) {
  ConnectCall call;
  call.fd = static_cast<int>(args[0]);
  const std::size_t len = std::min<uint64_t>(args[2], sizeof call.addr);
  if (len < sizeof(sa_family_t) || !procfs::read_memory(tid, args[1], &call.addr, len)) return std::nullopt;
  const sa_family_t family = call.addr.ss_family;
  if ((family != AF_INET && family != AF_INET6) || (family == AF_INET6 && len < sizeof(sockaddr_in6)) ||
      (family == AF_INET && len < sizeof(sockaddr_in)))
    return std::nullopt;
  call.addr_len = static_cast<socklen_t>(len);
  call.connect.time_ns = clock::now_ns();
  call.connect.daddr = sockaddr_text(call.addr, &call.connect.dport);
  call.connect.protocol = "tcp";
  return call;
}

namespace {

int copy_fd(int pidfd, int fd) { return static_cast<int>(::syscall(__NR_pidfd_getfd, pidfd, fd, 0)); }

// A pidfd for thread `tid`'s process: a plain pidfd only opens for a thread
// group leader (*leader), another thread's needs PIDFD_THREAD (6.9+).
int caller_pidfd(pid_t tid, bool* leader) {
  const int fd = pidfd::open(tid);
  *leader = fd >= 0;
  return fd >= 0 ? fd : pidfd::open(tid, true);
}

}  // namespace

int SocketCopier::copy(pid_t tid, int fd, bool* leader, const std::function<bool()>& still_waiting) {
  int copied = tid == tid_ ? copy_fd(pidfd_, fd) : -1;
  // Another caller, or ours gone: a pidfd for this one.
  if (copied < 0 && (tid != tid_ || errno == ESRCH)) {
    forget();
    pidfd_ = caller_pidfd(tid, &leader_);
    if (pidfd_ < 0) return -1;
    tid_ = tid;
    copied = copy_fd(pidfd_, fd);
  }
  if (copied < 0) return -1;
  if (!still_waiting()) {
    ::close(copied);
    return -1;
  }
  *leader = leader_;
  return copied;
}

void SocketCopier::forget() {
  if (pidfd_ >= 0) ::close(pidfd_);
  pidfd_ = -1;
  tid_ = 0;
}

int copy_socket(pid_t tid, int fd, bool* leader) {
  bool leads = false;
  const int pidfd = caller_pidfd(tid, &leads);
  if (leader) *leader = leads;
  if (pidfd < 0) return -1;
  const int copy = copy_fd(pidfd, fd);
  ::close(pidfd);
  return copy;
}

std::string socket_protocol(int sock) {
  int type = 0;
  socklen_t len = sizeof type;
  return ::getsockopt(sock, SOL_SOCKET, SO_TYPE, &type, &len) == 0 && type == SOCK_DGRAM ? "udp" : "tcp";
}

std::optional<capture::Dns> dns_answer(std::span<const uint8_t> bytes, const std::string& server) {
  auto m = dns::parse(bytes);
  if (!m || !m->response) return std::nullopt;
  capture::Dns d;
  d.time_ns = clock::now_ns();
  d.name = std::move(m->name);
  d.qtype = std::move(m->qtype);
  d.server = server;
  d.rcode = std::move(m->rcode);
  d.answers = std::move(m->answers);
  d.addresses = std::move(m->addresses);
  return d;
}

bool is_loopback(const sockaddr_storage& addr) {
  if (addr.ss_family == AF_INET)
    return (ntohl(reinterpret_cast<const sockaddr_in*>(&addr)->sin_addr.s_addr) >> 24) == 127;
  const in6_addr& a6 = reinterpret_cast<const sockaddr_in6*>(&addr)->sin6_addr;
  return IN6_IS_ADDR_LOOPBACK(&a6) || (IN6_IS_ADDR_V4MAPPED(&a6) && a6.s6_addr[12] == 127);
}

void DnsSockets::add(pid_t pid, pid_t tid, int fd, const std::string& server) {
  sockets_[{pid, fd}] = {fd_link(tid, fd), server};
}

const std::string* DnsSockets::server(pid_t pid, pid_t tid, int fd) {
  auto it = sockets_.find({pid, fd});
  if (it == sockets_.end()) return nullptr;
  if (fd_link(tid, fd) != it->second.inode) {
    sockets_.erase(it);
    return nullptr;
  }
  return &it->second.server;
}

void DnsSockets::forget(pid_t pid) {
  for (auto it = sockets_.lower_bound({pid, INT_MIN}); it != sockets_.end() && it->first.first == pid;)
    it = sockets_.erase(it);
}

}  // namespace bt::agent::wrap
