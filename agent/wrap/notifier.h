// Opens answered by seccomp user notification instead of ptrace: the
// build's open calls wait in the kernel for this thread, which reads the
// path, reports the opens a secret rule may care about and lets the call
// go on (SECCOMP_USER_NOTIF_FLAG_CONTINUE). With the listener in
// synchronous wake-up mode (Linux 6.6+) the kernel switches from the
// build's thread to ours and back on the same CPU, which makes a stopped
// open several times cheaper than a ptrace stop: see docs/architecture.md.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <thread>
#include <vector>

#include "agent/capture/observation.h"

struct seccomp_notif;  // <linux/seccomp.h>

namespace bt::agent::wrap {

class Notifier {
 public:
  // Owns `listener`, the notification fd of the build's filter. `observer`
  // must be safe to call from another thread (LockedObserver).
  Notifier(int listener, capture::Observer& observer);
  ~Notifier();
  Notifier(const Notifier&) = delete;
  Notifier& operator=(const Notifier&) = delete;

  // Starts answering on a thread of its own; notifications that arrived
  // before wait in the kernel.
  void start();
  // Stops answering (every traced process is gone by then) and joins.
  void stop();

  bool sync_wake_up() const { return sync_wake_up_; }
  uint64_t notifications() const { return notifications_; }

 private:
  void serve();
  void answer(const ::seccomp_notif& req);

  int listener_;
  capture::Observer& observer_;
  std::atomic<bool> stopping_{false};
  std::atomic<bool> done_{false};
  bool recv_failed_ = false;
  bool sync_wake_up_ = false;
  uint64_t notifications_ = 0;
  std::size_t notif_size_ = 0;
  std::size_t resp_size_ = 0;
  std::vector<uint64_t> resp_buf_;
  std::thread thread_;
};

}  // namespace bt::agent::wrap
