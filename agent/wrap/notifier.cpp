#include "agent/wrap/notifier.h"

#include <linux/seccomp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <vector>

#include "agent/wrap/opens.h"
#include "agent/wrap/procfs.h"
#include "common/fs.h"
#include "common/log.h"

#ifndef SECCOMP_IOCTL_NOTIF_SET_FLAGS
#define SECCOMP_IOCTL_NOTIF_SET_FLAGS SECCOMP_IOW(4, __u64)
#endif
#ifndef SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP
#define SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP (1UL << 0)
#endif

namespace bt::agent::wrap {

namespace {

// Interrupts the notifier's blocking NOTIF_RECV when it is told to stop.
int wake_signal() { return SIGRTMIN + 1; }
void on_wake_signal(int) {}

bool hung_up(int listener) {
  pollfd p{listener, POLLIN, 0};
  return ::poll(&p, 1, 0) == 1 && (p.revents & (POLLHUP | POLLERR)) && !(p.revents & POLLIN);
}

}  // namespace

Notifier::Notifier(int listener, capture::Observer& observer) : listener_(listener), observer_(observer) {
  // The kernel's structs may have grown past our headers': ask their sizes.
  seccomp_notif_sizes sizes{};
  if (::syscall(SYS_seccomp, SECCOMP_GET_NOTIF_SIZES, 0, &sizes) == 0) {
    notif_size_ = sizes.seccomp_notif;
    resp_size_ = sizes.seccomp_notif_resp;
  }
  notif_size_ = std::max(notif_size_, sizeof(seccomp_notif));
  resp_size_ = std::max(resp_size_, sizeof(seccomp_notif_resp));
  resp_buf_.resize((resp_size_ + 7) / 8);
  // Older kernels lack the flag: notifications still work, only slower.
  sync_wake_up_ = ::ioctl(listener_, SECCOMP_IOCTL_NOTIF_SET_FLAGS, SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP) == 0;
}

Notifier::~Notifier() {
  stop();
  ::close(listener_);
}

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
}

// Blocks in NOTIF_RECV itself rather than in poll(): one system call less
// per open, which is a tenth of a notification's cost.
void Notifier::serve() {
  std::vector<uint64_t> req_buf((notif_size_ + 7) / 8);
  auto* req = reinterpret_cast<seccomp_notif*>(req_buf.data());
  while (!stopping_) {
    std::memset(req, 0, notif_size_);  // the kernel rejects a dirty buffer
    if (::ioctl(listener_, SECCOMP_IOCTL_NOTIF_RECV, req) == 0) {
      answer(*req);
      continue;
    }
    // EINTR: stop() or another signal. ENOENT: the caller was killed
    // before we took it, or (Linux 6.6+) no process uses the filter any
    // more: then there is nothing left to answer.
    if (errno == ENOENT && hung_up(listener_)) break;
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
  const pid_t tid = static_cast<pid_t>(req.pid);
  const long nr = static_cast<long>(req.data.nr);
  uint64_t args[6];
  std::memcpy(args, req.data.args, sizeof args);
  if (auto open = read_open(tid, nr, args, observer_)) {
    // Only an id still valid after the reads proves the path was this
    // caller's: it may have died and its pid been reused meanwhile.
    uint64_t id = req.id;
    procfs::Status st;
    if (::ioctl(listener_, SECCOMP_IOCTL_NOTIF_ID_VALID, &id) == 0 && procfs::status(tid, &st)) {
      open->pid = static_cast<uint64_t>(st.tgid);
      observer_.on_open(*open);
    }
  }
  auto* resp = reinterpret_cast<seccomp_notif_resp*>(resp_buf_.data());
  std::memset(resp, 0, resp_size_);
  resp->id = req.id;
  resp->flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
  // ENOENT: the caller is gone (killed while it waited); nothing to do.
  ::ioctl(listener_, SECCOMP_IOCTL_NOTIF_SEND, resp);
}

}  // namespace bt::agent::wrap
