// connect() as the wrap backend sees it, shared by the notifier (which
// makes the call for the build and so knows its result at once) and the
// ptrace fallback (which stops it twice): the destination from the
// caller's memory, the socket's protocol from a copy of its fd, and the
// registry of the sockets a process talks DNS over.
#pragma once

#include <sys/socket.h>
#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <utility>

#include "agent/capture/observation.h"

namespace bt::agent::wrap {

constexpr uint64_t kDnsPort = 53;
constexpr std::size_t kMaxDnsMessage = 4096;

struct ConnectCall {
  int fd = -1;
  sockaddr_storage addr{};
  socklen_t addr_len = 0;
  capture::Connect connect;  // destination filled, protocol "tcp", pid and result not yet
};

// The IPv4/IPv6 connect thread `tid` called with `args`; nullopt for other
// families (AF_UNIX...) or an unreadable address.
std::optional<ConnectCall> read_connect(pid_t tid, const uint64_t* args);

// A copy of the socket `fd` of thread `tid` (pidfd_getfd, Linux 5.6+), or
// -1; `leader` (optional) says whether `tid` leads its thread group.
int copy_socket(pid_t tid, int fd, bool* leader = nullptr);

// Copies callers' sockets for the notifier, keeping the last caller's
// pidfd for its next call: a process making thousands of connects saves
// two system calls on each. A pidfd names the process (or thread) it was
// opened for, never a later one given the same pid: through a kept pidfd
// of a dead caller the copy fails, and a new pidfd is opened.
class SocketCopier {
 public:
  SocketCopier() = default;
  ~SocketCopier() { forget(); }
  SocketCopier(const SocketCopier&) = delete;
  SocketCopier& operator=(const SocketCopier&) = delete;
  // A copy of socket `fd` of thread `tid`, or -1; `leader`: whether `tid`
  // leads its thread group. The copy is returned only if `still_waiting`
  // then says the call is still the caller's: it was not killed meanwhile
  // (nor its pid given to another process), so the socket is the one it
  // named, whichever pidfd it came through.
  int copy(pid_t tid, int fd, bool* leader, const std::function<bool()>& still_waiting);

 private:
  void forget();
  pid_t tid_ = 0;
  int pidfd_ = -1;
  bool leader_ = false;
};

// "udp" for a datagram socket, else "tcp".
std::string socket_protocol(int sock);

bool is_loopback(const sockaddr_storage& addr);

// The address of an AF_INET/AF_INET6 sockaddr as text, and its port.
std::string sockaddr_text(const sockaddr_storage& ss, uint64_t* port);

// A DNS response received from `server`, as an observation (pid left 0);
// nullopt for anything else (a query, not DNS).
std::optional<capture::Dns> dns_answer(std::span<const uint8_t> bytes, const std::string& server);

// The UDP sockets connected to port 53, by (process, fd): their receives
// are DNS answers. Callers hold the observer lock.
class DnsSockets {
 public:
  // Registers `fd` of `tid`'s process `pid` as talking to `server`.
  void add(pid_t pid, pid_t tid, int fd, const std::string& server);
  // The server of `fd`, if it is still the registered socket (the fd may
  // have been closed and reused since); null otherwise.
  const std::string* server(pid_t pid, pid_t tid, int fd);
  void forget(pid_t pid);

 private:
  struct Socket {
    std::string inode;  // "socket:[N]"
    std::string server;
  };
  std::map<std::pair<pid_t, int>, Socket> sockets_;
};

}  // namespace bt::agent::wrap
