#include "agent/capture/wrap/notifier.h"

#include <fcntl.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <vector>

#include "agent/capture/proc/procfs.h"
#include "agent/capture/wrap/listener_handoff.h"
#include "agent/capture/wrap/opens.h"
#include "agent/capture/wrap/seccomp_compat.h"
#include "common/clock.h"
#include "common/fs.h"
#include "common/log.h"

namespace bt::agent::wrap {

namespace {

// Interrupts the notifier's blocking NOTIF_RECV when it is told to stop.
int wake_signal() { return SIGRTMIN + 1; }
void on_wake_signal(int) {}

// recvfrom(fd, buf, len, flags, from, fromlen), recvmsg(fd, msg, flags),
// recvmmsg(fd, msgs, n, flags, timeout): the flags' argument.
int recv_flags(long nr, const uint64_t* a) { return static_cast<int>(nr == __NR_recvmsg ? a[2] : a[3]); }

}  // namespace

Notifier::Notifier(UniqueFd listener, LockedSink& sink, DnsSockets& dns, NotifierOptions options, ExecCall on_exec_call)
    : listener_(std::move(listener)),
      sink_(sink),
      dns_(dns),
      options_(options),
      on_exec_call_(std::move(on_exec_call)) {
  // The kernel's structs may have grown past our headers': ask their sizes.
  seccomp_notif_sizes sizes{};
  if (::syscall(SYS_seccomp, SECCOMP_GET_NOTIF_SIZES, 0, &sizes) == 0) {
    notif_size_ = sizes.seccomp_notif;
    resp_size_ = sizes.seccomp_notif_resp;
  }
  notif_size_ = std::max(notif_size_, sizeof(seccomp_notif));
  resp_size_ = std::max(resp_size_, sizeof(seccomp_notif_resp));
  // Older kernels lack the flag: notifications still work, only slower.
  if (::ioctl(listener_.get(), SECCOMP_IOCTL_NOTIF_SET_FLAGS, SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP) != 0)
    log::debug("wrap", "no synchronous wake-up for notifications (Linux < 6.6): each costs a CPU switch");
}

Notifier::~Notifier() { stop(); }

void Notifier::start() {
  if (thread_.joinable()) return;
  // No SA_RESTART: the signal makes a blocked NOTIF_RECV return EINTR.
  struct sigaction sa {};
  sa.sa_handler = on_wake_signal;
  sigemptyset(&sa.sa_mask);
  ::sigaction(wake_signal(), &sa, nullptr);
  thread_ = std::thread([this] {
    sigset_t wake;
    sigemptyset(&wake);
    sigaddset(&wake, wake_signal());
    ::pthread_sigmask(SIG_UNBLOCK, &wake, nullptr);
    serve();
    done_ = true;
  });
}

void Notifier::stop() {
  if (!thread_.joinable()) return;
  stopping_ = true;
  // Repeated: the first signal may land just before the thread blocks.
  while (!done_) {
    ::pthread_kill(thread_.native_handle(), wake_signal());
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  thread_.join();
  // A connect whose caller was killed may still be waiting for its peer.
  while (helper_threads_ > 0) {
    {
      std::lock_guard lock(connecting_mu_);
      for (int sock : connecting_) ::shutdown(sock, SHUT_RDWR);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

// Blocks in NOTIF_RECV itself rather than in poll(): one system call less
// per open, which is a tenth of a notification's cost.
void Notifier::serve() {
  std::vector<uint64_t> req_buf((notif_size_ + 7) / 8);
  auto* req = reinterpret_cast<seccomp_notif*>(req_buf.data());
  while (!stopping_) {
    std::memset(req, 0, notif_size_);  // the kernel rejects a dirty buffer
    if (::ioctl(listener_.get(), SECCOMP_IOCTL_NOTIF_RECV, req) == 0) {
      answer(*req);
      continue;
    }
    // EINTR: stop() or another signal. ENOENT: the caller was killed
    // before we took it, or (Linux 6.6+) no process uses the filter any
    // more: then there is nothing left to answer.
    if (errno == ENOENT && hung_up(listener_.get())) break;
    if (errno != EINTR && errno != ENOENT) {
      // Unexpected, but giving up would leave the build's opens waiting
      // for good: say it once and keep answering.
      if (!recv_failed_) log::error("wrap", "seccomp NOTIF_RECV: " + fs::errno_text(errno));
      recv_failed_ = true;
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  }
}

void Notifier::answer(const seccomp_notif& req) {
  ++notifications_;
  uint64_t args[6];
  std::memcpy(args, req.data.args, sizeof args);
  if (req.data.arch != kAuditArch || static_cast<uint32_t>(req.data.nr) >= kX32Bit) {
    ++foreign_abi_;
    return respond(req.id, 0, true);
  }
  switch (req.data.nr) {
    case __NR_connect:
      return answer_connect(req, args);
    case __NR_execve:
    case __NR_execveat:
      if (on_exec_call_) return on_exec_call_(req.id, static_cast<pid_t>(req.pid));
      return respond(req.id, 0, true);
    case __NR_process_vm_readv:
    case __NR_ptrace:
      return answer_process_access(req, args);
    case __NR_exit_group:
      return answer_exit_group(req);
    case __NR_recvfrom:
    case __NR_recvmsg:
    case __NR_recvmmsg:
      return answer_recv(req, args);
    default:
      for (const FileCall& call : kFileCalls)
        if (req.data.nr == call.nr) return answer_file_call(req, args);
      return answer_open(req, args);
  }
}

// A rename, unlink, chmod +x or truncate: reported, then it goes on.
void Notifier::answer_file_call(const seccomp_notif& req, const uint64_t* args) {
  const pid_t tid = static_cast<pid_t>(req.pid);
  auto change = read_file_call(tid, static_cast<long>(req.data.nr), args);
  procfs::TaskIds st;
  if (!change || !still_waiting(req.id) || !procfs::task_ids(tid, &st)) return respond(req.id, 0, true);
  change->pid = static_cast<uint64_t>(st.tgid);
  const auto hold = sink_.hold();
  respond(req.id, 0, true);
  sink_.inner().on(*change);
}

pid_t Notifier::process_of(pid_t tid) {
  procfs::TaskIds st;
  return procfs::task_ids(tid, &st) ? st.tgid : tid;
}

void Notifier::answer_process_access(const seccomp_notif& req, const uint64_t* args) {
  const pid_t tid = static_cast<pid_t>(req.pid);
  const bool is_ptrace = req.data.nr == __NR_ptrace;
  // Only an attach reaches another process's memory; other requests act
  // on tracees the caller already has.
  if (is_ptrace && args[0] != PTRACE_ATTACH && args[0] != PTRACE_SEIZE) return respond(req.id, 0, true);
  const capture::ProcessAccess access{clock::now_ns(), static_cast<uint64_t>(process_of(tid)),
                                      is_ptrace ? args[1] : args[0], is_ptrace ? "ptrace_attach" : "process_vm_readv",
                                      std::nullopt};  // enrichment reads the live target from /proc
  const auto hold = sink_.hold();
  respond(req.id, 0, true);
  sink_.inner().on(access);
}

// The caller still has its memory: its peak is read before it goes on.
void Notifier::answer_exit_group(const seccomp_notif& req) {
  if (exit_peaks_) exit_peaks_->at_exit_group(static_cast<pid_t>(req.pid), [&] { return still_waiting(req.id); });
  respond(req.id, 0, true);
}

void Notifier::answer_recv(const seccomp_notif& req, const uint64_t* args) {
  const pid_t tid = static_cast<pid_t>(req.pid);
  const long nr = static_cast<long>(req.data.nr);
  const int fd = static_cast<int>(args[0]);
  const pid_t pid = process_of(tid);
  std::string server;
  {
    const auto hold = sink_.hold();
    if (const std::string* s = dns_.server(pid, tid, fd)) server = *s;
  }
  // recvfrom names its sender, so any socket may turn out to be talking
  // to port 53; recvmsg/recvmmsg are followed on known DNS sockets only.
  if (server.empty() && nr != __NR_recvfrom) return respond(req.id, 0, true);
  bool leader = false;
  const int sock = sockets_.copy(tid, fd, &leader, [&] { return still_waiting(req.id); });
  if (sock < 0) return respond(req.id, 0, true);
  if (peek_dns(pid, sock, server)) {
    ::close(sock);
    return respond(req.id, 0, true);
  }
  // Nothing queued yet: a blocking call waits for the datagram it will
  // return, so we wait for it too, on a thread of its own.
  const int sock_flags = ::fcntl(sock, F_GETFL);
  if (sock_flags < 0 || (sock_flags & O_NONBLOCK) || (recv_flags(nr, args) & MSG_DONTWAIT)) {
    ::close(sock);
    return respond(req.id, 0, true);
  }
  ++helper_threads_;
  std::thread([this, id = req.id, pid, sock, server]() mutable {
    wait_then_peek(id, pid, sock, std::move(server));
    --helper_threads_;
  }).detach();
}

// Peeks the next datagram of `sock` (the build's socket): true when there
// was one (reported when it is a DNS answer), false when none is queued.
// `server`: the socket's DNS server, or empty (then the sender's port says).
bool Notifier::peek_dns(pid_t pid, int sock, const std::string& server) {
  std::vector<uint8_t> buf(kMaxDnsMessage);
  sockaddr_storage from{};
  socklen_t from_len = sizeof from;
  const ssize_t n =
      ::recvfrom(sock, buf.data(), buf.size(), MSG_PEEK | MSG_DONTWAIT, reinterpret_cast<sockaddr*>(&from), &from_len);
  if (n < 0) return errno != EAGAIN && errno != EWOULDBLOCK;
  std::string source = server;
  if (source.empty() && (from.ss_family == AF_INET || from.ss_family == AF_INET6)) {
    uint64_t port = 0;
    std::string addr = sockaddr_text(from, &port);
    if (port == kDnsPort) source = std::move(addr);
  }
  if (source.empty()) return true;
  auto d = dns_answer(std::span(buf.data(), static_cast<std::size_t>(n)), source);
  if (!d) return true;
  d->pid = static_cast<uint64_t>(pid);
  sink_.on(*d);
  return true;
}

void Notifier::wait_then_peek(uint64_t id, pid_t pid, int sock, std::string server) {
  // In slices, so a caller that gave up (a signal, a kill) frees us.
  while (!stopping_ && still_waiting(id)) {
    pollfd p{sock, POLLIN, 0};
    if (::poll(&p, 1, 100) == 1) {
      if (peek_dns(pid, sock, server)) break;
    }
  }
  ::close(sock);
  respond(id, 0, true);
}

// Only an id still valid after reading the caller's memory proves the
// bytes were its own: it may have died and its pid been reused meanwhile.
bool Notifier::still_waiting(uint64_t id) { return ::ioctl(listener_.get(), SECCOMP_IOCTL_NOTIF_ID_VALID, &id) == 0; }

// `error`: 0 or -errno, the call's result; `go_on`: let the kernel run the
// call instead. ENOENT: the caller is gone (killed while it waited).
void Notifier::respond(uint64_t id, int error, bool go_on) {
  std::vector<uint64_t> buf((resp_size_ + 7) / 8);
  auto* resp = reinterpret_cast<seccomp_notif_resp*>(buf.data());
  resp->id = id;
  resp->error = error;
  resp->flags = go_on ? SECCOMP_USER_NOTIF_FLAG_CONTINUE : 0;
  ::ioctl(listener_.get(), SECCOMP_IOCTL_NOTIF_SEND, resp);
}

void Notifier::unwatch(pid_t tid) {
  std::lock_guard lock(watching_mu_);
  if (watching_.erase(tid)) --watching_count_;
}

bool Notifier::watched(pid_t tid) {
  if (watching_count_.load(std::memory_order_relaxed) == 0) return false;
  std::lock_guard lock(watching_mu_);
  return watching_.count(tid) != 0;
}

void Notifier::answer_open(const seccomp_notif& req, const uint64_t* args) {
  const pid_t tid = static_cast<pid_t>(req.pid);
  // The open the tracer watches, restarted after its interrupt: it was
  // read and is reported at its exit.
  if (watched(tid)) return respond(req.id, 0, true);
  capture::FileWrite write;
  auto open = read_open(tid, static_cast<long>(req.data.nr), args, sink_, &write);
  const bool writes = !write.path.empty();
  procfs::TaskIds st;
  if ((!open && !writes) || !still_waiting(req.id) || !procfs::task_ids(tid, &st)) return respond(req.id, 0, true);
  if (open && on_open_call_) {
    open->pid = static_cast<uint64_t>(st.tgid);
    if (sink_.wants_result(*open)) {
      if (writes) write.pid = open->pid;
      {
        std::lock_guard lock(watching_mu_);
        if (watching_.insert(tid).second) ++watching_count_;
      }
      // The call waits (unanswered) until the tracer interrupts it.
      return on_open_call_(
          OpenRequest{req.id, tid, static_cast<long>(req.data.nr), std::move(*open), std::move(write)});
    }
  }
  // The caller goes on at once; holding the lock keeps whatever it does
  // next (exit...) from being reported before this open.
  const auto hold = sink_.hold();
  respond(req.id, 0, true);
  if (open) {
    open->pid = static_cast<uint64_t>(st.tgid);
    sink_.inner().on(*open);
  }
  if (writes) {
    write.pid = static_cast<uint64_t>(st.tgid);
    sink_.inner().on(write);
  }
}

void Notifier::answer_connect(const seccomp_notif& req, const uint64_t* args) {
  const pid_t tid = static_cast<pid_t>(req.pid);
  auto call = read_connect(tid, args);
  bool leader = false;
  // Proved the caller's before the connect: with a dead caller whose pid
  // was reused, it would be some other process's socket.
  const int sock = call ? sockets_.copy(tid, call->fd, &leader, [&] { return still_waiting(req.id); }) : -1;
  procfs::TaskIds st;
  st.tgid = tid;
  if (sock < 0 || (!leader && !procfs::task_ids(tid, &st))) {
    // Not ours to make (AF_UNIX, a bad address, a vanished caller): the
    // kernel makes it, with the errors it would give anyway.
    if (sock >= 0) ::close(sock);
    respond(req.id, 0, true);
    return;
  }
  call->connect.pid = static_cast<uint64_t>(st.tgid);
  call->connect.protocol = socket_protocol(sock);
  // Loopback first: it needs no system call, and such a connect is made
  // here whether it blocks or not.
  const auto blocking = [sock] {
    const int flags = ::fcntl(sock, F_GETFL);
    return flags >= 0 && !(flags & O_NONBLOCK);
  };
  if ((options_.loopback_connects_inline && is_loopback(call->addr)) || !blocking()) {
    connect_for(req.id, tid, std::move(*call), sock);
    return;
  }
  {
    std::lock_guard lock(connecting_mu_);
    connecting_.insert(sock);
  }
  ++helper_threads_;
  std::thread([this, id = req.id, tid, c = std::move(*call), sock]() mutable {
    connect_for(id, tid, std::move(c), sock);
    --helper_threads_;
  }).detach();
}

// Connects the caller's socket (our copy of it) where it asked, reports
// the connect and answers with the result.
void Notifier::connect_for(uint64_t id, pid_t tid, ConnectCall call, int sock) {
  int error = 0;
  while (::connect(sock, reinterpret_cast<const sockaddr*>(&call.addr), call.addr_len) != 0) {
    // A signal to us, not to the caller: go on waiting, unless we are
    // stopping (the caller is gone, killed while it waited).
    if (errno == EINTR && !stopping_) continue;
    error = -errno;
    break;
  }
  capture::Connect& c = call.connect;
  c.result = error == -EINPROGRESS ? 0 : error;
  {
    // The caller goes on at once; holding the lock keeps whatever it does
    // next from being reported before this connect.
    const auto hold = sink_.hold();
    // A UDP socket connected to port 53 is a resolver's: its traffic is
    // DNS. Registered before the caller can receive on it.
    if (c.protocol == "udp" && c.dport == kDnsPort && c.result == 0)
      dns_.add(static_cast<pid_t>(c.pid), tid, call.fd, c.daddr);
    respond(id, error, false);
    sink_.inner().on(c);
  }
  {
    std::lock_guard lock(connecting_mu_);
    connecting_.erase(sock);
  }
  ::close(sock);
}

}  // namespace bt::agent::wrap
