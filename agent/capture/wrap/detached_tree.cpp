// The detached tree (Linux 6.15+). A process is ptraced only from its exec
// call (notified) to its exec stop, where the program it runs is read
// exactly as in the ptrace tree; then it is detached and watched through a
// pidfd, whose exit status the kernel keeps once its parent reaps it. The
// agent is the build's subreaper, so orphans come to us to be reaped, and
// "no child left" means the build's whole tree is gone. Every other call of
// interest goes to the notifier, so no process stays ptraced: the build
// may ptrace (gdb, strace, LeakSanitizer).
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <mutex>
#include <set>
#include <vector>

#include "agent/capture/proc/procfs.h"
#include "agent/capture/wrap/pidfd.h"
#include "agent/capture/wrap/tree.h"
#include "common/clock.h"
#include "common/fs.h"
#include "common/log.h"

namespace bt::agent::wrap {

namespace {

constexpr uint64_t kWakeTag = 1ull << 32;
constexpr uint64_t kSignalTag = 2ull << 32;
constexpr uint64_t kPidfdTag = 3ull << 32;
constexpr long kSeizeOptions = PTRACE_O_TRACEEXEC | PTRACE_O_TRACESYSGOOD;

// Parent and uid of a process stopped at its exec: from its pidfd (one
// ioctl), or from /proc without one (out of file descriptors?).
std::optional<pidfd::Identity> identity_of(pid_t pid, int pidfd) {
  if (auto id = pidfd::identity(pidfd)) return id;
  procfs::TaskIds st;
  if (!procfs::task_ids(pid, &st)) return std::nullopt;
  return pidfd::Identity{st.ppid, st.uid};
}

class DetachedTree final : public Tree {
 public:
  using Tree::Tree;
  ~DetachedTree() override;
  Status use_listener(UniqueFd listener) override;
  Status until_main_exec() override;
  Outcome trace() override;

 private:
  struct ExecRequest {
    uint64_t id;
    pid_t tid;
  };

  bool set_up_detached();
  void queue_exec(uint64_t id, pid_t tid);  // any thread
  bool step_detached(int timeout_ms);       // false: nothing traced is left
  void take_exec_requests();
  void take_open_requests();
  bool reap();
  void on_detached_stop(pid_t tid, int status);
  void on_detached_exec(pid_t pid);
  std::vector<capture::Fork> new_lineage(pid_t pid, pid_t ppid);
  void watch(pid_t pid, int fd);
  void on_pidfd_ready(pid_t pid);
  void retry_exited();
  void report_exit(pid_t pid, int status, uint64_t time_ns);
  void kill_leftovers();
  void finish_detached();

  std::mutex exec_mu;
  std::vector<ExecRequest> exec_requests;  // from the notifier thread
  UniqueFd wake_fd;                        // eventfd: exec requests are queued
  UniqueFd signal_fd;                      // SIGCHLD
  UniqueFd epoll_fd;
  std::set<pid_t> seized;                                   // threads attached for an exec
  std::unordered_map<pid_t, int> pidfd_of;                  // reported processes, watched
  std::unordered_map<pid_t, uint64_t> exited_at;            // exited, not reaped yet: when
  std::unordered_map<pid_t, procfs::CpuTimes> cpu_at_exit;  // read while still a zombie
  std::set<pid_t> killed;                                   // at the linger deadline
  std::chrono::steady_clock::time_point last_kill{};
  std::chrono::steady_clock::time_point last_event{};
  const pid_t self = ::getpid();  // the build's reaper
  bool children_left = true;      // until a wait says ECHILD
  std::chrono::steady_clock::time_point last_reap{};
};

DetachedTree::~DetachedTree() {
  for (const auto& [pid, fd] : pidfd_of) ::close(fd);
}

bool DetachedTree::set_up_detached() {
  const sigset_t chld = sigchld_set();
  wake_fd.reset(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
  signal_fd.reset(::signalfd(-1, &chld, SFD_NONBLOCK | SFD_CLOEXEC));
  epoll_fd.reset(::epoll_create1(EPOLL_CLOEXEC));
  if (!wake_fd || !signal_fd || !epoll_fd) return false;
  epoll_event wake{EPOLLIN, {.u64 = kWakeTag}};
  epoll_event sig{EPOLLIN, {.u64 = kSignalTag}};
  return ::epoll_ctl(epoll_fd.get(), EPOLL_CTL_ADD, wake_fd.get(), &wake) == 0 &&
         ::epoll_ctl(epoll_fd.get(), EPOLL_CTL_ADD, signal_fd.get(), &sig) == 0;
}

void DetachedTree::queue_exec(uint64_t id, pid_t tid) {
  {
    std::lock_guard lock(exec_mu);
    exec_requests.push_back({id, tid});
  }
  const uint64_t one = 1;
  (void)!::write(wake_fd.get(), &one, sizeof one);
}

// Attaches to each thread calling exec before its call goes on, so its exec
// stop is ours; a thread already attached (its last exec failed) stays so.
void DetachedTree::take_exec_requests() {
  uint64_t count = 0;
  (void)!::read(wake_fd.get(), &count, sizeof count);
  take_open_requests();
  std::vector<ExecRequest> requests;
  {
    std::lock_guard lock(exec_mu);
    requests.swap(exec_requests);
  }
  for (const ExecRequest& r : requests) {
    if (seized.insert(r.tid).second && ::ptrace(PTRACE_SEIZE, r.tid, 0, kSeizeOptions) != 0)
      seized.erase(r.tid);  // gone meanwhile: its call fails anyway
    notifier->continue_call(r.id);
  }
}

// Secret opens to follow to their result: attached for that alone (a
// thread attached for its exec already stays so).
void DetachedTree::take_open_requests() {
  for (OpenRequest& r : open_watches.take()) {
    const uint64_t id = r.id;
    const pid_t tid = r.tid;
    OpenWatches::Watch unwatched{.open = r.open, .write = r.write};
    if (open_watches.start(std::move(r), !seized.count(tid), kSeizeOptions)) continue;
    const auto hold = locked.hold();
    notifier->unwatch(tid);
    notifier->continue_call(id);
    report_watched(sink, unwatched);
  }
}

bool DetachedTree::step_detached(int timeout_ms) {
  epoll_event events[16];
  // As in the ptrace tree, poll a while before sleeping: an exec's call
  // and its stop come a few hundred microseconds apart (see kSpin).
  int n = 0;
  spin_until([&] { return (n = ::epoll_wait(epoll_fd.get(), events, 16, 0)) != 0; }, last_event);
  if (n == 0) n = ::epoll_wait(epoll_fd.get(), events, 16, timeout_ms);
  if (n > 0) last_event = std::chrono::steady_clock::now();
  // Only a SIGCHLD says there may be something to wait for: each wait is
  // a system call an exec waits on. Should one go astray (a thread that
  // has SIGCHLD unblocked takes it), a wait every 20 ms still finds it.
  const auto now = std::chrono::steady_clock::now();
  bool child_news = n == 0 || now - last_reap >= std::chrono::milliseconds(20);
  for (int i = 0; i < n; ++i) {
    const uint64_t tag = events[i].data.u64 & ~0xffffffffull;
    if (tag == kWakeTag) {
      take_exec_requests();
    } else if (tag == kSignalTag) {
      child_news = true;
      signalfd_siginfo infos[8];  // coalesced: one read empties it
      while (::read(signal_fd.get(), infos, sizeof infos) == static_cast<ssize_t>(sizeof infos)) {}
    } else if (tag == kPidfdTag) {
      on_pidfd_ready(static_cast<pid_t>(events[i].data.u64 & 0xffffffffu));
    }
  }
  retry_exited();  // children before the parents reaped below
  if (child_news) {
    children_left = reap();
    last_reap = now;
  }
  retry_exited();
  return children_left;
}

// Our children's exits (the main process, orphans) and our tracees' stops
// and exits. False once there is neither child nor tracee.
bool DetachedTree::reap() {
  for (;;) {
    int status = 0;
    const pid_t tid = ::waitpid(-1, &status, __WALL | WNOHANG);
    if (tid == 0) return true;
    if (tid < 0) {
      if (errno == EINTR) continue;
      return false;  // ECHILD
    }
    if (WIFSTOPPED(status)) {
      on_detached_stop(tid, status);
      continue;
    }
    seized.erase(tid);
    open_watches.on_gone(tid, *notifier);
    if (tid == main) {
      main_exited = true;
      if (!main_exec_seen) continue;  // a setup failure: start() says so
      outcome.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
      outcome.signal = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
    }
    // Reaped by us, or a tracee's exit told to its tracer: exact either way.
    if (pidfd_of.count(tid) || tid == main) report_exit(tid, status, clock::now_ns());
  }
}

void DetachedTree::on_detached_stop(pid_t tid, int status) {
  std::optional<OpenWatches::Watch> done;
  if (open_watches.on_stop(tid, status, *notifier, &done)) {
    if (done) {
      const auto hold = locked.hold();
      report_watched(sink, *done);
    }
    return;
  }
  const int sig = WSTOPSIG(status);
  const int event = static_cast<unsigned>(status) >> 16;
  if (event == PTRACE_EVENT_EXEC) return on_detached_exec(tid);
  if (event == PTRACE_EVENT_STOP) return resume(tid, is_stop_signal(sig) ? PTRACE_LISTEN : PTRACE_CONT);
  // A signal on its way to a thread attached for its exec: deliver it.
  resume(tid, PTRACE_CONT, sig == (SIGTRAP | 0x80) || (sig == SIGTRAP && event) ? 0 : sig);
}

void DetachedTree::on_detached_exec(pid_t pid) {
  const auto hold = locked.hold();  // no open of the new program before its exec
  pid_t former = pid;
  capture::Exec e = read_exec_stop(pid, &former);
  seized.erase(former);
  seized.erase(pid);
  const auto known = pidfd_of.find(pid);
  const int fd = known != pidfd_of.end() ? -1 : pidfd::open(pid);  // new: watched below
  // Parent, uid and start time before it goes on: once detached, a short
  // program may be gone and reaped before they are read. Reporting waits
  // until it runs again: the build need not wait for our pipeline.
  const auto id = identity_of(pid, known != pidfd_of.end() ? known->second : fd);
  if (id) {
    e.ppid = static_cast<uint64_t>(id->ppid);
    e.uid = id->uid;
  }
  const std::vector<capture::Fork> forks = new_lineage(pid, id ? id->ppid : 0);
  exit_peaks.follow(pid);  // before it runs: a short program's exit_group comes at once
  ::ptrace(PTRACE_DETACH, pid, 0, 0);
  for (const capture::Fork& f : forks) sink.on(f);
  e.start_ns = processes[pid];
  if (pid == main) main_exec_seen = true;
  if (fd >= 0) watch(pid, fd);
  sink.on(e);
}

// The forks that led to `pid`, from the nearest process already reported:
// a process that exec'd under a subshell that never did appears under that
// subshell. An orphan's lost parent is the agent, its reaper.
std::vector<capture::Fork> DetachedTree::new_lineage(pid_t pid, pid_t ppid) {
  std::vector<capture::Fork> forks;
  if (processes.count(pid)) return forks;
  std::vector<std::pair<pid_t, pid_t>> chain;  // (child, parent), nearest first
  pid_t child = pid, parent = ppid;
  for (;;) {
    chain.emplace_back(child, parent);
    if (parent <= 1 || parent == self || processes.count(parent) || chain.size() >= 64) break;
    procfs::TaskIds up;
    if (!procfs::task_ids(parent, &up)) break;
    child = parent;
    parent = up.ppid;
  }
  for (auto it = chain.rbegin(); it != chain.rend(); ++it) {
    const uint64_t start_ns = procfs::start_time_ns(it->first);
    processes[it->first] = start_ns;
    forks.push_back({clock::now_ns(), static_cast<uint64_t>(it->second), static_cast<uint64_t>(it->first), start_ns});
    if (it->first != pid)
      if (const int fd = pidfd::open(it->first); fd >= 0) watch(it->first, fd);
  }
  return forks;
}

void DetachedTree::watch(pid_t pid, int fd) {
  pidfd_of[pid] = fd;
  exit_peaks.follow(pid);
  epoll_event ev{EPOLLIN, {.u64 = kPidfdTag | static_cast<uint32_t>(pid)}};
  ::epoll_ctl(epoll_fd.get(), EPOLL_CTL_ADD, fd, &ev);
}

void DetachedTree::on_pidfd_ready(pid_t pid) {
  const auto it = pidfd_of.find(pid);
  if (it == pidfd_of.end()) return;
  ::epoll_ctl(epoll_fd.get(), EPOLL_CTL_DEL, it->second, nullptr);
  // Its status comes once its parent reaps it; until then, remember when.
  exited_at.emplace(pid, clock::now_ns());
  // A zombie's /proc/<pid>/stat still has its CPU times (its peak RSS went
  // with its memory: read at its exit_group); gone already if its parent
  // reaped it first.
  if (procfs::CpuTimes t; procfs::cpu_times(pid, &t)) cpu_at_exit[pid] = t;
}

void DetachedTree::retry_exited() {
  for (auto it = exited_at.begin(); it != exited_at.end();) {
    const pid_t pid = it->first;
    const uint64_t when = it->second;
    const auto fd = pidfd_of.find(pid);
    const auto status = fd == pidfd_of.end() ? std::nullopt : pidfd::exit_status(fd->second);
    ++it;
    if (status) report_exit(pid, *status, when);
  }
}

void DetachedTree::report_exit(pid_t pid, int status, uint64_t time_ns) {
  const auto hold = locked.hold();
  if (auto it = exited_at.find(pid); it != exited_at.end()) {
    time_ns = std::min(time_ns, it->second);
    exited_at.erase(it);
  }
  if (auto it = pidfd_of.find(pid); it != pidfd_of.end()) {
    ::epoll_ctl(epoll_fd.get(), EPOLL_CTL_DEL, it->second, nullptr);
    ::close(it->second);
    pidfd_of.erase(it);
  }
  dns_sockets.forget(pid);
  procfs::CpuTimes cpu;
  if (auto it = cpu_at_exit.find(pid); it != cpu_at_exit.end()) {
    cpu = it->second;
    cpu_at_exit.erase(it);
  }
  const uint64_t peak_rss = exit_peaks.take(pid);
  if (!processes.erase(pid)) return;  // reported already
  capture::Exit x;
  x.time_ns = time_ns;
  x.pid = static_cast<uint64_t>(pid);
  x.user_ns = cpu.user_ns;
  x.system_ns = cpu.system_ns;
  x.peak_rss_bytes = peak_rss;
  x.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  x.signal = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
  sink.on(x);
}

// At the linger deadline: every process we know of, and every child of
// ours (orphans, exec'd or not), until none is left.
void DetachedTree::kill_leftovers() {
  const auto now = std::chrono::steady_clock::now();
  if (now - last_kill < std::chrono::milliseconds(20)) return;
  last_kill = now;
  for (const auto& [pid, fd] : pidfd_of)
    if (!exited_at.count(pid) && pidfd::send_signal(fd, SIGKILL) == 0) killed.insert(pid);
  for (const pid_t pid : procfs::children_of(self))
    if (::kill(pid, SIGKILL) == 0) killed.insert(pid);
}

// Nothing is left: whatever exited and was reaped has its status now.
void DetachedTree::finish_detached() {
  retry_exited();
  std::vector<pid_t> left;
  for (const auto& [pid, fd] : pidfd_of) left.push_back(pid);
  // Unreaped still: its status is unknown (neither exited nor signalled).
  constexpr int kUnknownStatus = 0x7f;
  for (const pid_t pid : left)
    report_exit(pid, pidfd::exit_status(pidfd_of[pid]).value_or(kUnknownStatus), clock::now_ns());
}

Status DetachedTree::use_listener(UniqueFd listener) {
  notifier = std::make_unique<Notifier>(std::move(listener), locked, dns_sockets, options.notifier,
                                        [this](uint64_t id, pid_t tid) { queue_exec(id, tid); });
  notifier->watch_results([this](OpenRequest r) {
    open_watches.queue(std::move(r));
    const uint64_t one = 1;
    (void)!::write(wake_fd.get(), &one, sizeof one);
  });
  notifier->read_exit_peaks(&exit_peaks);
  if (!set_up_detached()) return make_error(ErrorCode::kIo, "epoll: " + fs::errno_text(errno));
  // Orphans of the build come to us: we reap them, and know when the
  // whole tree is gone.
  ::prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
  seized.insert(main);
  notifier->start();  // the command's own exec waits for it
  log::debug("wrap", "detached tree: execs and every other call by seccomp user notification");
  return Ok{};
}

// Until the command's exec succeeds only the child exists.
Status DetachedTree::until_main_exec() {
  while (!main_exec_seen && !main_exited) step_detached(100);
  return Ok{};
}

Outcome DetachedTree::trace() {
  std::chrono::steady_clock::time_point deadline{};
  for (;;) {
    int timeout_ms = exited_at.empty() ? 1000 : 5;
    if (main_exited) {
      // Descendants the build left behind get the linger time, then are
      // killed, so `run` ends and none outlives its notifier.
      const auto now = std::chrono::steady_clock::now();
      if (deadline == std::chrono::steady_clock::time_point{}) deadline = now + options.linger;
      if (now >= deadline) {
        kill_leftovers();
        timeout_ms = std::min(timeout_ms, 20);
      } else {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now).count() + 1;
        timeout_ms = std::min<int>(timeout_ms, static_cast<int>(left));
      }
    }
    if (!step_detached(timeout_ms) && main_exited) break;
  }
  finish_detached();
  outcome.killed_after_linger = killed.size();
  notifier->stop();
  outcome.notifications = notifier->notifications();
  outcome.foreign_abi_syscalls = notifier->foreign_abi_calls();
  return outcome;
}

}  // namespace

std::unique_ptr<Tree> detached_tree(capture::Sink& sink, const Options& options, pid_t main) {
  return std::make_unique<DetachedTree>(sink, options, main);
}

}  // namespace bt::agent::wrap
