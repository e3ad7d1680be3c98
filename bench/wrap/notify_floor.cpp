// bench/wrap: the least that seeing every open and connect of a build costs
// without root. `notify_floor -- CMD...` runs CMD under a seccomp filter that
// sends each open (open, openat, openat2, creat) and connect to a
// user-notification listener, in synchronous wake-up mode as the agent's,
// and lets every call go on at once: it reads no argument, reports nothing,
// follows no process tree.
//
// Any unprivileged sensor that records credential opens and connects must
// stop every one of them this way (a filter cannot see a path, and flags are
// the build's to choose), so `bench/overhead` runs the shared workloads under
// it next to `buildtrail-agent run`: what the agent costs beyond this floor
// is ours to cut, the floor itself is the kernel's round trip per call.
//
// Exit status: CMD's (128+signal when killed), 127 when it cannot start.
#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <thread>
#include <vector>

#include "agent/capture/wrap/listener_handoff.h"
#include "agent/capture/wrap/seccomp_compat.h"

namespace {

using bt::agent::wrap::hung_up;
using bt::agent::wrap::receive_listener;
using bt::agent::wrap::send_listener;

[[noreturn]] void fail(const char* what, int err) {
  std::fprintf(stderr, "notify_floor: %s: %s\n", what, std::strerror(err));
  _exit(127);
}

constexpr long kSeenCalls[] = {
#ifdef __NR_open
    __NR_open,
#endif
#ifdef __NR_creat
    __NR_creat,
#endif
    __NR_openat, __NR_openat2, __NR_connect,
};

// Calls of another ABI (i386, x32) are all notified, as the agent's filter
// does, so none is a way around it.
std::vector<sock_filter> seen_filter() {
  using bt::agent::wrap::kAuditArch;
  using bt::agent::wrap::kX32Bit;
  std::vector<sock_filter> f;
  f.push_back(BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, arch)));
  f.push_back(BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, kAuditArch, 1, 0));
  f.push_back(BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_USER_NOTIF));
  f.push_back(BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)));
  f.push_back(BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, static_cast<uint32_t>(kX32Bit), 0, 1));
  f.push_back(BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_USER_NOTIF));
  for (long nr : kSeenCalls) {
    f.push_back(BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, static_cast<uint32_t>(nr), 0, 1));
    f.push_back(BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_USER_NOTIF));
  }
  f.push_back(BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW));
  return f;
}

// In the child: installs the filter, hands its listener to the parent over
// `sock`, then runs the command.
[[noreturn]] void run_child(int sock, char** argv) {
  std::vector<sock_filter> code = seen_filter();
  sock_fprog prog{static_cast<unsigned short>(code.size()), code.data()};
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) fail("prctl(PR_SET_NO_NEW_PRIVS)", errno);
  const long listener = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER, &prog);
  if (listener < 0) fail("seccomp", errno);
  send_listener(sock, static_cast<int>(listener));
  close(sock);
  execvp(argv[0], argv);
  fail(argv[0], errno);
}

// Answers every notification "go on" until no process uses the filter.
// `sync`: Linux 6.6+, whose NOTIF_RECV returns once the last user is gone;
// before, only poll() says so.
void answer_all(int listener, bool sync) {
  seccomp_notif_sizes sizes{};
  if (syscall(SYS_seccomp, SECCOMP_GET_NOTIF_SIZES, 0, &sizes) != 0) fail("SECCOMP_GET_NOTIF_SIZES", errno);
  std::vector<uint64_t> req_buf((std::max<std::size_t>(sizes.seccomp_notif, sizeof(seccomp_notif)) + 7) / 8);
  std::vector<uint64_t> resp_buf((std::max<std::size_t>(sizes.seccomp_notif_resp, sizeof(seccomp_notif_resp)) + 7) / 8);
  auto* req = reinterpret_cast<seccomp_notif*>(req_buf.data());
  auto* resp = reinterpret_cast<seccomp_notif_resp*>(resp_buf.data());
  for (;;) {
    std::memset(req_buf.data(), 0, req_buf.size() * 8);
    if (!sync && hung_up(listener, -1)) return;
    if (ioctl(listener, SECCOMP_IOCTL_NOTIF_RECV, req) != 0) {
      if (errno == EINTR) continue;
      if (errno == ENOENT) {  // a caller killed meanwhile, or no caller left
        if (hung_up(listener, 0)) return;
        continue;
      }
      fail("SECCOMP_IOCTL_NOTIF_RECV", errno);
    }
    std::memset(resp_buf.data(), 0, resp_buf.size() * 8);
    resp->id = req->id;
    resp->flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
    ioctl(listener, SECCOMP_IOCTL_NOTIF_SEND, resp);  // ENOENT: the caller was killed
  }
}

}  // namespace

int main(int argc, char** argv) {
  int first = 1;
  if (first < argc && std::strcmp(argv[first], "--") == 0) ++first;
  if (first >= argc) {
    std::fprintf(stderr, "usage: notify_floor [--] CMD [ARG...]\n");
    return 127;
  }
  int sock[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sock) != 0) fail("socketpair", errno);
  const pid_t child = fork();
  if (child < 0) fail("fork", errno);
  if (child == 0) {
    close(sock[0]);
    run_child(sock[1], argv + first);
  }
  close(sock[1]);
  const int listener = receive_listener(sock[0]);
  close(sock[0]);
  if (listener < 0) {
    int status = 0;
    waitpid(child, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 127;
  }
  // Older kernels lack it: the floor is then higher, as the agent's would be.
  const bool sync = ioctl(listener, SECCOMP_IOCTL_NOTIF_SET_FLAGS, SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP) == 0;
  std::thread answerer(answer_all, listener, sync);
  int status = 0;
  while (waitpid(child, &status, 0) < 0 && errno == EINTR) {}
  // Descendants may still hold the filter: the answerer runs until the last
  // one is gone, as the agent's notifier does.
  answerer.join();
  close(listener);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return WEXITSTATUS(status);
}
