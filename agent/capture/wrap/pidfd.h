// Process file descriptors, for the detached tree (agent/capture/wrap/tracer): a
// process the tracer only met at its exec is watched through a pidfd, and
// its exit status read from it once its parent has reaped it (Linux 6.15+,
// PIDFD_INFO_EXIT), so no process of the build has to stay ptraced.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>

namespace bt::agent::wrap::pidfd {

// A pidfd for process `pid` (a thread group leader), or with `thread` for
// any thread (PIDFD_THREAD, Linux 6.9+); -1 on error.
int open(pid_t pid, bool thread = false);
// The wait status of the process behind `fd` once it has been reaped;
// nullopt while it runs or is a zombie, or on a kernel without it.
std::optional<int> exit_status(int fd);
// The parent (its thread group id) and real uid of the live process behind
// `fd`: one ioctl where /proc/<pid>/status costs four system calls, on the
// path an exec waits on. nullopt once it is gone.
struct Identity {
  pid_t ppid = 0;
  uint64_t uid = 0;
};
std::optional<Identity> identity(int fd);
// Whether this kernel reports exit statuses through pidfds: probed once,
// by reaping a child of our own.
bool exit_status_supported();
int send_signal(int fd, int sig);

}  // namespace bt::agent::wrap::pidfd
