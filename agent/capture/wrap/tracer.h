// The wrap capture backend: runs one command with every descendant under
// a seccomp filter that stops only the system calls of interest. Opens and
// connects go to agent/capture/wrap/notifier by seccomp user notification. Then:
//  - the detached tree (Linux 6.15+): execs and every other call of
//    interest are notified too; a process is ptraced only from its exec call
//    to its exec stop (so exec success and the program are exact), then
//    watched through a pidfd for its exit status. The build may ptrace.
//  - the ptrace tree (older kernels, no listener, or Options::ptrace_tree):
//    every process stays traced; forks, execs and exits are ptrace events,
//    the other calls ptrace seccomp-stops (SECCOMP_RET_TRACE).
// Unprivileged: a process may trace its own descendants. Why: see
// docs/architecture.md.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "agent/capture/observation.h"
#include "agent/capture/wrap/notifier.h"
#include "common/result.h"

namespace bt::agent::wrap {

struct Options {
  std::vector<std::string> command;
  // After the main process exits, how long descendants it left running
  // are still traced before they are killed.
  std::chrono::milliseconds linger{std::chrono::seconds(30)};
  NotifierOptions notifier;
  // Keep every process ptraced (forks, execs and exits as ptrace events)
  // even where the detached tree works (Linux 6.15+: exit statuses from
  // pidfds); it is also what runs without a seccomp listener.
  bool ptrace_tree = false;
};

struct Outcome {
  int64_t exit_code = 0;  // -1 when killed by a signal
  int64_t signal = 0;
  uint64_t foreign_abi_syscalls = 0;  // stops of a 32-bit/x32 syscall (not decoded)
  uint64_t killed_after_linger = 0;   // descendants still running at the linger deadline
  uint64_t notifications = 0;         // opens and connects answered by the notifier
};

struct Tree;

class Tracer {
 public:
  // Starts `options.command` under capture. Fails, with nothing run, when
  // capture cannot be set up (ptrace refused, seccomp unavailable) or the
  // command cannot be executed. The calling thread becomes the tracer:
  // trace() must run on it. It blocks SIGCHLD in that thread; the process's
  // other threads must block it too (start them with it blocked), or a
  // SIGCHLD they take away makes the tracer fall back to waiting every 20 ms.
  static Result<std::unique_ptr<Tracer>> start(const Options& options, capture::Sink& sink);
  ~Tracer();

  pid_t main_pid() const { return main_pid_; }
  // Traces until every traced process has exited (or the linger deadline).
  Outcome trace();

 private:
  Tracer(pid_t main_pid, std::unique_ptr<Tree> tree);
  pid_t main_pid_;
  std::unique_ptr<Tree> tree_;
};

// Blocks SIGCHLD in the calling thread; threads it starts afterwards
// inherit that (see Tracer::start).
void block_sigchld();

// Runs the command without capture (--allow-unmonitored); returns its status.
Result<Outcome> run_unmonitored(const std::vector<std::string>& command);

}  // namespace bt::agent::wrap
