// bench/wrap: cost per trapped system call of the two unprivileged ways
// `buildtrail-agent run -- CMD` can stop a build's system calls to read their
// arguments, measured here so we can pick one:
//  - ptrace: filter returns SECCOMP_RET_TRACE, we are the tracer; per stop
//    PTRACE_GET_SYSCALL_INFO, process_vm_readv, PTRACE_CONT.
//  - user notification: filter returns SECCOMP_RET_USER_NOTIF, we hold the
//    listener; per call poll, NOTIF_RECV, process_vm_readv, NOTIF_ID_VALID,
//    NOTIF_SEND(FLAG_CONTINUE).
//  - the same with the listener in synchronous wake-up mode (Linux 6.6+,
//    SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP), what the agent uses for opens and connects.
// Both read and check the path as the agent would, so a broken trap fails.
// Workloads run in a forked child under a seccomp filter of one shape:
//  - openat of a nonexistent path: cheap, so the difference to the
//    allow-all baseline is the price of the trap.
//  - fork+exec of /bin/true, execve trapped. The tracer also follows the tree
//    (fork/exec/exit events, children auto-attached) as the agent must to
//    learn exec success and exit status; user notification has no such events.
// Time is the wall time of the child's loop, taken by the child (fork, filter
// setup and attach left out), plus the supervisor's CPU time, which the agent
// takes from the build. Nothing is pinned, as in a real build. Each mode runs
// 3 times, interleaved; the median run and the range are printed.
//
// Usage: bench_trap [openat_calls=200000] [execs=2000]
#include <errno.h>
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "agent/capture/wrap/seccomp_compat.h"

namespace {

constexpr const char* kMissingPath = "/nonexistent/buildtrail-bench-trap";
constexpr const char* kTruePath = "/bin/true";
constexpr int kRuns = 3;

enum class Mode { Baseline, Ptrace, Notif, NotifSync };
constexpr Mode kModes[] = {Mode::Baseline, Mode::Ptrace, Mode::Notif, Mode::NotifSync};
constexpr int kNumModes = 4;
bool notifies(Mode m) { return m == Mode::Notif || m == Mode::NotifSync; }

// One line on stderr, exit 1. _exit also in forked children, so that
// atexit handlers do not run twice.
[[noreturn]] void fail(const char* what, int err = 0) {
  std::fflush(stdout);
  if (err)
    std::fprintf(stderr, "bench_trap: %s: %s\n", what, std::strerror(err));
  else
    std::fprintf(stderr, "bench_trap: %s\n", what);
  _exit(1);
}

// Every system call here returns -1 on failure; one check for all of them.
long check(long ret, const char* what) {
  if (ret < 0) fail(what, errno);
  return ret;
}

// glibc's ptrace() is variadic and reads addr and data as pointers.
long pt(__ptrace_request req, pid_t pid, uintptr_t addr, uintptr_t data) {
  return ptrace(req, pid, reinterpret_cast<void*>(addr), reinterpret_cast<void*>(data));
}

uint64_t now_ns(clockid_t clock) {
  timespec ts{};
  clock_gettime(clock, &ts);
  return uint64_t(ts.tv_sec) * 1000000000u + uint64_t(ts.tv_nsec);
}

// Traps `nr` with `action`, allows everything else. The baseline uses the
// same program with action ALLOW, so filter cost cancels out. Calls of
// other ABIs (i386 via int 0x80) are allowed: this is a benchmark.
int install_filter(long nr, uint32_t action, unsigned flags) {
  sock_filter code[] = {
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, arch)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 0, 3),
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, uint32_t(nr), 0, 1),
      BPF_STMT(BPF_RET | BPF_K, action),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
  };
  sock_fprog prog{static_cast<unsigned short>(std::size(code)), code};
  // Unprivileged filters need no_new_privs; the agent runs unprivileged.
  check(prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "prctl(PR_SET_NO_NEW_PRIVS)");
  return int(check(syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, &prog), "seccomp"));
}

// The listener exists only in the child that installed the filter. The
// child sends its number; we copy it with pidfd_getfd, which needs ptrace
// access rights (we are the ancestor) but not attaching, so it does not
// collide with a tracer the build may use.
int take_listener(pid_t pid, int result_fd) {
  int remote_fd;
  if (read(result_fd, &remote_fd, sizeof remote_fd) != sizeof remote_fd) fail("child sent no listener");
  // Raw syscalls: Debian 12's <sys/pidfd.h> lacks extern "C" (glibc 2.36).
  const int pidfd = int(check(syscall(SYS_pidfd_open, pid, 0), "pidfd_open"));
  const int fd = int(check(syscall(SYS_pidfd_getfd, pidfd, remote_fd, 0), "pidfd_getfd"));
  close(pidfd);
  return fd;
}

void openat_loop(long n) {
  for (long i = 0; i < n; ++i)
    if (openat(AT_FDCWD, kMissingPath, O_RDONLY) >= 0 || errno != ENOENT) fail("openat: expected ENOENT");
}

void check_exit_ok(int status, const char* who) {
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) fail(who);
}

void fork_exec_loop(long n) {
  char* const argv[] = {const_cast<char*>(kTruePath), nullptr};
  char* const envp[] = {nullptr};
  for (long i = 0; i < n; ++i) {
    const pid_t p = pid_t(check(fork(), "fork"));
    if (p == 0) {
      execve(kTruePath, argv, envp);
      _exit(127);
    }
    int st;
    check(waitpid(p, &st, 0), "waitpid(/bin/true)");
    check_exit_ok(st, "/bin/true failed");
  }
}

// What differs between the workloads, in one place.
struct Workload {
  const char* name;
  const char* unit;
  long nr;           // the trapped system call
  int path_arg;      // which of its arguments is the path
  const char* path;  // the path it is called with
  void (*loop)(long);
  bool follow_tree;  // ptrace also traces fork/exec/exit
};
constexpr Workload kOpenat{"openat", "call", SYS_openat, 1, kMissingPath, openat_loop, false};
constexpr Workload kForkExec{"fork+exec", "exec", SYS_execve, 0, kTruePath, fork_exec_loop, true};

// Waits for the go (so a tracer can attach first), installs the filter,
// times the loop and writes the elapsed nanoseconds to `result_fd`.
[[noreturn]] void child_main(Mode mode, const Workload& w, long count, int go_fd, int result_fd) {
  char go;
  if (read(go_fd, &go, 1) != 1) fail("child: no go from parent");
  const uint32_t action = mode == Mode::Baseline ? SECCOMP_RET_ALLOW
                          : mode == Mode::Ptrace ? SECCOMP_RET_TRACE
                                                 : SECCOMP_RET_USER_NOTIF;
  const unsigned flags = notifies(mode) ? SECCOMP_FILTER_FLAG_NEW_LISTENER : 0;
  const int listener = install_filter(w.nr, action, flags);
  // Kept open until exit: the parent copies it from our fd table.
  if (notifies(mode) && write(result_fd, &listener, sizeof listener) != sizeof listener)
    fail("child: write listener", errno);
  const uint64_t t0 = now_ns(CLOCK_MONOTONIC);
  w.loop(count);
  const uint64_t ns = now_ns(CLOCK_MONOTONIC) - t0;
  if (write(result_fd, &ns, sizeof ns) != sizeof ns) fail("child: write result", errno);
  _exit(0);
}

// Reads the string at `addr` in `pid` and checks it is `want`. One 256-byte
// read suffices for our paths; a real reader goes on page by page to the
// NUL, since a string can end just before an unmapped page.
void expect_path(pid_t pid, uint64_t addr, const char* want) {
  char buf[256];
  iovec local{buf, sizeof buf - 1}, remote{reinterpret_cast<void*>(addr), sizeof buf - 1};
  const long n = check(process_vm_readv(pid, &local, 1, &remote, 1, 0), "process_vm_readv");
  buf[n] = '\0';
  if (std::strcmp(buf, want) != 0) fail("trapped call has an unexpected path");
}

struct Sample {
  uint64_t loop_ns = 0;        // child's loop, wall time
  uint64_t supervisor_ns = 0;  // parent's CPU time while supervising
  long trapped = 0;            // seccomp stops or notifications
  long stops = 0;              // all ptrace stops (tree following included)
};

void on_seccomp_stop(pid_t p, const Workload& w) {
  __ptrace_syscall_info info{};
  check(pt(PTRACE_GET_SYSCALL_INFO, p, sizeof info, uintptr_t(&info)), "PTRACE_GET_SYSCALL_INFO");
  if (info.op != PTRACE_SYSCALL_INFO_SECCOMP || long(info.seccomp.nr) != w.nr) fail("unexpected seccomp stop");
  expect_path(p, info.seccomp.args[w.path_arg], w.path);
}

// Runs the tracees until none is left; returns the root's wait status.
int trace(pid_t root, const Workload& w, Sample& s) {
  int root_status = -1;
  for (;;) {
    int st;
    const pid_t p = waitpid(-1, &st, __WALL);
    if (p < 0 && errno == ECHILD) return root_status;
    check(p, "waitpid(tracee)");
    if (!WIFSTOPPED(st)) {
      if (p == root) root_status = st;
      continue;
    }
    ++s.stops;
    int sig = 0;
    unsigned long msg;
    switch (st >> 16) {
      case PTRACE_EVENT_SECCOMP:
        on_seccomp_stop(p, w);
        ++s.trapped;
        break;
      case PTRACE_EVENT_FORK:
      case PTRACE_EVENT_VFORK:
      case PTRACE_EVENT_CLONE:
      case PTRACE_EVENT_EXEC:
      case PTRACE_EVENT_EXIT:
        // New pid, pre-exec tid or exit status: what the agent keeps to
        // follow the tree, so fetch it as the agent would.
        check(pt(PTRACE_GETEVENTMSG, p, 0, uintptr_t(&msg)), "PTRACE_GETEVENTMSG");
        break;
      case PTRACE_EVENT_STOP:
        break;  // an auto-attached child's first stop
      case 0:
        sig = WSTOPSIG(st);
        break;  // a signal (SIGCHLD): deliver it
      default:
        fail("unexpected ptrace stop");
    }
    // ESRCH: the tracee was killed while stopped; its exit comes next.
    if (pt(PTRACE_CONT, p, 0, uintptr_t(sig)) < 0 && errno != ESRCH) fail("PTRACE_CONT", errno);
  }
}

void answer_one(int listener, const Workload& w) {
  seccomp_notif req{};  // the kernel rejects a non-zeroed buffer
  check(ioctl(listener, SECCOMP_IOCTL_NOTIF_RECV, &req), "SECCOMP_IOCTL_NOTIF_RECV");
  if (req.data.nr != w.nr) fail("unexpected notification");
  expect_path(pid_t(req.pid), req.data.args[w.path_arg], w.path);
  // The caller may have died and its pid been reused while we read: only a
  // still-valid id proves the bytes were the caller's (seccomp_unotify(2)).
  check(ioctl(listener, SECCOMP_IOCTL_NOTIF_ID_VALID, &req.id), "SECCOMP_IOCTL_NOTIF_ID_VALID");
  seccomp_notif_resp resp{};
  resp.id = req.id;
  resp.flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
  check(ioctl(listener, SECCOMP_IOCTL_NOTIF_SEND, &resp), "SECCOMP_IOCTL_NOTIF_SEND");
}

// Answers notifications until the child reports its result. The listener
// would only hang up once the child is reaped, so it cannot end the loop;
// the agent would poll a pidfd here instead of our result pipe.
void supervise(int listener, int result_fd, const Workload& w, Sample& s) {
  for (;;) {
    pollfd fds[2] = {{listener, POLLIN, 0}, {result_fd, POLLIN, 0}};
    check(poll(fds, 2, -1), "poll");
    if (fds[0].revents & POLLIN) {
      answer_one(listener, w);
      ++s.trapped;
    } else if (fds[1].revents) {
      return;
    } else if (fds[0].revents) {
      fail("listener hung up early");
    }
  }
}

Sample run_once(Mode mode, const Workload& w, long count) {
  int go[2], result[2];
  check(pipe2(go, O_CLOEXEC), "pipe2");
  check(pipe2(result, O_CLOEXEC), "pipe2");
  std::fflush(stdout);
  const pid_t pid = pid_t(check(fork(), "fork"));
  if (pid == 0) child_main(mode, w, count, go[0], result[1]);
  close(go[0]);
  close(result[1]);
  if (mode == Mode::Ptrace) {
    unsigned long opts = PTRACE_O_TRACESECCOMP | PTRACE_O_EXITKILL;
    if (w.follow_tree)
      opts |= PTRACE_O_TRACEFORK | PTRACE_O_TRACEVFORK | PTRACE_O_TRACECLONE | PTRACE_O_TRACEEXEC | PTRACE_O_TRACEEXIT;
    check(pt(PTRACE_SEIZE, pid, 0, opts), "PTRACE_SEIZE");
  }
  check(write(go[1], "g", 1), "write(go)");
  Sample s;
  const uint64_t cpu0 = now_ns(CLOCK_THREAD_CPUTIME_ID);
  int st = -1;
  if (mode == Mode::Ptrace) {
    st = trace(pid, w, s);
  } else {
    if (notifies(mode)) {
      const int listener = take_listener(pid, result[0]);
      if (mode == Mode::NotifSync)
        check(ioctl(listener, SECCOMP_IOCTL_NOTIF_SET_FLAGS, SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP),
              "SECCOMP_IOCTL_NOTIF_SET_FLAGS (synchronous wake-up needs Linux 6.6)");
      supervise(listener, result[0], w, s);
      close(listener);
    }
    check(waitpid(pid, &st, 0), "waitpid(child)");
  }
  s.supervisor_ns = now_ns(CLOCK_THREAD_CPUTIME_ID) - cpu0;
  check_exit_ok(st, "child failed");
  if (read(result[0], &s.loop_ns, sizeof s.loop_ns) != sizeof s.loop_ns) fail("child gave no time");
  if (mode != Mode::Baseline && s.trapped != count) fail("trap count differs from call count");
  close(go[1]);
  close(result[0]);
  return s;
}

// The median run by loop time, with the fastest and slowest loop times.
struct Stats {
  Sample med;
  uint64_t lo, hi;
};

Stats summarize(std::vector<Sample> v) {
  std::sort(v.begin(), v.end(), [](auto& a, auto& b) { return a.loop_ns < b.loop_ns; });
  return {v[v.size() / 2], v.front().loop_ns, v.back().loop_ns};
}

void report(const Workload& w, long count, const Stats (&s)[kNumModes]) {
  const char* names[] = {"baseline", "ptrace", "user-notif", "notif-sync"};
  auto us = [&](uint64_t ns) { return double(ns) / 1e3 / double(count); };  // per call
  auto ms = [](uint64_t ns) { return double(ns) / 1e6; };
  const double base = us(s[0].med.loop_ns);
  auto extra = [&](int i) { return us(s[i].med.loop_ns) - base; };
  std::printf("%s x %ld, median of %d runs (min-max):\n", w.name, count, kRuns);
  for (int i = 0; i < kNumModes; ++i) {
    std::printf("  %-10s %7.1f ms (%.1f-%.1f) %8.2f us/%s", names[i], ms(s[i].med.loop_ns), ms(s[i].lo), ms(s[i].hi),
                us(s[i].med.loop_ns), w.unit);
    if (i > 0) std::printf("  %+.2f us, supervisor CPU %.2f us", extra(i), us(s[i].med.supervisor_ns));
    if (i == 1 && w.follow_tree) std::printf(", %.1f stops/exec", double(s[i].med.stops) / double(count));
    std::printf("\n");
  }
  std::printf(
      "%s x %ld: baseline %.2f us/%s, ptrace %+.2f us/%s, user-notif %+.2f us/%s, "
      "notif-sync %+.2f us/%s",
      w.name, count, base, w.unit, extra(1), w.unit, extra(2), w.unit, extra(3), w.unit);
  // Other load on the machine moves whole runs (see the ranges): a ratio of
  // differences that are not both above the baseline means nothing.
  if (extra(1) > 0 && extra(2) > 0 && extra(3) > 0)
    std::printf(" (ptrace/notif %.2fx, ptrace/notif-sync %.2fx)\n\n", extra(1) / extra(2), extra(1) / extra(3));
  else
    std::printf(" (not above baseline: no ratio)\n\n");
}

long arg_or(int argc, char** argv, int i, long dflt) {
  if (argc <= i) return dflt;
  char* end;
  const long v = std::strtol(argv[i], &end, 10);
  if (*end != '\0' || v <= 0) fail("usage: bench_trap [openat_calls] [execs]");
  return v;
}

void bench(const Workload& w, long count) {
  std::vector<Sample> runs[kNumModes];
  for (int r = 0; r < kRuns; ++r)  // interleaved, so drift hits all modes alike
    for (Mode mode : kModes) runs[int(mode)].push_back(run_once(mode, w, count));
  const Stats s[kNumModes] = {summarize(runs[0]), summarize(runs[1]), summarize(runs[2]), summarize(runs[3])};
  report(w, count, s);
}

}  // namespace

int main(int argc, char** argv) {
  bench(kOpenat, arg_or(argc, argv, 1, 200000));
  bench(kForkExec, arg_or(argc, argv, 2, 2000));
  return 0;
}
