#include "agent/capture/wrap/tree.h"

#include <sys/ptrace.h>

#include "agent/capture/proc/procfs.h"
#include "agent/capture/proc/stdio.h"
#include "common/clock.h"

namespace bt::agent::wrap {

sigset_t sigchld_set() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGCHLD);
  return set;
}

void unblock_sigchld() {
  const sigset_t chld = sigchld_set();
  ::sigprocmask(SIG_UNBLOCK, &chld, nullptr);
}

bool is_stop_signal(int sig) { return sig == SIGSTOP || sig == SIGTSTP || sig == SIGTTIN || sig == SIGTTOU; }

capture::Exec read_exec_stop(pid_t pid, pid_t* former) {
  unsigned long caller = static_cast<unsigned long>(pid);
  ::ptrace(PTRACE_GETEVENTMSG, pid, 0, &caller);
  *former = static_cast<pid_t>(caller);
  capture::Exec e;
  e.time_ns = clock::now_ns();
  e.pid = static_cast<uint64_t>(pid);
  const std::string proc = "/proc/" + std::to_string(pid);
  e.exe = procfs::read_link(proc + "/exe");
  e.cwd = procfs::read_link(proc + "/cwd");
  e.argv = procfs::cmdline(pid);
  e.stdio = procfs::read_stdio(pid);
  return e;
}

}  // namespace bt::agent::wrap
