// Opens and connects answered by seccomp user notification instead of
// ptrace: the build's call waits in the kernel for this thread.
//  - An open: the thread reads the path, reports the opens a secret rule
//    may care about and lets the call go on (SECCOMP_USER_NOTIF_FLAG_CONTINUE).
//  - An IPv4/IPv6 connect: the thread makes the call itself, on a copy of
//    the build's socket (pidfd_getfd: the same socket), and answers with
//    its result, so the destination recorded is the one connected to and
//    the result is known without a second stop. A blocking connect to
//    another host goes to a thread of its own, so a slow peer holds up
//    only its caller. Other families (AF_UNIX, whose peer sees the
//    caller's credentials) go on unchanged.
// With the detached tree (agent/capture/wrap/tracer), every system call of
// interest comes here, since no process stays ptraced:
//  - An exec goes to the tracer (`on_exec_call`), which attaches to the
//    caller for its exec stop and answers for it (continue_call()).
//  - process_vm_readv and ptrace are reported and go on.
//  - A receive on a DNS socket (and any recvfrom that asks for the sender)
//    is peeked on a copy of the socket before it goes on, so the answer
//    recorded is the datagram the call is about to return.
//  - A system call of another ABI (32-bit, x32) is counted and goes on.
//  - An exit_group: the process's peak RSS is read (ExitPeaks) while it
//    still has its memory, then it goes on.
// With the listener in synchronous wake-up mode (Linux 6.6+) the kernel
// switches from the build's thread to ours and back on the same CPU, which
// makes a notification several times cheaper than a ptrace stop: see
// docs/architecture.md.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include "agent/capture/observation.h"
#include "agent/capture/wrap/connects.h"
#include "agent/capture/wrap/exit_peaks.h"
#include "agent/capture/wrap/locked_sink.h"
#include "common/unique_fd.h"

struct seccomp_notif;  // <linux/seccomp.h>

namespace bt::agent::wrap {

struct NotifierOptions {
  // Blocking connects to loopback are made on the notifier's own thread
  // (they finish at once); false sends them to a thread of their own like
  // any other blocking connect (tests use it to cover that path).
  bool loopback_connects_inline = true;
};

// An exec to attach to before it goes on: its notification id and thread.
using ExecCall = std::function<void(uint64_t id, pid_t tid)>;

// An open a secret rule matched, whose result the tracer is to watch
// (OpenWatches in tree.h): the notification, the call, what it opens.
struct OpenRequest {
  uint64_t id = 0;
  pid_t tid = 0;
  long nr = 0;
  capture::Open open;        // pid set
  capture::FileWrite write;  // path empty: not a write
};
using OpenRequestCall = std::function<void(OpenRequest)>;

class Notifier {
 public:
  // Owns `listener`, the notification fd of the build's filter. Reports go
  // through `sink`; `dns` is the tracer's, used under the same lock.
  // `on_exec_call`: where execs go (the detached tree); null when the
  // filter does not send them here.
  Notifier(UniqueFd listener, LockedSink& sink, DnsSockets& dns, NotifierOptions options,
           ExecCall on_exec_call = nullptr);
  ~Notifier();
  Notifier(const Notifier&) = delete;
  Notifier& operator=(const Notifier&) = delete;

  // Starts answering on a thread of its own; notifications that arrived
  // before wait in the kernel.
  void start();
  // Stops answering (every traced process is gone by then), aborts
  // connects still in progress for callers that were killed, and joins.
  void stop();

  uint64_t notifications() const { return notifications_; }
  uint64_t foreign_abi_calls() const { return foreign_abi_; }
  // Any thread: lets the call `id` go on (an exec, once attached to).
  void continue_call(uint64_t id) { respond(id, 0, true); }
  // Before start(): opens the sink wants_result() of go to `on_open_call`
  // instead of going on; the thread is then watched until unwatch(), and
  // its opens meanwhile (the call restarted) go on unreported.
  void watch_results(OpenRequestCall on_open_call) { on_open_call_ = std::move(on_open_call); }
  // Any thread: the watched thread's open has its result.
  void unwatch(pid_t tid);
  // Before start(): where exit_groups' peak RSS goes (the tree's).
  void read_exit_peaks(ExitPeaks* peaks) { exit_peaks_ = peaks; }

 private:
  void serve();
  void answer(const ::seccomp_notif& req);
  void answer_open(const ::seccomp_notif& req, const uint64_t* args);
  void answer_file_call(const ::seccomp_notif& req, const uint64_t* args);
  void answer_connect(const ::seccomp_notif& req, const uint64_t* args);
  void connect_for(uint64_t id, pid_t tid, ConnectCall call, int sock);
  void answer_process_access(const ::seccomp_notif& req, const uint64_t* args);
  void answer_recv(const ::seccomp_notif& req, const uint64_t* args);
  void answer_exit_group(const ::seccomp_notif& req);
  bool peek_dns(pid_t pid, int sock, const std::string& server);
  void wait_then_peek(uint64_t id, pid_t pid, int sock, std::string server);
  pid_t process_of(pid_t tid);
  void respond(uint64_t id, int error, bool go_on);
  bool still_waiting(uint64_t id);
  bool watched(pid_t tid);

  UniqueFd listener_;
  LockedSink& sink_;
  DnsSockets& dns_;
  NotifierOptions options_;
  ExecCall on_exec_call_;
  OpenRequestCall on_open_call_;
  ExitPeaks* exit_peaks_ = nullptr;
  std::mutex watching_mu_;
  std::set<pid_t> watching_;
  std::atomic<int> watching_count_{0};  // read without the lock on every open
  std::atomic<uint64_t> foreign_abi_{0};
  std::atomic<bool> stopping_{false};
  std::atomic<bool> done_{false};
  bool recv_failed_ = false;
  uint64_t notifications_ = 0;
  std::size_t notif_size_ = 0;
  std::size_t resp_size_ = 0;
  std::thread thread_;
  SocketCopier sockets_;  // used on the notifier thread only
  // Blocking connects (and receives waited for) in progress on threads of
  // their own: the connects' sockets (so stop() can abort them) and their number.
  std::mutex connecting_mu_;
  std::set<int> connecting_;
  std::atomic<int> helper_threads_{0};
};

}  // namespace bt::agent::wrap
