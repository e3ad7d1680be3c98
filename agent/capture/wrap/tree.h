// What the wrap backend's two ways of following the build's process tree
// share (see tracer.h for both): the sink and its lock, the notifier, the
// processes reported so far, the main process's fate, and helpers for the
// ptrace stops both still take (an exec stop). Internal to agent/capture/wrap.
#pragma once

#include <sched.h>
#include <signal.h>
#include <sys/ptrace.h>
#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <unordered_map>
#include <vector>

#include "agent/capture/observation.h"
#include "agent/capture/wrap/connects.h"
#include "agent/capture/wrap/exit_peaks.h"
#include "agent/capture/wrap/locked_sink.h"
#include "agent/capture/wrap/notifier.h"
#include "agent/capture/wrap/tracer.h"
#include "common/unique_fd.h"

namespace bt::agent::wrap {

// How long the tracer polls for the next stop before sleeping: the stops
// of one exec (fork, first stop, exec, SIGCHLD) or one connect come a few
// hundred microseconds apart, and a sleeping vCPU wakes through the
// hypervisor. It yields while it polls, so a busy build loses little CPU
// to it. On this VM, 100 us -> 1 ms took an exec storm from 1.45x to 1.3x
// and a connect storm from 1.52x to 1.31x.
inline constexpr auto kSpin = std::chrono::microseconds(1000);

// Polls `ready` for kSpin after `since`, yielding between polls (the
// build's own work on this CPU comes first); true once it is.
template <typename Ready>
bool spin_until(Ready&& ready, std::chrono::steady_clock::time_point since) {
  while (std::chrono::steady_clock::now() < since + kSpin) {
    if (ready()) return true;
    ::sched_yield();
  }
  return false;
}

sigset_t sigchld_set();
void unblock_sigchld();
bool is_stop_signal(int sig);

// At an exec stop: the program, its argv and cwd -- what the new program
// could change as soon as it runs is read while it is stopped, and nothing
// more, since the build waits for these reads. `former`: the thread that
// called exec (a non-leader takes over the group id, which the kernel
// reports the exec under).
capture::Exec read_exec_stop(pid_t pid, pid_t* former);

// An open a secret rule matched, seen by the notifier at its entry and
// followed by the tracer to its exit, so a failed attempt is reported with
// its errno (wrap/README.md, "Results of secret opens"): the tracer
// PTRACE_INTERRUPTs the waiting thread, which withdraws the notification
// (the seccomp wait is interruptible: -ERESTARTSYS) and restarts the call
// after the interrupt stop; resumed with PTRACE_SYSCALL, the restarted call
// comes to the notifier again, which lets it go on (Notifier::watching),
// and its syscall-exit stop has the result.
class OpenWatches {
 public:
  struct Watch {
    enum class Phase { interrupt, entry, exit } phase = Phase::interrupt;
    long nr = 0;
    bool seized_here = false;  // attached for this open only: detached after
    capture::Open open;
    capture::FileWrite write;  // op path empty: none
  };
  // Any thread (the notifier's): a request for the tracer's thread.
  void queue(OpenRequest r);
  std::vector<OpenRequest> take();
  bool empty_queue();

  // The tracer's thread. Interrupts `r.tid`, attached already or attached
  // here (`seize`); false when that failed: then the caller lets the call
  // go on and reports it unwatched (result 0, as before this existed).
  bool start(OpenRequest&& r, bool seize, long seize_options);
  // A ptrace stop or exit of a watched thread; false: not watched. On the
  // last stop `done` gets the open (result set) and the thread is resumed
  // (detached when seized here); `notifier` unwatches it.
  bool on_stop(pid_t tid, int status, Notifier& notifier, std::optional<Watch>* done);
  bool on_gone(pid_t tid, Notifier& notifier);

 private:
  std::mutex mu_;
  std::vector<OpenRequest> queued_;
  std::unordered_map<pid_t, Watch> watches_;
};

// Reports a watched open and the file write it is (if any), under the lock.
void report_watched(capture::Sink& sink, const OpenWatches::Watch& w);

// One way of following the build's tree, from the command's exec until
// every process of it is gone.
struct Tree {
  Tree(capture::Sink& s, const Options& o, pid_t main_pid)
      : locked(s), sink(locked.inner()), options(o), main(main_pid) {}
  virtual ~Tree() = default;

  // Answers notifications on `listener` (invalid: there is none).
  virtual Status use_listener(UniqueFd listener) = 0;
  // Follows the tree until the command's exec succeeded or it exited;
  // false on an error that ends capture.
  virtual Status until_main_exec() = 0;
  // Follows the tree until every process of it is gone (or the linger
  // deadline after the main process exited).
  virtual Outcome trace() = 0;
  // Stops the notifier (a failed start).
  void stop_notifier() {
    if (notifier) notifier->stop();
  }
  void resume(pid_t tid, int request, int sig = 0) { ::ptrace(static_cast<__ptrace_request>(request), tid, 0, sig); }

  LockedSink locked;                   // the notifier's way in
  capture::Sink& sink;                 // locked.inner(): call with locked.hold()
  std::unique_ptr<Notifier> notifier;  // null: opens stop under ptrace
  Options options;
  pid_t main = -1;
  bool main_exec_seen = false;
  bool main_exited = false;
  Outcome outcome;
  std::unordered_map<pid_t, uint64_t> processes;  // leaders alive -> start ns since boot
  DnsSockets dns_sockets;                         // shared with the notifier: use under locked.hold()
  OpenWatches open_watches;                       // secret opens followed to their result
  ExitPeaks exit_peaks;                           // peak RSS read at exit_group, by process
};

// The ptrace tree (agent/capture/wrap/ptrace_tree.cpp) and the detached
// tree (detached_tree.cpp); `main` is the launched command, seized.
std::unique_ptr<Tree> ptrace_tree(capture::Sink& sink, const Options& options, pid_t main);
std::unique_ptr<Tree> detached_tree(capture::Sink& sink, const Options& options, pid_t main);

}  // namespace bt::agent::wrap
