#include "agent/capture/wrap/launch.h"

#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>

#include "agent/capture/wrap/filter.h"
#include "agent/capture/wrap/listener_handoff.h"
#include "agent/capture/wrap/tree.h"
#include "common/fs.h"

namespace bt::agent::wrap {

namespace {

// Written by the child when setup fails before exec.
struct ChildError {
  int stage;  // 0 seccomp, 1 exec
  int err;
};

// The two filters the child tries, built before the fork (the child of a
// threaded process must not allocate).
struct Filters {
  sock_fprog notify;  // with a listener: the detached tree's, or opens to the notifier
  sock_fprog trace;   // everything under ptrace
};

[[noreturn]] void child_main(int go_fd, int err_fd, int listener_sock, std::vector<char*>& argv, Filters* filters) {
  char go = 0;
  while (::read(go_fd, &go, 1) < 0 && errno == EINTR) {}
  if (go != 'g') ::_exit(126);  // the tracer gave up
  unblock_sigchld();            // the tracer blocks it; the build must not inherit that
  // Only one filter in a process's chain may have a listener: under one
  // (a nested run, some container runtimes) opens stop under ptrace too.
  int listener = install_filter(&filters->notify, SECCOMP_FILTER_FLAG_NEW_LISTENER);
  if (listener < 0 && install_filter(&filters->trace, 0) != 0) {
    ChildError e{0, errno};
    (void)!::write(err_fd, &e, sizeof e);
    ::_exit(126);
  }
  send_listener(listener_sock, listener);
  ::execvp(argv[0], argv.data());
  ChildError e{1, errno};
  (void)!::write(err_fd, &e, sizeof e);
  ::_exit(127);
}

struct Pipe {
  UniqueFd read, write;
};

Result<Pipe> make_pipe() {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return make_error(ErrorCode::kIo, "pipe: " + fs::errno_text(errno));
  return Pipe{UniqueFd(fds[0]), UniqueFd(fds[1])};
}

Result<Pipe> make_socket_pair() {
  int fds[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds) != 0)
    return make_error(ErrorCode::kIo, "socketpair: " + fs::errno_text(errno));
  return Pipe{UniqueFd(fds[0]), UniqueFd(fds[1])};
}

constexpr long kSeizeOptions = PTRACE_O_TRACESECCOMP | PTRACE_O_TRACEFORK | PTRACE_O_TRACEVFORK | PTRACE_O_TRACECLONE |
                               PTRACE_O_TRACEEXEC | PTRACE_O_TRACESYSGOOD | PTRACE_O_EXITKILL;

}  // namespace

void abandon(pid_t pid) {
  ::kill(pid, SIGKILL);
  while (::waitpid(pid, nullptr, __WALL) < 0 && errno == EINTR) {}
}

Result<Launched> launch(const std::vector<std::string>& command, bool detached) {
  if (command.empty()) return make_error(ErrorCode::kInvalidArgument, "no command to run");
  std::vector<std::string> args = command;
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::vector<sock_filter> notify_filter = detached
                                               ? build_filter({SECCOMP_RET_USER_NOTIF, SECCOMP_RET_USER_NOTIF, true})
                                               : build_filter({SECCOMP_RET_USER_NOTIF, SECCOMP_RET_TRACE, false});
  std::vector<sock_filter> trace_filter = build_filter({SECCOMP_RET_TRACE, SECCOMP_RET_TRACE, false});
  Filters filters{{static_cast<unsigned short>(notify_filter.size()), notify_filter.data()},
                  {static_cast<unsigned short>(trace_filter.size()), trace_filter.data()}};

  auto go = make_pipe();
  if (!go) return go.error();
  auto err = make_pipe();
  if (!err) return err.error();
  auto handoff = make_socket_pair();
  if (!handoff) return handoff.error();
  const pid_t pid = ::fork();
  if (pid < 0) return make_error(ErrorCode::kIo, "fork: " + fs::errno_text(errno));
  if (pid == 0) {
    // The parent's ends: the child must see EOF on `go` when the tracer gives up.
    for (const UniqueFd* end : {&go->write, &err->read, &handoff->read}) ::close(end->get());
    child_main(go->read.get(), err->write.get(), handoff->write.get(), argv, &filters);
  }
  go->read.reset();
  err->write.reset();
  handoff->write.reset();
  if (::ptrace(PTRACE_SEIZE, pid, 0, kSeizeOptions) != 0) {
    const int e = errno;
    go->write.reset();  // the child exits without running anything
    ::waitpid(pid, nullptr, 0);
    return make_error(ErrorCode::kUnavailable,
                      "cannot trace the build (ptrace: " + fs::errno_text(e) +
                          "); a container may need the default seccomp profile of Docker >= 19.03 "
                          "or CAP_SYS_PTRACE");
  }
  (void)!::write(go->write.get(), "g", 1);
  go->write.reset();

  // The child sends its listener (or word that it has none) before its exec.
  const int listener = receive_listener(handoff->read.get());
  if (listener == kListenerLost) {
    abandon(pid);
    return make_error(ErrorCode::kUnavailable,
                      "cannot set up capture: the seccomp listener did not arrive (out of file descriptors?)");
  }
  return Launched{pid, std::move(err->read), UniqueFd(listener)};
}

Error launch_failure(const UniqueFd& errors, const std::string& program) {
  ChildError ce{-1, 0};
  const bool told = ::read(errors.get(), &ce, sizeof ce) == static_cast<ssize_t>(sizeof ce);
  if (told && ce.stage == 0)
    return make_error(ErrorCode::kUnavailable, "cannot install the seccomp filter: " + fs::errno_text(ce.err));
  if (told) return make_error(ErrorCode::kNotFound, "cannot run '" + program + "': " + fs::errno_text(ce.err));
  return make_error(ErrorCode::kInternal, "the build exited before it started");
}

}  // namespace bt::agent::wrap
