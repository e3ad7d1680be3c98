// process_exit's peak RSS under `run`. Once a process has exited its
// memory is gone, and neither its pidfd nor /proc keeps a high-water mark,
// so the peak is read before: the filter sends exit_group to the notifier
// (or, without a listener, stops it under ptrace), and while the call
// waits the process still has its memory: /proc/<tid>/status VmHWM. The
// tree takes the value when it reports the exit. Only exit_group: a
// process whose last thread leaves by `exit` (every thread calling
// pthread_exit) or that a signal kills keeps 0 (unknown); sending every
// thread's `exit` here would make each thread's end pay a notification.
// VmHWM is the peak of the process's address space since its last exec
// (the daemon's kernel keeps the peak across exec too: signal->maxrss).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <mutex>
#include <unordered_map>

namespace bt::agent::wrap {

class ExitPeaks {
 public:
  // The tree's thread: `pid` is reported; its exit_group is to be read.
  void follow(pid_t pid);
  // The notifier's thread (or the ptrace tree's): thread `tid` called
  // exit_group and waits. `still_waiting` proves that what was read was
  // the caller's (its pid may have been reused meanwhile, were it killed).
  void at_exit_group(pid_t tid, const std::function<bool()>& still_waiting);
  // The tree's thread, at the exit's report: the peak in bytes, 0 when
  // unknown; `pid` is followed no more.
  uint64_t take(pid_t pid);

 private:
  bool followed(pid_t pid);

  std::mutex mu_;
  std::unordered_map<pid_t, uint64_t> peak_of_;  // followed processes -> peak read (0: none yet)
};

}  // namespace bt::agent::wrap
