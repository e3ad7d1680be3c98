// A seccomp listener's life: passed from the child that installed the
// filter to its supervisor over a unix socket (SCM_RIGHTS), and told apart
// once no process uses the filter any more. Header-only and
// allocation-free: the child calls send_listener between fork and exec.
#pragma once

#include <errno.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>

namespace bt::agent::wrap {

// Hands the notification fd (or, with -1, the news that there is none) to
// the tracer before the exec closes it (it is close-on-exec): the build
// must never hold it, or it could answer its own notifications.
inline void send_listener(int sock, int listener) {
  char tag = listener >= 0 ? 'n' : 't';
  iovec iov{&tag, 1};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  if (listener >= 0) {
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    cmsghdr* c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    std::memcpy(CMSG_DATA(c), &listener, sizeof listener);
  }
  (void)!::sendmsg(sock, &msg, MSG_NOSIGNAL);
  if (listener >= 0) ::close(listener);
}

// The child said it has a listener but its fd did not arrive (we are out
// of file descriptors): its filter then answers notified calls with ENOSYS.
inline constexpr int kListenerLost = -2;

// The notification fd the child sent, -1 (no listener: a filter with one
// already governs the agent, e.g. a nested `run`), or kListenerLost.
inline int receive_listener(int sock) {
  char tag = 0;
  iovec iov{&tag, 1};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  ssize_t got;
  while ((got = ::recvmsg(sock, &msg, MSG_CMSG_CLOEXEC)) < 0 && errno == EINTR) {}
  if (got != 1 || tag != 'n') return -1;
  cmsghdr* c = CMSG_FIRSTHDR(&msg);
  if (!c || c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) return kListenerLost;
  int fd = -1;
  std::memcpy(&fd, CMSG_DATA(c), sizeof fd);
  return fd;
}

// True once no process uses the filter (and nothing is left to receive),
// after waiting up to `timeout_ms` (-1: until either comes).
inline bool hung_up(int listener, int timeout_ms = 0) {
  pollfd p{listener, POLLIN, 0};
  return ::poll(&p, 1, timeout_ms) == 1 && (p.revents & (POLLHUP | POLLERR)) && !(p.revents & POLLIN);
}

}  // namespace bt::agent::wrap
