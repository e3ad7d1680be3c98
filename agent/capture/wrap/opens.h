// The open-family system calls as the wrap backend sees them: from the
// raw arguments of a stopped or notifying thread to an `Open` observation.
// Shared by the user-notification path (agent/capture/wrap/notifier) and
// the ptrace tree (agent/capture/wrap/ptrace_tree).
#pragma once

#include <sys/syscall.h>
#include <sys/types.h>

#include <cstdint>
#include <optional>

#include "agent/capture/observation.h"

namespace bt::agent::wrap {

#ifndef __NR_openat2
#define __NR_openat2 437
#endif

// The system calls that open a file by path, and which argument holds the
// open flags (-1: none, or in memory), so the seccomp filter can let
// O_DIRECTORY opens through: a directory is never a credential file.
struct OpenCall {
  long nr;
  int flags_arg;
};
inline constexpr OpenCall kOpenCalls[] = {
#ifdef __NR_open
    {__NR_open, 1},
#endif
#ifdef __NR_creat
    {__NR_creat, -1},
#endif
    {__NR_openat, 2},
    {__NR_openat2, -1},
};

// The open `nr` called by thread `tid` with `args`, resolved to an absolute
// path, when the sink wants its last path component; nullopt otherwise
// (most opens: one small read of the tracee's memory, nothing more). The
// result's pid is left 0: the caller knows the thread's process.
std::optional<capture::Open> read_open(pid_t tid, long nr, const uint64_t* args, const capture::Sink& sink);

}  // namespace bt::agent::wrap
