#include "agent/capture/wrap/exit_peaks.h"

#include <sys/syscall.h>
#include <unistd.h>

#include "agent/capture/proc/procfs.h"

namespace bt::agent::wrap {

void ExitPeaks::follow(pid_t pid) {
  std::lock_guard lock(mu_);
  peak_of_.emplace(pid, 0);
}

bool ExitPeaks::followed(pid_t pid) {
  std::lock_guard lock(mu_);
  return peak_of_.count(pid) != 0;
}

void ExitPeaks::at_exit_group(pid_t tid, const std::function<bool()>& still_waiting) {
  // Most exits are a followed process's first thread. Another thread (Go
  // exits from whichever runs main) needs status to name its process; a
  // process not followed (a subshell that never exec'd, not reported) is
  // skipped unread: tgkill(tid, tid, 0) succeeds only for a thread that
  // leads its group (EPERM, a setuid program's: read it to be sure).
  if (!followed(tid) && ::syscall(SYS_tgkill, tid, tid, 0) == 0) return;
  procfs::MemoryPeak m;
  if (!procfs::memory_peak(tid, &m) || !followed(m.tgid) || !still_waiting()) return;
  std::lock_guard lock(mu_);
  if (auto it = peak_of_.find(m.tgid); it != peak_of_.end()) it->second = m.peak_rss_bytes;
}

uint64_t ExitPeaks::take(pid_t pid) {
  std::lock_guard lock(mu_);
  const auto it = peak_of_.find(pid);
  if (it == peak_of_.end()) return 0;
  const uint64_t peak = it->second;
  peak_of_.erase(it);
  return peak;
}

}  // namespace bt::agent::wrap
