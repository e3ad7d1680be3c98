#include "agent/capture/wrap/pidfd.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>

#ifndef __NR_pidfd_open
#define __NR_pidfd_open 434
#endif
#ifndef PIDFD_THREAD
#define PIDFD_THREAD O_EXCL
#endif
#ifndef __NR_pidfd_send_signal
#define __NR_pidfd_send_signal 424
#endif

namespace bt::agent::wrap::pidfd {

namespace {

// struct pidfd_info of Linux 6.15 (newer than Debian 12's headers); the
// kernel accepts any size it knows a prefix of.
struct Info {
  uint64_t mask;
  uint64_t cgroupid;
  uint32_t pid, tgid, ppid, ruid, rgid, euid, egid, suid, sgid, fsuid, fsgid;
  int32_t exit_code;
  uint32_t coredump_mask;
  uint32_t spare;
};
constexpr uint64_t kInfoCreds = 1u << 1;
constexpr uint64_t kInfoExit = 1u << 3;
constexpr unsigned long kGetInfo = _IOWR(0xFF, 11, Info);

}  // namespace

int open(pid_t pid, bool thread) {
  return static_cast<int>(::syscall(__NR_pidfd_open, pid, thread ? PIDFD_THREAD : 0));
}

std::optional<int> exit_status(int fd) {
  Info info{};
  info.mask = kInfoExit;
  if (::ioctl(fd, kGetInfo, &info) != 0 || !(info.mask & kInfoExit)) return std::nullopt;
  return info.exit_code;
}

std::optional<Identity> identity(int fd) {
  Info info{};
  info.mask = kInfoCreds;
  if (::ioctl(fd, kGetInfo, &info) != 0 || !(info.mask & kInfoCreds)) return std::nullopt;
  return Identity{static_cast<pid_t>(info.ppid), info.ruid};
}

int send_signal(int fd, int sig) { return static_cast<int>(::syscall(__NR_pidfd_send_signal, fd, sig, nullptr, 0)); }

bool exit_status_supported() {
  static const bool supported = [] {
    int gate[2];
    if (::pipe2(gate, O_CLOEXEC) != 0) return false;
    const pid_t child = ::fork();
    if (child < 0) {
      ::close(gate[0]);
      ::close(gate[1]);
      return false;
    }
    if (child == 0) {
      ::close(gate[1]);
      char c;
      (void)!::read(gate[0], &c, 1);  // until the parent holds our pidfd
      ::_exit(7);
    }
    ::close(gate[0]);
    const int fd = open(child);
    ::close(gate[1]);
    int status = 0;
    while (::waitpid(child, &status, 0) < 0 && errno == EINTR) {}
    if (fd < 0) return false;
    const auto got = exit_status(fd);
    ::close(fd);
    return got && WIFEXITED(*got) && WEXITSTATUS(*got) == 7;
  }();
  return supported;
}

}  // namespace bt::agent::wrap::pidfd
