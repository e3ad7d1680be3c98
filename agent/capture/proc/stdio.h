// The standard descriptors of a live process, read from /proc at its exec
// (the wrap backend, at the exec stop: close-on-exec descriptors are gone).
#pragma once

#include <sys/types.h>

#include <array>

#include "agent/capture/observation.h"

namespace bt::agent::procfs {

// Descriptors 0, 1, 2 of `pid`: a stat of /proc/<pid>/fd/N each; a
// socket's peer, only for sockets, from a copy of it (pidfd_getfd and
// getpeername) or, where that is refused, /proc/<pid>/net by inode.
std::array<capture::StdioFd, 3> read_stdio(pid_t pid);

}  // namespace bt::agent::procfs
