#include "agent/capture/proc/stdio.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "agent/capture/stdio.h"

namespace bt::agent::procfs {

namespace {

struct Fd {
  int fd = -1;
  explicit Fd(int f) : fd(f) {}
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
};

std::string unix_remote(const sockaddr_un& un, socklen_t len) {
  const socklen_t path_at = offsetof(sockaddr_un, sun_path);
  if (len <= path_at) return {};  // unnamed (socketpair, or the peer never bound)
  return capture::unix_remote(std::string_view(un.sun_path, std::min<std::size_t>(len - path_at, sizeof(un.sun_path))));
}

// The peer of descriptor `fd` of `pid`, through a copy of the socket.
bool peer_by_copy(pid_t pid, int fd, std::string* out) {
  Fd pidfd(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
  if (pidfd.fd < 0) return false;
  Fd sock(static_cast<int>(::syscall(SYS_pidfd_getfd, pidfd.fd, fd, 0)));
  if (sock.fd < 0) return false;  // EPERM under some runtimes' seccomp profiles
  sockaddr_storage ss{};
  socklen_t len = sizeof(ss);
  if (::getpeername(sock.fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) {
    out->clear();  // ENOTCONN: a socket with no peer
    return true;
  }
  if (ss.ss_family == AF_INET) {
    const auto& in = reinterpret_cast<const sockaddr_in&>(ss);
    *out = capture::inet_remote(AF_INET, &in.sin_addr, ntohs(in.sin_port));
  } else if (ss.ss_family == AF_INET6) {
    const auto& in6 = reinterpret_cast<const sockaddr_in6&>(ss);
    *out = capture::inet_remote(AF_INET6, &in6.sin6_addr, ntohs(in6.sin6_port));
  } else if (ss.ss_family == AF_UNIX) {
    *out = unix_remote(reinterpret_cast<const sockaddr_un&>(ss), len);
  } else {
    out->clear();
  }
  return true;
}

// The remote address of the TCP or UDP socket with inode `ino` in
// /proc/<pid>/net/{tcp,tcp6,udp,udp6}: read only when the copy is refused.
std::string peer_by_inode(pid_t pid, uint64_t ino) {
  const std::string dir = "/proc/" + std::to_string(pid) + "/net/";
  for (const char* table : {"tcp", "tcp6", "udp", "udp6"}) {
    std::ifstream in(dir + table);
    std::string line;
    std::getline(in, line);  // the header
    const bool v6 = std::strchr(table, '6') != nullptr;
    while (std::getline(in, line)) {
      std::istringstream fields(line);
      std::string slot, local, remote, field;
      fields >> slot >> local >> remote;
      for (int i = 0; i < 6 && fields >> field;) ++i;  // st .. timeout
      uint64_t inode = 0;
      if (!(fields >> inode) || inode != ino) continue;
      const std::size_t colon = remote.find(':');
      if (colon != (v6 ? 32u : 8u)) return {};
      const uint16_t port = static_cast<uint16_t>(std::stoul(remote.substr(colon + 1), nullptr, 16));
      // The address as the kernel's 32-bit words, each printed in host order.
      uint32_t words[4] = {};
      for (std::size_t w = 0; w < colon / 8; ++w)
        words[w] = static_cast<uint32_t>(std::stoul(remote.substr(w * 8, 8), nullptr, 16));
      return capture::inet_remote(v6 ? AF_INET6 : AF_INET, words, port);
    }
  }
  return {};
}

}  // namespace

std::array<capture::StdioFd, 3> read_stdio(pid_t pid) {
  std::array<capture::StdioFd, 3> out;
  // One lookup of the folder, then each link from it: every exec pays this.
  Fd dir(::open(("/proc/" + std::to_string(pid) + "/fd").c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (dir.fd < 0) return out;  // gone: not recorded
  static constexpr const char* kNames[] = {"0", "1", "2"};
  for (int fd = 0; fd < 3; ++fd) {
    capture::StdioFd& s = out[static_cast<std::size_t>(fd)];
    struct stat st {};
    if (::fstatat(dir.fd, kNames[fd], &st, 0) != 0) {
      s.kind = errno == ENOENT ? "closed" : "";
      continue;
    }
    s.kind = capture::stdio_kind(st.st_mode, major(st.st_rdev), minor(st.st_rdev));
    if (S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode)) s.inode = st.st_ino;
    if (S_ISSOCK(st.st_mode) && !peer_by_copy(pid, fd, &s.remote)) s.remote = peer_by_inode(pid, st.st_ino);
  }
  return out;
}

}  // namespace bt::agent::procfs
