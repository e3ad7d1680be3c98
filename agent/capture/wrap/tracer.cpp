#include "agent/capture/wrap/tracer.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ptrace.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <mutex>
#include <set>
#include <unordered_map>
#include <span>

#include "agent/capture/dns/dns.h"
#include "common/clock.h"
#include "agent/capture/wrap/connects.h"
#include "agent/capture/wrap/listener_handoff.h"
#include "agent/capture/wrap/locked_sink.h"
#include "agent/capture/wrap/notifier.h"
#include "agent/capture/wrap/opens.h"
#include "agent/capture/wrap/pidfd.h"
#include "agent/capture/proc/procfs.h"
#include "agent/capture/wrap/seccomp_compat.h"
#include "common/fs.h"
#include "common/log.h"

namespace bt::agent::wrap {

namespace {

// How long the tracer polls for the next stop before sleeping: the stops
// of one exec (fork, first stop, exec, SIGCHLD) or one connect come a few
// hundred microseconds apart, and a sleeping vCPU wakes through the
// hypervisor. It yields while it polls, so a busy build loses little CPU
// to it. On this VM, 100 us -> 1 ms took an exec storm from 1.45x to 1.3x
// and a connect storm from 1.52x to 1.31x.
constexpr auto kSpin = std::chrono::microseconds(1000);

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

// The system calls that stop the tracee besides the opens (kOpenCalls) and
// connect, which go to the notifier when the kernel allows it. Everything
// else runs at full speed: execs, forks and exits are ptrace events.
constexpr long kTracedSyscalls[] = {
    __NR_process_vm_readv, __NR_ptrace,
    // DNS answers (a response carries its question too): recvmsg and
    // recvmmsg; recvfrom only with a source address (the filter checks), as
    // resolvers call it -- a TCP stream's recv() passes none and never stops.
    __NR_recvmsg, __NR_recvmmsg,
};
constexpr std::size_t kMaxDnsBatch = 8;  // messages of one recvmmsg read

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

// Where each system call of interest goes. The detached tree sends all of
// them to the notifier, execs included (no process stays ptraced, and
// SECCOMP_RET_TRACE without a tracer fails the call); the ptrace tree sends
// opens and connects to the notifier (`opens` = SECCOMP_RET_USER_NOTIF) or,
// without a listener, everything to ptrace.
struct FilterPlan {
  uint32_t opens;   // opens and connect
  uint32_t others;  // recv*, process_vm_readv, ptrace, other ABIs
  bool execs;       // execve/execveat to the notifier too
};

std::vector<sock_filter> build_filter(FilterPlan plan) {
  const uint32_t notify_action = plan.opens;
  std::vector<sock_filter> f;
  auto stmt = [&](uint16_t code, uint32_t k) { f.push_back(BPF_STMT(code, k)); };
  auto jump = [&](uint16_t code, uint32_t k, uint8_t jt, uint8_t jf) {
    f.push_back(BPF_JUMP(code, k, jt, jf));
  };
  const uint32_t trace = plan.others;
  // A syscall of another ABI (int 0x80, x32) is stopped too, so it cannot
  // be used to open a secret unseen; the tracer counts it.
  stmt(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, arch));
  jump(BPF_JMP | BPF_JEQ | BPF_K, kAuditArch, 1, 0);
  stmt(BPF_RET | BPF_K, trace);
  stmt(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr));
  jump(BPF_JMP | BPF_JGE | BPF_K, kX32Bit, 0, 1);
  stmt(BPF_RET | BPF_K, trace);
  for (const OpenCall& call : kOpenCalls) {
    if (call.flags_arg < 0) {
      jump(BPF_JMP | BPF_JEQ | BPF_K, static_cast<uint32_t>(call.nr), 0, 1);
      stmt(BPF_RET | BPF_K, notify_action);
      continue;
    }
    // flags & O_DIRECTORY: a directory, never a credential file; let it run.
    jump(BPF_JMP | BPF_JEQ | BPF_K, static_cast<uint32_t>(call.nr), 0, 4);
    stmt(BPF_LD | BPF_W | BPF_ABS,
         static_cast<uint32_t>(offsetof(seccomp_data, args) + 8 * static_cast<unsigned>(call.flags_arg)));
    jump(BPF_JMP | BPF_JSET | BPF_K, O_DIRECTORY, 0, 1);
    stmt(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
    stmt(BPF_RET | BPF_K, notify_action);
  }
  jump(BPF_JMP | BPF_JEQ | BPF_K, __NR_connect, 0, 1);
  stmt(BPF_RET | BPF_K, notify_action);
  if (plan.execs) {
    for (long nr : {__NR_execve, __NR_execveat}) {
      jump(BPF_JMP | BPF_JEQ | BPF_K, static_cast<uint32_t>(nr), 0, 1);
      stmt(BPF_RET | BPF_K, SECCOMP_RET_USER_NOTIF);
    }
  }
  for (long nr : kTracedSyscalls) {
    jump(BPF_JMP | BPF_JEQ | BPF_K, static_cast<uint32_t>(nr), 0, 1);
    stmt(BPF_RET | BPF_K, trace);
  }
  // recvfrom with a non-null src_addr (args[4], both 32-bit halves).
  jump(BPF_JMP | BPF_JEQ | BPF_K, __NR_recvfrom, 0, 5);
  stmt(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, args[4]));
  jump(BPF_JMP | BPF_JEQ | BPF_K, 0, 0, 2);
  stmt(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, args[4]) + 4);
  jump(BPF_JMP | BPF_JEQ | BPF_K, 0, 1, 0);
  stmt(BPF_RET | BPF_K, trace);
  stmt(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
  return f;
}

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

// Root may keep setuid programs working (no no_new_privs); anyone else
// needs no_new_privs to install a filter. Returns the seccomp() result.
int install_filter(sock_fprog* prog, unsigned flags) {
  int rc = -1;
  if (::geteuid() == 0) rc = static_cast<int>(::syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, prog));
  if (rc < 0) {
    ::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
    rc = static_cast<int>(::syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, prog));
  }
  return rc;
}

[[noreturn]] void child_main(int go_fd, int err_fd, int listener_sock, std::vector<char*>& argv,
                             Filters* filters) {
  char go = 0;
  while (::read(go_fd, &go, 1) < 0 && errno == EINTR) {
  }
  if (go != 'g') ::_exit(126);  // the tracer gave up
  unblock_sigchld();  // the tracer blocks it; the build must not inherit that
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

// At an exec stop: the program, its argv and cwd -- what the new program
// could change as soon as it runs is read while it is stopped, and nothing
// more, since the build waits for these reads. `former`: the thread that
// called exec (a non-leader takes over the group id, which the kernel
// reports the exec under).
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
  return e;
}

// Parent and uid of a process stopped at its exec: from its pidfd (one
// ioctl), or from /proc without one (out of file descriptors?).
std::optional<pidfd::Identity> identity_of(pid_t pid, int pidfd) {
  if (auto id = pidfd::identity(pidfd)) return id;
  procfs::Status st;
  if (!procfs::status(pid, &st)) return std::nullopt;
  return pidfd::Identity{st.ppid, st.uid};
}

bool is_stop_signal(int sig) {
  return sig == SIGSTOP || sig == SIGTSTP || sig == SIGTTIN || sig == SIGTTOU;
}

}  // namespace

struct Tracer::State {
  LockedSink locked;         // the notifier's way in
  capture::Sink& sink;   // locked.inner(): call with locked.hold()
  std::unique_ptr<Notifier> notifier;  // null: opens stop under ptrace
  Options options;
  pid_t main = -1;
  int err_fd = -1;
  bool main_exec_seen = false;
  bool main_exited = false;
  Outcome outcome;
  std::unordered_map<pid_t, pid_t> tgid_of;      // every traced task -> its process
  std::unordered_map<pid_t, uint64_t> processes;  // leaders alive -> start ns since boot
  struct PendingConnect {
    capture::Connect connect;
    int fd;
  };
  std::unordered_map<pid_t, PendingConnect> pending_connect;  // by tid
  DnsSockets dns_sockets;  // shared with the notifier: use under locked.hold()
  struct PendingRecv {
    long nr;
    int fd;
    uint64_t buf;   // recvfrom: buffer; recvmsg/recvmmsg: the message header(s)
    uint64_t from;  // recvfrom: the source address buffer
  };
  std::unordered_map<pid_t, PendingRecv> pending_recv;  // by tid
  std::atomic<int> forwarded{0};

  // The detached tree (see tracer.h): processes are attached only from
  // their exec call to their exec stop, and watched through pidfds after.
  bool detached = false;
  struct ExecRequest {
    uint64_t id;
    pid_t tid;
  };
  std::mutex exec_mu;
  std::vector<ExecRequest> exec_requests;  // from the notifier thread
  int wake_fd = -1;    // eventfd: exec requests are queued
  int signal_fd = -1;  // SIGCHLD
  int epoll_fd = -1;
  std::set<pid_t> seized;                         // threads attached for an exec
  std::unordered_map<pid_t, int> pidfd_of;        // reported processes, watched
  std::unordered_map<pid_t, uint64_t> exited_at;  // exited, not reaped yet: when
  std::set<pid_t> killed;                         // at the linger deadline
  std::chrono::steady_clock::time_point last_kill{};
  std::chrono::steady_clock::time_point last_event{};
  const pid_t self = ::getpid();  // the build's reaper
  bool children_left = true;      // until a wait says ECHILD
  std::chrono::steady_clock::time_point last_reap{};

  explicit State(capture::Sink& o) : locked(o), sink(locked.inner()) {}
  ~State();

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
  void resume(pid_t tid, int request, int sig = 0) {
    ::ptrace(static_cast<__ptrace_request>(request), tid, 0, sig);
  }

  // The detached tree.
  bool set_up_detached();
  void queue_exec(uint64_t id, pid_t tid);  // any thread
  bool step_detached(int timeout_ms);       // false: nothing traced is left
  void take_exec_requests();
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
};

Tracer::State::~State() {
  for (int fd : {wake_fd, signal_fd, epoll_fd})
    if (fd >= 0) ::close(fd);
  for (const auto& [pid, fd] : pidfd_of) ::close(fd);
}

// Records `tid` as belonging to `tgid`; a thread group leader seen for the
// first time is reported as a new process (start time read once, here).
void Tracer::State::track(pid_t tid, pid_t tgid, pid_t ppid) {
  tgid_of[tid] = tgid;
  if (tgid != tid || processes.count(tid)) return;
  const uint64_t start_ns = procfs::start_time_ns(tid);
  processes[tid] = start_ns;
  sink.on(capture::Fork{clock::now_ns(), static_cast<uint64_t>(ppid), static_cast<uint64_t>(tid), start_ns});
}

pid_t Tracer::State::process_of(pid_t tid) {
  if (auto it = tgid_of.find(tid); it != tgid_of.end()) return it->second;
  procfs::Status st;
  if (!procfs::status(tid, &st)) st.tgid = tid;
  track(tid, st.tgid, st.ppid);
  return st.tgid;
}

void Tracer::State::on_new_task(pid_t tid, pid_t parent_tid, int event) {
  if (tgid_of.count(tid)) return;  // its own first stop came first
  // fork and vfork make a process, a child of the caller's (CLONE_PARENT
  // aside, which only clone() passes); clone may make a thread.
  if (event != PTRACE_EVENT_CLONE) return track(tid, tid, process_of(parent_tid));
  procfs::Status st;
  if (!procfs::status(tid, &st)) {
    st.tgid = tid;
    st.ppid = process_of(parent_tid);
  }
  track(tid, st.tgid, st.ppid);
}

void Tracer::State::on_exec(pid_t pid) {
  pid_t former = pid;
  capture::Exec e = read_exec_stop(pid, &former);
  if (former != pid) tgid_of.erase(former);
  resume(pid, PTRACE_CONT);
  // The rest runs beside the program: its parent and real uid (the
  // program would have to call setuid() within microseconds to be seen
  // with its next uid), then enrichment (digests, redaction).
  procfs::Status st;
  if (procfs::status(pid, &st)) {
    e.ppid = static_cast<uint64_t>(st.ppid);
    e.uid = st.uid;
  }
  track(pid, pid, st.ppid);
  e.start_ns = processes[pid];  // exec keeps the start time, even a thread's
  if (pid == main) main_exec_seen = true;
  sink.on(e);
}

void Tracer::State::on_gone(pid_t tid, int status) {
  const auto hold = locked.hold();
  auto it = tgid_of.find(tid);
  const pid_t tgid = it == tgid_of.end() ? tid : it->second;
  if (it != tgid_of.end()) tgid_of.erase(it);
  pending_connect.erase(tid);
  pending_recv.erase(tid);
  if (tgid != tid) return;  // a thread
  dns_sockets.forget(tid);
  capture::Exit x;
  x.time_ns = clock::now_ns();
  x.pid = static_cast<uint64_t>(tid);
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

void Tracer::State::on_connect(pid_t tid, const uint64_t* args, bool* want_exit) {
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

int Tracer::State::on_seccomp(pid_t tid) {
  __ptrace_syscall_info info{};
  if (::ptrace(PTRACE_GET_SYSCALL_INFO, tid, sizeof info, &info) <= 0 ||
      info.op != PTRACE_SYSCALL_INFO_SECCOMP)
    return PTRACE_CONT;
  if (info.arch != kAuditArch || info.seccomp.nr >= kX32Bit) {
    ++outcome.foreign_abi_syscalls;
    return PTRACE_CONT;
  }
  const uint64_t* a = info.seccomp.args;
  const long nr = static_cast<long>(info.seccomp.nr);
  if (auto open = read_open(tid, nr, a, sink)) {  // no notifier: opens stop here
    open->pid = static_cast<uint64_t>(process_of(tid));
    sink.on(*open);
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
      sink.on(capture::ProcessAccess{clock::now_ns(), static_cast<uint64_t>(process_of(tid)), a[0],
                                  "process_vm_readv"});
      break;
    case __NR_ptrace:
      if (a[0] == PTRACE_ATTACH || a[0] == PTRACE_SEIZE)
        sink.on(capture::ProcessAccess{clock::now_ns(), static_cast<uint64_t>(process_of(tid)), a[1],
                                    "ptrace_attach"});
      break;
    default: break;
  }
  return PTRACE_CONT;
}

void Tracer::State::on_syscall_exit(pid_t tid) {
  __ptrace_syscall_info info{};
  const bool have = ::ptrace(PTRACE_GET_SYSCALL_INFO, tid, sizeof info, &info) > 0 &&
                    info.op == PTRACE_SYSCALL_INFO_EXIT;
  const int64_t rval = have ? info.exit.rval : -ENOSYS;
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

void Tracer::State::dns_payload(pid_t tid, std::span<const uint8_t> bytes, const std::string& server) {
  auto d = dns_answer(bytes, server);
  if (!d) return;
  d->pid = static_cast<uint64_t>(process_of(tid));
  sink.on(*d);
}

bool Tracer::State::on_dns_recv(pid_t tid, long nr, const uint64_t* a) {
  const int fd = static_cast<int>(a[0]);
  // recvfrom names its source, so any socket may turn out to be talking
  // to port 53; recvmsg/recvmmsg are followed on known DNS sockets only.
  if (nr != __NR_recvfrom && !dns_sockets.server(process_of(tid), tid, fd)) return false;
  pending_recv[tid] = {nr, fd, a[1], nr == __NR_recvfrom ? a[4] : 0};
  return true;
}

void Tracer::State::dns_received(pid_t tid, const PendingRecv& r, int64_t rval) {
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

void Tracer::State::handle_stop(pid_t tid, int status) {
  const auto hold = locked.hold();
  const int sig = WSTOPSIG(status);
  const int event = static_cast<unsigned>(status) >> 16;
  if (!tgid_of.count(tid)) process_of(tid);
  if (sig == (SIGTRAP | 0x80)) {
    on_syscall_exit(tid);
    resume(tid, PTRACE_CONT);
    return;
  }
  switch (event) {
    case PTRACE_EVENT_SECCOMP: resume(tid, on_seccomp(tid)); return;
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
      if (is_stop_signal(sig)) resume(tid, PTRACE_LISTEN);
      else resume(tid, PTRACE_CONT);
      return;
    default:
      // A signal on its way to the tracee: deliver it.
      resume(tid, PTRACE_CONT, sig == SIGTRAP && event ? 0 : sig);
      return;
  }
}


// --- The detached tree ---------------------------------------------------
// A process is ptraced only from its exec call (notified) to its exec stop,
// where the program it runs is read exactly as in the ptrace tree; then it
// is detached and watched through a pidfd, whose exit status the kernel
// keeps once its parent reaps it. The agent is the build's subreaper, so
// orphans come to us to be reaped, and "no child left" means the build's
// whole tree is gone.

namespace {
constexpr uint64_t kWakeTag = 1ull << 32;
constexpr uint64_t kSignalTag = 2ull << 32;
constexpr uint64_t kPidfdTag = 3ull << 32;
constexpr long kSeizeOptions = PTRACE_O_TRACEEXEC | PTRACE_O_TRACESYSGOOD;

}  // namespace

bool Tracer::State::set_up_detached() {
  const sigset_t chld = sigchld_set();
  wake_fd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  signal_fd = ::signalfd(-1, &chld, SFD_NONBLOCK | SFD_CLOEXEC);
  epoll_fd = ::epoll_create1(EPOLL_CLOEXEC);
  if (wake_fd < 0 || signal_fd < 0 || epoll_fd < 0) return false;
  epoll_event wake{EPOLLIN, {.u64 = kWakeTag}};
  epoll_event sig{EPOLLIN, {.u64 = kSignalTag}};
  return ::epoll_ctl(epoll_fd, EPOLL_CTL_ADD, wake_fd, &wake) == 0 &&
         ::epoll_ctl(epoll_fd, EPOLL_CTL_ADD, signal_fd, &sig) == 0;
}

void Tracer::State::queue_exec(uint64_t id, pid_t tid) {
  {
    std::lock_guard lock(exec_mu);
    exec_requests.push_back({id, tid});
  }
  const uint64_t one = 1;
  (void)!::write(wake_fd, &one, sizeof one);
}

// Attaches to each thread calling exec before its call goes on, so its exec
// stop is ours; a thread already attached (its last exec failed) stays so.
void Tracer::State::take_exec_requests() {
  uint64_t count = 0;
  (void)!::read(wake_fd, &count, sizeof count);
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

bool Tracer::State::step_detached(int timeout_ms) {
  epoll_event events[16];
  // As in the ptrace tree, poll a while before sleeping: an exec's call
  // and its stop come a few hundred microseconds apart (see kSpin).
  int n = 0;
  spin_until([&] { return (n = ::epoll_wait(epoll_fd, events, 16, 0)) != 0; }, last_event);
  if (n == 0) n = ::epoll_wait(epoll_fd, events, 16, timeout_ms);
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
      while (::read(signal_fd, infos, sizeof infos) == static_cast<ssize_t>(sizeof infos)) {
      }
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
bool Tracer::State::reap() {
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

void Tracer::State::on_detached_stop(pid_t tid, int status) {
  const int sig = WSTOPSIG(status);
  const int event = static_cast<unsigned>(status) >> 16;
  if (event == PTRACE_EVENT_EXEC) return on_detached_exec(tid);
  if (event == PTRACE_EVENT_STOP) return resume(tid, is_stop_signal(sig) ? PTRACE_LISTEN : PTRACE_CONT);
  // A signal on its way to a thread attached for its exec: deliver it.
  resume(tid, PTRACE_CONT, sig == (SIGTRAP | 0x80) || (sig == SIGTRAP && event) ? 0 : sig);
}

void Tracer::State::on_detached_exec(pid_t pid) {
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
std::vector<capture::Fork> Tracer::State::new_lineage(pid_t pid, pid_t ppid) {
  std::vector<capture::Fork> forks;
  if (processes.count(pid)) return forks;
  std::vector<std::pair<pid_t, pid_t>> chain;  // (child, parent), nearest first
  pid_t child = pid, parent = ppid;
  for (;;) {
    chain.emplace_back(child, parent);
    if (parent <= 1 || parent == self || processes.count(parent) || chain.size() >= 64) break;
    procfs::Status up;
    if (!procfs::status(parent, &up)) break;
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

void Tracer::State::watch(pid_t pid, int fd) {
  pidfd_of[pid] = fd;
  epoll_event ev{EPOLLIN, {.u64 = kPidfdTag | static_cast<uint32_t>(pid)}};
  ::epoll_ctl(epoll_fd, EPOLL_CTL_ADD, fd, &ev);
}

void Tracer::State::on_pidfd_ready(pid_t pid) {
  const auto it = pidfd_of.find(pid);
  if (it == pidfd_of.end()) return;
  ::epoll_ctl(epoll_fd, EPOLL_CTL_DEL, it->second, nullptr);
  // Its status comes once its parent reaps it; until then, remember when.
  exited_at.emplace(pid, clock::now_ns());
}

void Tracer::State::retry_exited() {
  for (auto it = exited_at.begin(); it != exited_at.end();) {
    const pid_t pid = it->first;
    const uint64_t when = it->second;
    const auto fd = pidfd_of.find(pid);
    const auto status = fd == pidfd_of.end() ? std::nullopt : pidfd::exit_status(fd->second);
    ++it;
    if (status) report_exit(pid, *status, when);
  }
}

void Tracer::State::report_exit(pid_t pid, int status, uint64_t time_ns) {
  const auto hold = locked.hold();
  if (auto it = exited_at.find(pid); it != exited_at.end()) {
    time_ns = std::min(time_ns, it->second);
    exited_at.erase(it);
  }
  if (auto it = pidfd_of.find(pid); it != pidfd_of.end()) {
    ::epoll_ctl(epoll_fd, EPOLL_CTL_DEL, it->second, nullptr);
    ::close(it->second);
    pidfd_of.erase(it);
  }
  dns_sockets.forget(pid);
  if (!processes.erase(pid)) return;  // reported already
  capture::Exit x;
  x.time_ns = time_ns;
  x.pid = static_cast<uint64_t>(pid);
  x.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  x.signal = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
  sink.on(x);
}

// At the linger deadline: every process we know of, and every child of
// ours (orphans, exec'd or not), until none is left.
void Tracer::State::kill_leftovers() {
  const auto now = std::chrono::steady_clock::now();
  if (now - last_kill < std::chrono::milliseconds(20)) return;
  last_kill = now;
  for (const auto& [pid, fd] : pidfd_of)
    if (!exited_at.count(pid) && pidfd::send_signal(fd, SIGKILL) == 0) killed.insert(pid);
  for (const pid_t pid : procfs::children_of(self))
    if (::kill(pid, SIGKILL) == 0) killed.insert(pid);
}

// Nothing is left: whatever exited and was reaped has its status now.
void Tracer::State::finish_detached() {
  retry_exited();
  std::vector<pid_t> left;
  for (const auto& [pid, fd] : pidfd_of) left.push_back(pid);
  // Unreaped still: its status is unknown (neither exited nor signalled).
  constexpr int kUnknownStatus = 0x7f;
  for (const pid_t pid : left)
    report_exit(pid, pidfd::exit_status(pidfd_of[pid]).value_or(kUnknownStatus), clock::now_ns());
}

Tracer::Tracer(pid_t main_pid, std::unique_ptr<State> state)
    : main_pid_(main_pid), state_(std::move(state)) {}

Tracer::~Tracer() {
  if (state_ && state_->err_fd >= 0) ::close(state_->err_fd);
}

Result<std::unique_ptr<Tracer>> Tracer::start(const Options& options, capture::Sink& sink) {
  if (options.command.empty()) return make_error(ErrorCode::kInvalidArgument, "no command to run");
  std::vector<std::string> args = options.command;
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  const bool want_detached = !options.ptrace_tree && pidfd::exit_status_supported();
  std::vector<sock_filter> notify_filter =
      want_detached ? build_filter({SECCOMP_RET_USER_NOTIF, SECCOMP_RET_USER_NOTIF, true})
                    : build_filter({SECCOMP_RET_USER_NOTIF, SECCOMP_RET_TRACE, false});
  std::vector<sock_filter> trace_filter = build_filter({SECCOMP_RET_TRACE, SECCOMP_RET_TRACE, false});
  Filters filters{{static_cast<unsigned short>(notify_filter.size()), notify_filter.data()},
                  {static_cast<unsigned short>(trace_filter.size()), trace_filter.data()}};

  block_sigchld();  // trace() waits on SIGCHLD: keep it pending for this thread
  int go[2], err[2], listener_sock[2];
  if (::pipe2(go, O_CLOEXEC) != 0 || ::pipe2(err, O_CLOEXEC) != 0 ||
      ::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, listener_sock) != 0)
    return make_error(ErrorCode::kIo, "pipe: " + fs::errno_text(errno));
  const pid_t pid = ::fork();
  if (pid < 0) return make_error(ErrorCode::kIo, "fork: " + fs::errno_text(errno));
  if (pid == 0) {
    ::close(go[1]);
    ::close(err[0]);
    ::close(listener_sock[0]);
    child_main(go[0], err[1], listener_sock[1], argv, &filters);
  }
  ::close(go[0]);
  ::close(err[1]);
  ::close(listener_sock[1]);
  const long opts = PTRACE_O_TRACESECCOMP | PTRACE_O_TRACEFORK | PTRACE_O_TRACEVFORK |
                    PTRACE_O_TRACECLONE | PTRACE_O_TRACEEXEC | PTRACE_O_TRACESYSGOOD |
                    PTRACE_O_EXITKILL;
  if (::ptrace(PTRACE_SEIZE, pid, 0, opts) != 0) {
    const int e = errno;
    ::close(go[1]);  // the child exits without running anything
    ::waitpid(pid, nullptr, 0);
    ::close(err[0]);
    ::close(listener_sock[0]);
    return make_error(ErrorCode::kUnavailable,
                      "cannot trace the build (ptrace: " + fs::errno_text(e) +
                          "); a container may need the default seccomp profile of Docker >= 19.03 "
                          "or CAP_SYS_PTRACE");
  }
  auto state = std::make_unique<State>(sink);
  state->options = options;
  state->main = pid;
  state->err_fd = err[0];
  state->tgid_of[pid] = pid;
  state->processes[pid] = procfs::start_time_ns(pid);
  sink.on(capture::Fork{clock::now_ns(), static_cast<uint64_t>(::getpid()), static_cast<uint64_t>(pid),
                    state->processes[pid]});
  (void)!::write(go[1], "g", 1);
  ::close(go[1]);

  // The child sends its listener (or word that it has none) before its exec.
  const int listener = receive_listener(listener_sock[0]);
  ::close(listener_sock[0]);
  if (listener == kListenerLost) {
    ::kill(pid, SIGKILL);
    while (::waitpid(pid, nullptr, __WALL) < 0 && errno == EINTR) {
    }
    ::close(err[0]);
    return make_error(ErrorCode::kUnavailable,
                      "cannot set up capture: the seccomp listener did not arrive (out of file descriptors?)");
  }
  State& st = *state;
  st.detached = want_detached && listener >= 0;
  if (listener >= 0) {
    ExecCall to_tracer = nullptr;
    if (st.detached) to_tracer = [&st](uint64_t id, pid_t tid) { st.queue_exec(id, tid); };
    st.notifier = std::make_unique<Notifier>(listener, st.locked, st.dns_sockets, options.notifier, to_tracer);
  }
  if (st.detached) {
    if (!st.set_up_detached()) return make_error(ErrorCode::kIo, "epoll: " + fs::errno_text(errno));
    // Orphans of the build come to us: we reap them, and know when the
    // whole tree is gone.
    ::prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
    st.seized.insert(pid);
    st.notifier->start();  // the command's own exec waits for it
  }

  // Until the command's exec succeeds only the child exists: a failure
  // before it (no filter, no such program) is a setup error, not a build.
  while (!st.main_exec_seen && !st.main_exited) {
    if (st.detached) {
      st.step_detached(100);
      continue;
    }
    int status = 0;
    const pid_t tid = ::waitpid(pid, &status, __WALL);
    if (tid < 0) {
      if (errno == EINTR) continue;
      return make_error(ErrorCode::kInternal, "waitpid: " + fs::errno_text(errno));
    }
    if (WIFEXITED(status) || WIFSIGNALED(status)) break;
    st.handle_stop(tid, status);
  }
  if (!st.main_exec_seen) {
    if (st.notifier) st.notifier->stop();
    ChildError ce{-1, 0};
    const bool told = ::read(err[0], &ce, sizeof ce) == static_cast<ssize_t>(sizeof ce);
    ::close(err[0]);
    st.err_fd = -1;
    if (told && ce.stage == 0)
      return make_error(ErrorCode::kUnavailable, "cannot install the seccomp filter: " + fs::errno_text(ce.err));
    if (told)
      return make_error(ErrorCode::kNotFound,
                        "cannot run '" + options.command[0] + "': " + fs::errno_text(ce.err));
    return make_error(ErrorCode::kInternal, "the build exited before it started");
  }
  log::debug("wrap", st.detached ? "detached tree: execs and every other call by seccomp user notification"
                     : listener < 0 ? "ptrace tree; opens stop under ptrace (no seccomp listener)"
                                    : "ptrace tree; opens answered by seccomp user notification");
  return std::unique_ptr<Tracer>(new Tracer(pid, std::move(state)));
}

// Waits for the next tracee event. Every ptrace stop and exit also sends
// SIGCHLD, which run() keeps blocked in all of the agent's threads, so it
// stays pending: for kSpin after the last stop the tracer polls it with
// sigpending() -- cheap, unlike polling waitpid, which takes the tasklist
// lock that the build's forks and exits need -- and then sleeps in
// sigtimedwait. The timeout bounds the wait should a SIGCHLD go astray.
bool Tracer::State::wait_for_events(std::chrono::steady_clock::time_point last_stop) {
  const sigset_t chld = sigchld_set();
  sigset_t pending;
  spin_until([&] { return ::sigpending(&pending) == 0 && sigismember(&pending, SIGCHLD); }, last_stop);
  static const timespec kMaxSleep{0, 20 * 1000 * 1000};
  return ::sigtimedwait(&chld, nullptr, &kMaxSleep) == SIGCHLD;
}

void block_sigchld() {
  const sigset_t chld = sigchld_set();
  ::pthread_sigmask(SIG_BLOCK, &chld, nullptr);
}

Outcome Tracer::trace() {
  State& s = *state_;
  if (s.detached) return trace_detached();
  if (s.notifier) s.notifier->start();
  std::chrono::steady_clock::time_point deadline{};
  bool killed = false;
  auto last_stop = std::chrono::steady_clock::now();
  for (;;) {
    int status = 0;
    const pid_t tid = ::waitpid(-1, &status, __WALL | WNOHANG);
    if (tid < 0) {
      if (errno == EINTR) continue;
      break;  // ECHILD: nothing traced is left
    }
    if (tid == 0) {
      if (s.main_exited) {
        // Only descendants the build left behind remain: give them the
        // linger time, then stop them, so `run` ends and no traced process
        // outlives its tracer.
        if (deadline == std::chrono::steady_clock::time_point{})
          deadline = std::chrono::steady_clock::now() + s.options.linger;
        if (!killed && std::chrono::steady_clock::now() >= deadline) {
          for (const auto& leader : s.processes) {
            ::kill(leader.first, SIGKILL);
            ++s.outcome.killed_after_linger;
          }
          killed = true;
        }
      }
      s.wait_for_events(last_stop);
      continue;
    }
    last_stop = std::chrono::steady_clock::now();
    if (WIFEXITED(status) || WIFSIGNALED(status)) {
      s.on_gone(tid, status);
      if (tid == main_pid_) deadline = std::chrono::steady_clock::now() + s.options.linger;
      continue;
    }
    if (WIFSTOPPED(status)) s.handle_stop(tid, status);
  }
  if (s.notifier) {
    s.notifier->stop();
    s.outcome.notifications = s.notifier->notifications();
  }
  return s.outcome;
}

Outcome Tracer::trace_detached() {
  State& s = *state_;
  std::chrono::steady_clock::time_point deadline{};
  for (;;) {
    int timeout_ms = s.exited_at.empty() ? 1000 : 5;
    if (s.main_exited) {
      // Descendants the build left behind get the linger time, then are
      // killed, so `run` ends and none outlives its notifier.
      const auto now = std::chrono::steady_clock::now();
      if (deadline == std::chrono::steady_clock::time_point{}) deadline = now + s.options.linger;
      if (now >= deadline) {
        s.kill_leftovers();
        timeout_ms = std::min(timeout_ms, 20);
      } else {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now).count() + 1;
        timeout_ms = std::min<int>(timeout_ms, static_cast<int>(left));
      }
    }
    if (!s.step_detached(timeout_ms) && s.main_exited) break;
  }
  s.finish_detached();
  s.outcome.killed_after_linger = s.killed.size();
  s.notifier->stop();
  s.outcome.notifications = s.notifier->notifications();
  s.outcome.foreign_abi_syscalls = s.notifier->foreign_abi_calls();
  return s.outcome;
}

void Tracer::forward_signal(int sig) {
  if (!state_->main_exited) ::kill(main_pid_, sig);
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
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  Outcome o;
  if (WIFEXITED(status)) o.exit_code = WEXITSTATUS(status);
  else {
    o.exit_code = -1;
    o.signal = WTERMSIG(status);
  }
  return o;
}

}  // namespace bt::agent::wrap
