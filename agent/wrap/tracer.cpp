#include "agent/wrap/tracer.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <unordered_map>
#include <span>

#include "agent/dns/dns.h"
#include "agent/wrap/clock.h"
#include "agent/wrap/connects.h"
#include "agent/wrap/locked_observer.h"
#include "agent/wrap/notifier.h"
#include "agent/wrap/opens.h"
#include "agent/wrap/procfs.h"
#include "common/fs.h"
#include "common/log.h"

namespace bt::agent::wrap {

namespace {

#if defined(__x86_64__)
constexpr uint32_t kAuditArch = AUDIT_ARCH_X86_64;
#elif defined(__aarch64__)
constexpr uint32_t kAuditArch = AUDIT_ARCH_AARCH64;
#else
#error "buildtrail wrap: unsupported architecture"
#endif
constexpr long kX32Bit = 0x40000000;
// How long the tracer polls for the next stop before sleeping: the stops
// of one exec (fork, first stop, exec, SIGCHLD) or one connect come a few
// hundred microseconds apart, and a sleeping vCPU wakes through the
// hypervisor. It yields while it polls, so a busy build loses little CPU
// to it. On this VM, 100 us -> 1 ms took an exec storm from 1.45x to 1.3x
// and a connect storm from 1.52x to 1.31x.
constexpr auto kSpin = std::chrono::microseconds(1000);

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
constexpr std::size_t kMaxDnsMessage = 4096;
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

// `notify_action`: SECCOMP_RET_USER_NOTIF (opens and connects go to the
// notifier) or SECCOMP_RET_TRACE (they stop under ptrace like the rest).
std::vector<sock_filter> build_filter(uint32_t notify_action) {
  std::vector<sock_filter> f;
  auto stmt = [&](uint16_t code, uint32_t k) { f.push_back(BPF_STMT(code, k)); };
  auto jump = [&](uint16_t code, uint32_t k, uint8_t jt, uint8_t jf) {
    f.push_back(BPF_JUMP(code, k, jt, jf));
  };
  const uint32_t trace = SECCOMP_RET_TRACE;
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
  sock_fprog notify;  // opens to the notifier
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

// Hands the notification fd (or, with -1, the news that there is none) to
// the tracer before the exec closes it (it is close-on-exec): the build
// must never hold it, or it could answer its own notifications.
void send_listener(int sock, int listener) {
  char tag = listener >= 0 ? 'n' : 't';
  iovec iov{&tag, 1};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  if (listener >= 0) {
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    cmsghdr* c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    std::memcpy(CMSG_DATA(c), &listener, sizeof listener);
  }
  (void)!::sendmsg(sock, &msg, MSG_NOSIGNAL);
  if (listener >= 0) ::close(listener);
}

// The notification fd the child sent, or -1 (no listener: a filter with
// one already governs the agent, e.g. a nested `run`).
int receive_listener(int sock) {
  char tag = 0;
  iovec iov{&tag, 1};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  if (::recvmsg(sock, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC) != 1 || tag != 'n') return -1;
  cmsghdr* c = CMSG_FIRSTHDR(&msg);
  if (!c || c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) return -1;
  int fd = -1;
  std::memcpy(&fd, CMSG_DATA(c), sizeof fd);
  return fd;
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

bool is_stop_signal(int sig) {
  return sig == SIGSTOP || sig == SIGTSTP || sig == SIGTTIN || sig == SIGTTOU;
}

}  // namespace

struct Tracer::State {
  LockedObserver locked;         // the notifier's way in
  capture::Observer& observer;   // locked.inner(): call with locked.hold()
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

  explicit State(capture::Observer& o) : locked(o), observer(locked.inner()) {}

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
};

// Records `tid` as belonging to `tgid`; a thread group leader seen for the
// first time is reported as a new process (start time read once, here).
void Tracer::State::track(pid_t tid, pid_t tgid, pid_t ppid) {
  tgid_of[tid] = tgid;
  if (tgid != tid || processes.count(tid)) return;
  const uint64_t start_ns = procfs::start_time_ns(tid);
  processes[tid] = start_ns;
  observer.on_fork({wall_ns(), static_cast<uint64_t>(ppid), static_cast<uint64_t>(tid), start_ns});
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
  // A non-leader thread that execs takes over the thread group id; the
  // kernel reports the exec under the group id.
  unsigned long former = 0;
  ::ptrace(PTRACE_GETEVENTMSG, pid, 0, &former);
  if (former != static_cast<unsigned long>(pid)) tgid_of.erase(static_cast<pid_t>(former));
  capture::Exec e;
  e.time_ns = wall_ns();
  e.pid = static_cast<uint64_t>(pid);
  // What the new program could change as soon as it runs (its argv
  // memory, its cwd) is read while it is stopped, and nothing more: the
  // build waits for these reads.
  const std::string proc = "/proc/" + std::to_string(pid);
  e.exe = procfs::read_link(proc + "/exe");
  e.cwd = procfs::read_link(proc + "/cwd");
  e.argv = procfs::cmdline(pid);
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
  observer.on_exec(e);
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
  x.time_ns = wall_ns();
  x.pid = static_cast<uint64_t>(tid);
  if (WIFEXITED(status)) {
    x.exit_code = WEXITSTATUS(status);
  } else {
    x.exit_code = -1;
    x.signal = WTERMSIG(status);
  }
  if (processes.erase(tid) || tid == main) observer.on_exit(x);
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
  if (info.arch != kAuditArch || static_cast<long>(info.seccomp.nr) >= kX32Bit) {
    ++outcome.foreign_abi_syscalls;
    return PTRACE_CONT;
  }
  const uint64_t* a = info.seccomp.args;
  const long nr = static_cast<long>(info.seccomp.nr);
  if (auto open = read_open(tid, nr, a, observer)) {  // no notifier: opens stop here
    open->pid = static_cast<uint64_t>(process_of(tid));
    observer.on_open(*open);
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
      observer.on_process_access({wall_ns(), static_cast<uint64_t>(process_of(tid)), a[0],
                                  "process_vm_readv"});
      break;
    case __NR_ptrace:
      if (a[0] == PTRACE_ATTACH || a[0] == PTRACE_SEIZE)
        observer.on_process_access({wall_ns(), static_cast<uint64_t>(process_of(tid)), a[1],
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
  observer.on_connect(c);
  pending_connect.erase(it);
}

void Tracer::State::dns_payload(pid_t tid, std::span<const uint8_t> bytes, const std::string& server) {
  auto m = dns::parse(bytes);
  if (!m || !m->response) return;
  capture::Dns d;
  d.time_ns = wall_ns();
  d.pid = static_cast<uint64_t>(process_of(tid));
  d.name = std::move(m->name);
  d.qtype = std::move(m->qtype);
  d.server = server;
  d.rcode = std::move(m->rcode);
  d.answers = std::move(m->answers);
  d.addresses = std::move(m->addresses);
  observer.on_dns(d);
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

Tracer::Tracer(pid_t main_pid, std::unique_ptr<State> state)
    : main_pid_(main_pid), state_(std::move(state)) {}

Tracer::~Tracer() {
  if (state_ && state_->err_fd >= 0) ::close(state_->err_fd);
}

Result<std::unique_ptr<Tracer>> Tracer::start(const Options& options, capture::Observer& observer) {
  if (options.command.empty()) return make_error(ErrorCode::kInvalidArgument, "no command to run");
  std::vector<std::string> args = options.command;
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::vector<sock_filter> notify_filter = build_filter(SECCOMP_RET_USER_NOTIF);
  std::vector<sock_filter> trace_filter = build_filter(SECCOMP_RET_TRACE);
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
  auto state = std::make_unique<State>(observer);
  state->options = options;
  state->main = pid;
  state->err_fd = err[0];
  state->tgid_of[pid] = pid;
  state->processes[pid] = procfs::start_time_ns(pid);
  observer.on_fork({wall_ns(), static_cast<uint64_t>(::getpid()), static_cast<uint64_t>(pid),
                    state->processes[pid]});
  (void)!::write(go[1], "g", 1);
  ::close(go[1]);

  // Until the command's exec succeeds only the child exists: a failure
  // before it (no filter, no such program) is a setup error, not a build.
  while (!state->main_exec_seen) {
    int status = 0;
    const pid_t tid = ::waitpid(pid, &status, __WALL);
    if (tid < 0) {
      if (errno == EINTR) continue;
      return make_error(ErrorCode::kInternal, "waitpid: " + fs::errno_text(errno));
    }
    if (WIFEXITED(status) || WIFSIGNALED(status)) {
      ::close(listener_sock[0]);
      ChildError ce{-1, 0};
      const bool told = ::read(err[0], &ce, sizeof ce) == static_cast<ssize_t>(sizeof ce);
      ::close(err[0]);
      state->err_fd = -1;
      if (told && ce.stage == 0)
        return make_error(ErrorCode::kUnavailable,
                          "cannot install the seccomp filter: " + fs::errno_text(ce.err));
      if (told)
        return make_error(ErrorCode::kNotFound,
                          "cannot run '" + options.command[0] + "': " + fs::errno_text(ce.err));
      return make_error(ErrorCode::kInternal, "the build exited before it started");
    }
    state->handle_stop(tid, status);
  }
  // The child sent it before its exec, so it is there now.
  const int listener = receive_listener(listener_sock[0]);
  ::close(listener_sock[0]);
  if (listener >= 0)
    state->notifier = std::make_unique<Notifier>(listener, state->locked, state->dns_sockets, options.notifier);
  log::debug("wrap", listener < 0 ? "opens stop under ptrace (no seccomp listener)"
                     : state->notifier->sync_wake_up()
                         ? "opens answered by seccomp user notification (synchronous wake-up)"
                         : "opens answered by seccomp user notification (no synchronous wake-up: Linux < 6.6)");
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
  while (std::chrono::steady_clock::now() < last_stop + kSpin) {
    if (::sigpending(&pending) == 0 && sigismember(&pending, SIGCHLD)) break;
    ::sched_yield();  // the build's own work on this CPU comes first
  }
  static const timespec kMaxSleep{0, 20 * 1000 * 1000};
  return ::sigtimedwait(&chld, nullptr, &kMaxSleep) == SIGCHLD;
}

void block_sigchld() {
  const sigset_t chld = sigchld_set();
  ::pthread_sigmask(SIG_BLOCK, &chld, nullptr);
}

Outcome Tracer::trace() {
  State& s = *state_;
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
