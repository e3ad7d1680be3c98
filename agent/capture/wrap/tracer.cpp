#include "agent/capture/wrap/tracer.h"

#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>

#include "agent/capture/proc/procfs.h"
#include "agent/capture/wrap/launch.h"
#include "agent/capture/wrap/pidfd.h"
#include "agent/capture/wrap/tree.h"
#include "common/clock.h"
#include "common/fs.h"

namespace bt::agent::wrap {

Tracer::Tracer(pid_t main_pid, std::unique_ptr<Tree> tree) : main_pid_(main_pid), tree_(std::move(tree)) {}

Tracer::~Tracer() = default;

Result<std::unique_ptr<Tracer>> Tracer::start(const Options& options, capture::Sink& sink) {
  const bool want_detached = !options.ptrace_tree && pidfd::exit_status_supported();
  block_sigchld();  // trace() waits on SIGCHLD: keep it pending for this thread
  auto launched = launch(options.command, want_detached);
  if (!launched) return launched.error();
  const pid_t pid = launched->pid;
  // Without a listener there is no detached tree: every process stays ptraced.
  std::unique_ptr<Tree> tree =
      want_detached && launched->listener ? detached_tree(sink, options, pid) : ptrace_tree(sink, options, pid);
  tree->processes[pid] = procfs::start_time_ns(pid);
  sink.on(capture::Fork{clock::now_ns(), static_cast<uint64_t>(::getpid()), static_cast<uint64_t>(pid),
                        tree->processes[pid]});
  Status ready = tree->use_listener(std::move(launched->listener));
  // Until the command's exec succeeds only the child exists: a failure
  // before it (no filter, no such program) is a setup error, not a build.
  if (ready) ready = tree->until_main_exec();
  if (!ready || !tree->main_exec_seen) {
    tree->stop_notifier();
    if (!tree->main_exited) abandon(pid);
    if (!ready) return ready.error();
    return launch_failure(launched->errors, options.command[0]);
  }
  return std::unique_ptr<Tracer>(new Tracer(pid, std::move(tree)));
}

Outcome Tracer::trace() { return tree_->trace(); }

void block_sigchld() {
  const sigset_t chld = sigchld_set();
  ::pthread_sigmask(SIG_BLOCK, &chld, nullptr);
}

Result<Outcome> run_unmonitored(const std::vector<std::string>& command) {
  if (command.empty()) return make_error(ErrorCode::kInvalidArgument, "no command to run");
  std::vector<std::string> args = command;
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  const pid_t pid = ::fork();
  if (pid < 0) return make_error(ErrorCode::kIo, "fork: " + fs::errno_text(errno));
  if (pid == 0) {
    unblock_sigchld();
    ::execvp(argv[0], argv.data());
    ::_exit(127);
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
  Outcome o;
  if (WIFEXITED(status))
    o.exit_code = WEXITSTATUS(status);
  else {
    o.exit_code = -1;
    o.signal = WTERMSIG(status);
  }
  return o;
}

}  // namespace bt::agent::wrap
