// The ptrace tree: every process of the build stays traced; forks, execs
// and exits are ptrace events, and the system calls the notifier does not
// take (all of them without a listener) stop under ptrace
// (SECCOMP_RET_TRACE). What older kernels get, and BUILDTRAIL_WRAP_TREE=ptrace.
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <span>

#include "agent/capture/proc/procfs.h"
#include "agent/capture/wrap/opens.h"
#include "agent/capture/wrap/seccomp_compat.h"
#include "agent/capture/wrap/tree.h"
#include "common/clock.h"
#include "common/fs.h"
#include "common/log.h"

namespace bt::agent::wrap {

namespace {

constexpr std::size_t kMaxDnsBatch = 8;  // messages of one recvmmsg read

class PtraceTree final : public Tree {
 public:
  using Tree::Tree;
  Status use_listener(UniqueFd listener) override;
  Status until_main_exec() override;
  Outcome trace() override;

 private:
  struct PendingConnect {
    capture::Connect connect;
    int fd;
  };
  struct PendingRecv {
    long nr;
    int fd;
    uint64_t buf;   // recvfrom: buffer; recvmsg/recvmmsg: the message header(s)
    uint64_t from;  // recvfrom: the source address buffer
  };

  pid_t process_of(pid_t tid);
  void track(pid_t tid, pid_t tgid, pid_t ppid);
  void on_new_task(pid_t tid, pid_t parent_tid, int event);
  void on_exec(pid_t pid);
  void on_gone(pid_t tid, int status);
  // Returns the ptrace request to resume with (PTRACE_CONT or PTRACE_SYSCALL).
  int on_seccomp(pid_t tid);
  void on_syscall_exit(pid_t tid);
  void on_connect(pid_t tid, const uint64_t* args, bool* want_exit);
  bool on_dns_recv(pid_t tid, long nr, const uint64_t* args);
  void dns_payload(pid_t tid, std::span<const uint8_t> bytes, const std::string& server);
  void dns_received(pid_t tid, const PendingRecv& r, int64_t rval);
  void handle_stop(pid_t tid, int status);
  bool wait_for_events(std::chrono::steady_clock::time_point last_stop);

  std::unordered_map<pid_t, pid_t> tgid_of;                    // every traced task -> its process
  std::unordered_map<pid_t, PendingConnect> pending_connect;   // by tid
  std::unordered_map<pid_t, PendingRecv> pending_recv;         // by tid
  std::unordered_map<pid_t, OpenWatches::Watch> pending_open;  // by tid: a secret open stopped here
  void take_open_requests();
};

// Records `tid` as belonging to `tgid`; a thread group leader seen for the
// first time is reported as a new process (start time read once, here).
void PtraceTree::track(pid_t tid, pid_t tgid, pid_t ppid) {
  tgid_of[tid] = tgid;
  if (tgid != tid || processes.count(tid)) return;
  const uint64_t start_ns = procfs::start_time_ns(tid);
  processes[tid] = start_ns;
  exit_peaks.follow(tid);
  sink.on(capture::Fork{clock::now_ns(), static_cast<uint64_t>(ppid), static_cast<uint64_t>(tid), start_ns});
}

pid_t PtraceTree::process_of(pid_t tid) {
  if (auto it = tgid_of.find(tid); it != tgid_of.end()) return it->second;
  procfs::TaskIds st;
  if (!procfs::task_ids(tid, &st)) st.tgid = tid;
  track(tid, st.tgid, st.ppid);
  return st.tgid;
}

void PtraceTree::on_new_task(pid_t tid, pid_t parent_tid, int event) {
  if (tgid_of.count(tid)) return;  // its own first stop came first
  // fork and vfork make a process, a child of the caller's (CLONE_PARENT
  // aside, which only clone() passes); clone may make a thread.
  if (event != PTRACE_EVENT_CLONE) return track(tid, tid, process_of(parent_tid));
  procfs::TaskIds st;
  if (!procfs::task_ids(tid, &st)) {
    st.tgid = tid;
    st.ppid = process_of(parent_tid);
  }
  track(tid, st.tgid, st.ppid);
}

void PtraceTree::on_exec(pid_t pid) {
  pid_t former = pid;
  capture::Exec e = read_exec_stop(pid, &former);
  if (former != pid) tgid_of.erase(former);
  resume(pid, PTRACE_CONT);
  // The rest runs beside the program: its parent and real uid (the
  // program would have to call setuid() within microseconds to be seen
  // with its next uid), then enrichment (digests, redaction).
  procfs::TaskIds st;
  if (procfs::task_ids(pid, &st)) {
    e.ppid = static_cast<uint64_t>(st.ppid);
    e.uid = st.uid;
  }
  track(pid, pid, st.ppid);
  e.start_ns = processes[pid];  // exec keeps the start time, even a thread's
  if (pid == main) main_exec_seen = true;
  sink.on(e);
}

void PtraceTree::on_gone(pid_t tid, int status) {
  const auto hold = locked.hold();
  auto it = tgid_of.find(tid);
  const pid_t tgid = it == tgid_of.end() ? tid : it->second;
  if (it != tgid_of.end()) tgid_of.erase(it);
  pending_connect.erase(tid);
  pending_recv.erase(tid);
  pending_open.erase(tid);
  if (notifier) open_watches.on_gone(tid, *notifier);
  if (tgid != tid) return;  // a thread
  dns_sockets.forget(tid);
  capture::Exit x;
  x.time_ns = clock::now_ns();
  x.pid = static_cast<uint64_t>(tid);
  // Until its parent reaps it (the tracer was told first), a zombie's
  // /proc/<pid>/stat has its CPU times; its peak RSS went with its memory
  // and was read at its exit_group.
  if (procfs::CpuTimes cpu; procfs::cpu_times(tid, &cpu)) {
    x.user_ns = cpu.user_ns;
    x.system_ns = cpu.system_ns;
  }
  x.peak_rss_bytes = exit_peaks.take(tid);
  if (WIFEXITED(status)) {
    x.exit_code = WEXITSTATUS(status);
  } else {
    x.exit_code = -1;
    x.signal = WTERMSIG(status);
  }
  if (processes.erase(tid) || tid == main) sink.on(x);
  if (tid == main) {
    main_exited = true;
    outcome.exit_code = x.exit_code;
    outcome.signal = x.signal;
  }
}

void PtraceTree::on_connect(pid_t tid, const uint64_t* args, bool* want_exit) {
  auto call = read_connect(tid, args);
  if (!call) return;
  call->connect.pid = static_cast<uint64_t>(process_of(tid));
  if (const int sock = copy_socket(tid, call->fd); sock >= 0) {
    call->connect.protocol = socket_protocol(sock);
    ::close(sock);
  }
  pending_connect[tid] = {std::move(call->connect), call->fd};
  *want_exit = true;
}

int PtraceTree::on_seccomp(pid_t tid) {
  __ptrace_syscall_info info{};
  if (::ptrace(PTRACE_GET_SYSCALL_INFO, tid, sizeof info, &info) <= 0 || info.op != PTRACE_SYSCALL_INFO_SECCOMP)
    return PTRACE_CONT;
  if (info.arch != kAuditArch || info.seccomp.nr >= kX32Bit) {
    ++outcome.foreign_abi_syscalls;
    return PTRACE_CONT;
  }
  const uint64_t* a = info.seccomp.args;
  const long nr = static_cast<long>(info.seccomp.nr);
  capture::FileWrite write;
  auto open = read_open(tid, nr, a, sink, &write);  // no notifier: opens stop here
  if (open) open->pid = static_cast<uint64_t>(process_of(tid));
  if (open && sink.wants_result(*open)) {
    // A secret open: reported at its exit, with its result.
    if (!write.path.empty()) write.pid = open->pid;
    pending_open[tid] = OpenWatches::Watch{.open = std::move(*open), .write = std::move(write)};
    return PTRACE_SYSCALL;
  }
  if (!write.path.empty()) {
    write.pid = static_cast<uint64_t>(process_of(tid));
    if (open) {
      open->pid = write.pid;
      sink.on(*open);
    }
    sink.on(write);
    return PTRACE_CONT;
  }
  if (open) {
    open->pid = static_cast<uint64_t>(process_of(tid));
    sink.on(*open);
    return PTRACE_CONT;
  }
  if (auto change = read_file_call(tid, nr, a)) {
    change->pid = static_cast<uint64_t>(process_of(tid));
    sink.on(*change);
    return PTRACE_CONT;
  }
  switch (nr) {
    case __NR_connect: {
      bool want_exit = false;
      on_connect(tid, a, &want_exit);
      if (want_exit) return PTRACE_SYSCALL;
      break;
    }
    case __NR_recvfrom:
    case __NR_recvmsg:
    case __NR_recvmmsg:
      if (on_dns_recv(tid, nr, a)) return PTRACE_SYSCALL;
      break;
    case __NR_process_vm_readv:
      sink.on(capture::ProcessAccess{clock::now_ns(), static_cast<uint64_t>(process_of(tid)), a[0], "process_vm_readv",
                                     std::nullopt});
      break;
    case __NR_ptrace:
      if (a[0] == PTRACE_ATTACH || a[0] == PTRACE_SEIZE)
        sink.on(capture::ProcessAccess{clock::now_ns(), static_cast<uint64_t>(process_of(tid)), a[1], "ptrace_attach",
                                       std::nullopt});
      break;
    case __NR_exit_group:
      // Stopped here, it cannot go away unseen: what is read is its own.
      exit_peaks.at_exit_group(tid, [] { return true; });
      break;
    default:
      break;
  }
  return PTRACE_CONT;
}

void PtraceTree::on_syscall_exit(pid_t tid) {
  __ptrace_syscall_info info{};
  const bool have =
      ::ptrace(PTRACE_GET_SYSCALL_INFO, tid, sizeof info, &info) > 0 && info.op == PTRACE_SYSCALL_INFO_EXIT;
  const int64_t rval = have ? info.exit.rval : -ENOSYS;
  if (auto o = pending_open.find(tid); o != pending_open.end()) {
    o->second.open.result = have && rval < 0 ? rval : 0;
    report_watched(sink, o->second);
    pending_open.erase(o);
    return;
  }
  if (auto r = pending_recv.find(tid); r != pending_recv.end()) {
    const PendingRecv recv = r->second;
    pending_recv.erase(r);
    dns_received(tid, recv, rval);
    return;
  }
  auto it = pending_connect.find(tid);
  if (it == pending_connect.end()) return;
  capture::Connect& c = it->second.connect;
  c.result = rval == -EINPROGRESS ? 0 : rval;
  // A UDP socket connected to port 53 is a resolver's: its traffic is DNS.
  if (c.protocol == "udp" && c.dport == kDnsPort && c.result == 0)
    dns_sockets.add(process_of(tid), tid, it->second.fd, c.daddr);
  sink.on(c);
  pending_connect.erase(it);
}

void PtraceTree::dns_payload(pid_t tid, std::span<const uint8_t> bytes, const std::string& server) {
  auto d = dns_answer(bytes, server);
  if (!d) return;
  d->pid = static_cast<uint64_t>(process_of(tid));
  sink.on(*d);
}

bool PtraceTree::on_dns_recv(pid_t tid, long nr, const uint64_t* a) {
  const int fd = static_cast<int>(a[0]);
  // recvfrom names its source, so any socket may turn out to be talking
  // to port 53; recvmsg/recvmmsg are followed on known DNS sockets only.
  if (nr != __NR_recvfrom && !dns_sockets.server(process_of(tid), tid, fd)) return false;
  pending_recv[tid] = {nr, fd, a[1], nr == __NR_recvfrom ? a[4] : 0};
  return true;
}

void PtraceTree::dns_received(pid_t tid, const PendingRecv& r, int64_t rval) {
  if (rval <= 0) return;
  std::string server;
  if (const std::string* s = dns_sockets.server(process_of(tid), tid, r.fd)) server = *s;
  if (r.nr == __NR_recvfrom && r.from) {
    sockaddr_storage ss{};
    uint64_t port = 0;
    if (procfs::read_memory(tid, r.from, &ss, sizeof(sockaddr_in6)) &&
        (ss.ss_family == AF_INET || ss.ss_family == AF_INET6)) {
      std::string addr = sockaddr_text(ss, &port);
      if (port == kDnsPort) server = addr;
    }
  }
  if (server.empty()) return;
  std::vector<uint8_t> buf(kMaxDnsMessage);
  auto read_msg = [&](uint64_t hdr_at, std::size_t got) {
    msghdr h{};
    iovec iov{};
    if (!procfs::read_memory(tid, hdr_at, &h, sizeof h) || h.msg_iovlen < 1 ||
        !procfs::read_memory(tid, reinterpret_cast<uint64_t>(h.msg_iov), &iov, sizeof iov))
      return;
    const std::size_t n = std::min<std::size_t>({got, iov.iov_len, buf.size()});
    if (procfs::read_memory(tid, reinterpret_cast<uint64_t>(iov.iov_base), buf.data(), n))
      dns_payload(tid, std::span(buf.data(), n), server);
  };
  if (r.nr == __NR_recvfrom) {
    const std::size_t n = std::min<uint64_t>(static_cast<uint64_t>(rval), buf.size());
    if (procfs::read_memory(tid, r.buf, buf.data(), n)) dns_payload(tid, std::span(buf.data(), n), server);
  } else if (r.nr == __NR_recvmsg) {
    read_msg(r.buf, static_cast<std::size_t>(rval));
  } else {
    for (int64_t i = 0; i < rval && i < static_cast<int64_t>(kMaxDnsBatch); ++i) {
      mmsghdr mh{};
      const uint64_t at = r.buf + static_cast<uint64_t>(i) * sizeof(mmsghdr);
      if (!procfs::read_memory(tid, at, &mh, sizeof mh)) break;
      read_msg(at, mh.msg_len);
    }
  }
}

void PtraceTree::handle_stop(pid_t tid, int status) {
  const auto hold = locked.hold();
  const int sig = WSTOPSIG(status);
  const int event = static_cast<unsigned>(status) >> 16;
  if (!tgid_of.count(tid)) process_of(tid);
  if (notifier) {
    std::optional<OpenWatches::Watch> done;
    if (open_watches.on_stop(tid, status, *notifier, &done)) {
      if (done) report_watched(sink, *done);
      return;
    }
  }
  if (sig == (SIGTRAP | 0x80)) {
    on_syscall_exit(tid);
    resume(tid, PTRACE_CONT);
    return;
  }
  switch (event) {
    case PTRACE_EVENT_SECCOMP:
      resume(tid, on_seccomp(tid));
      return;
    case PTRACE_EVENT_FORK:
    case PTRACE_EVENT_VFORK:
    case PTRACE_EVENT_CLONE: {
      unsigned long child = 0;
      const bool have_child = ::ptrace(PTRACE_GETEVENTMSG, tid, 0, &child) == 0 && child;
      // The parent goes on; the child waits in its first stop until we
      // handle that, so it can be read afterwards.
      resume(tid, PTRACE_CONT);
      if (have_child) on_new_task(static_cast<pid_t>(child), tid, event);
      return;
    }
    case PTRACE_EVENT_EXEC:
      on_exec(tid);  // resumes the tracee itself
      return;
    case PTRACE_EVENT_STOP:
      // Group-stop (the build was stopped by a signal): stay stopped but
      // keep listening. Anything else (a new task's first stop): go on.
      if (is_stop_signal(sig))
        resume(tid, PTRACE_LISTEN);
      else
        resume(tid, PTRACE_CONT);
      return;
    default:
      // A signal on its way to the tracee: deliver it.
      resume(tid, PTRACE_CONT, sig == SIGTRAP && event ? 0 : sig);
      return;
  }
}

// Waits for the next tracee event. Every ptrace stop and exit also sends
// SIGCHLD, which run() keeps blocked in all of the agent's threads, so it
// stays pending: for kSpin after the last stop the tracer polls it with
// sigpending() -- cheap, unlike polling waitpid, which takes the tasklist
// lock that the build's forks and exits need -- and then sleeps in
// sigtimedwait. The timeout bounds the wait should a SIGCHLD go astray.
bool PtraceTree::wait_for_events(std::chrono::steady_clock::time_point last_stop) {
  const sigset_t chld = sigchld_set();
  sigset_t pending;
  spin_until([&] { return ::sigpending(&pending) == 0 && sigismember(&pending, SIGCHLD); }, last_stop);
  static const timespec kMaxSleep{0, 20 * 1000 * 1000};
  return ::sigtimedwait(&chld, nullptr, &kMaxSleep) == SIGCHLD;
}

// Secret opens the notifier holds: each thread is ours already, so it is
// only interrupted.
void PtraceTree::take_open_requests() {
  if (open_watches.empty_queue()) return;
  for (OpenRequest& r : open_watches.take()) {
    const uint64_t id = r.id;
    const pid_t tid = r.tid;
    OpenWatches::Watch unwatched{.open = r.open, .write = r.write};
    if (open_watches.start(std::move(r), false, 0)) continue;
    const auto hold = locked.hold();
    notifier->unwatch(tid);
    notifier->continue_call(id);
    report_watched(sink, unwatched);
  }
}

Status PtraceTree::use_listener(UniqueFd listener) {
  tgid_of[main] = main;
  exit_peaks.follow(main);  // reported at its exec, not tracked as a fork
  if (listener) {
    notifier = std::make_unique<Notifier>(std::move(listener), locked, dns_sockets, options.notifier);
    // The tracer sleeps in sigtimedwait for SIGCHLD: one wakes it for the
    // request at once.
    notifier->watch_results([this](OpenRequest r) {
      open_watches.queue(std::move(r));
      ::kill(::getpid(), SIGCHLD);
    });
    notifier->read_exit_peaks(&exit_peaks);
  }
  log::debug("wrap", notifier ? "ptrace tree; opens answered by seccomp user notification"
                              : "ptrace tree; opens stop under ptrace (no seccomp listener)");
  return Ok{};
}

// Until the command's exec succeeds only the child exists.
Status PtraceTree::until_main_exec() {
  while (!main_exec_seen && !main_exited) {
    int status = 0;
    const pid_t tid = ::waitpid(main, &status, __WALL);
    if (tid < 0) {
      if (errno == EINTR) continue;
      return make_error(ErrorCode::kInternal, "waitpid: " + fs::errno_text(errno));
    }
    if (WIFEXITED(status) || WIFSIGNALED(status)) {
      main_exited = true;  // reaped: a setup failure
      break;
    }
    handle_stop(tid, status);
  }
  return Ok{};
}

Outcome PtraceTree::trace() {
  if (notifier) notifier->start();
  std::chrono::steady_clock::time_point deadline{};
  bool killed = false;
  auto last_stop = std::chrono::steady_clock::now();
  for (;;) {
    if (notifier) take_open_requests();
    int status = 0;
    const pid_t tid = ::waitpid(-1, &status, __WALL | WNOHANG);
    if (tid < 0) {
      if (errno == EINTR) continue;
      break;  // ECHILD: nothing traced is left
    }
    if (tid == 0) {
      if (main_exited) {
        // Only descendants the build left behind remain: give them the
        // linger time, then stop them, so `run` ends and no traced process
        // outlives its tracer.
        if (deadline == std::chrono::steady_clock::time_point{})
          deadline = std::chrono::steady_clock::now() + options.linger;
        if (!killed && std::chrono::steady_clock::now() >= deadline) {
          for (const auto& leader : processes) {
            ::kill(leader.first, SIGKILL);
            ++outcome.killed_after_linger;
          }
          killed = true;
        }
      }
      wait_for_events(last_stop);
      continue;
    }
    last_stop = std::chrono::steady_clock::now();
    if (WIFEXITED(status) || WIFSIGNALED(status)) {
      on_gone(tid, status);
      if (tid == main) deadline = std::chrono::steady_clock::now() + options.linger;
      continue;
    }
    if (WIFSTOPPED(status)) handle_stop(tid, status);
  }
  if (notifier) {
    notifier->stop();
    outcome.notifications = notifier->notifications();
  }
  return outcome;
}

}  // namespace

std::unique_ptr<Tree> ptrace_tree(capture::Sink& sink, const Options& options, pid_t main) {
  return std::make_unique<PtraceTree>(sink, options, main);
}

}  // namespace bt::agent::wrap
