#include "agent/capture/wrap/tree.h"

#include <sys/ptrace.h>
#include <sys/wait.h>

#include <cerrno>

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

void OpenWatches::queue(OpenRequest r) {
  std::lock_guard lock(mu_);
  queued_.push_back(std::move(r));
}

std::vector<OpenRequest> OpenWatches::take() {
  std::vector<OpenRequest> out;
  std::lock_guard lock(mu_);
  out.swap(queued_);
  return out;
}

bool OpenWatches::empty_queue() {
  std::lock_guard lock(mu_);
  return queued_.empty();
}

bool OpenWatches::start(OpenRequest&& r, bool seize, long seize_options) {
  // A thread another tracer holds (the build's own gdb or strace) cannot
  // be seized: its open goes on unwatched.
  if (seize && ::ptrace(PTRACE_SEIZE, r.tid, 0, seize_options) != 0) return false;
  if (::ptrace(PTRACE_INTERRUPT, r.tid, 0, 0) != 0) {
    if (seize) ::ptrace(PTRACE_DETACH, r.tid, 0, 0);
    return false;
  }
  Watch w;
  w.nr = r.nr;
  w.seized_here = seize;
  w.open = std::move(r.open);
  w.write = std::move(r.write);
  watches_[r.tid] = std::move(w);
  return true;
}

bool OpenWatches::on_stop(pid_t tid, int status, Notifier& notifier, std::optional<Watch>* done) {
  auto it = watches_.find(tid);
  if (it == watches_.end()) return false;
  Watch& w = it->second;
  const int sig = WSTOPSIG(status);
  const int event = static_cast<unsigned>(status) >> 16;
  const auto finish = [&](int64_t rval) {
    w.open.result = rval < 0 ? rval : 0;  // a descriptor: opened
    notifier.unwatch(tid);
    if (w.seized_here)
      ::ptrace(PTRACE_DETACH, tid, 0, 0);
    else
      ::ptrace(PTRACE_CONT, tid, 0, 0);
    *done = std::move(w);
    watches_.erase(it);
  };
  if (sig == (SIGTRAP | 0x80)) {
    __ptrace_syscall_info info{};
    if (::ptrace(PTRACE_GET_SYSCALL_INFO, tid, sizeof info, &info) <= 0) {
      finish(0);
      return true;
    }
    if (info.op == PTRACE_SYSCALL_INFO_ENTRY && w.phase == Watch::Phase::entry) {
      // Not the open restarted: a signal's handler ran meanwhile and the
      // call returned EINTR (it was made without SA_RESTART).
      if (static_cast<long>(info.entry.nr) != w.nr) {
        finish(-EINTR);
        return true;
      }
      w.phase = Watch::Phase::exit;
      ::ptrace(PTRACE_SYSCALL, tid, 0, 0);
      return true;
    }
    if (info.op == PTRACE_SYSCALL_INFO_EXIT && w.phase == Watch::Phase::exit) {
      finish(info.exit.rval);
      return true;
    }
    finish(0);  // unexpected: let it go as it was
    return true;
  }
  if (event == PTRACE_EVENT_STOP && w.phase == Watch::Phase::interrupt) {
    // The interrupt: the notification is withdrawn and the call restarts
    // once resumed; its entry and exit stops follow.
    w.phase = Watch::Phase::entry;
    ::ptrace(PTRACE_SYSCALL, tid, 0, 0);
    return true;
  }
  // A signal on its way to the thread meanwhile: deliver it and go on
  // waiting for the interrupt's stop or the call's.
  ::ptrace(w.phase == Watch::Phase::interrupt ? PTRACE_CONT : PTRACE_SYSCALL, tid, 0, event ? 0 : sig);
  return true;
}

bool OpenWatches::on_gone(pid_t tid, Notifier& notifier) {
  if (!watches_.erase(tid)) return false;
  notifier.unwatch(tid);  // killed in its open: its result is not known
  return true;
}

void report_watched(capture::Sink& sink, const OpenWatches::Watch& w) {
  sink.on(w.open);
  if (!w.write.path.empty()) sink.on(w.write);
}

}  // namespace bt::agent::wrap
