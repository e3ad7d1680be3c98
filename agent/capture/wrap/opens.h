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
// `write`, when not null, gets the call as a file write when it opens for
// writing (O_WRONLY, O_RDWR, O_CREAT, O_TRUNC; creat): every such open is
// resolved, for exec provenance (`write->pid` left 0 too; a write that
// could not be read leaves `write->path` empty).
std::optional<capture::Open> read_open(pid_t tid, long nr, const uint64_t* args, const capture::Sink& sink,
                                       capture::FileWrite* write = nullptr);

// The system calls that change a file by name or descriptor, besides the
// opens: each goes to the notifier (the ptrace tree: stops); `mode_arg`
// >= 0 names the mode argument of a chmod, which the seccomp filter lets
// through unless the mode has an execute bit.
struct FileCall {
  long nr;
  int mode_arg;
};
inline constexpr FileCall kFileCalls[] = {
#ifdef __NR_rename
    {__NR_rename, -1},
#endif
    {__NR_renameat, -1}, {__NR_renameat2, -1},
#ifdef __NR_unlink
    {__NR_unlink, -1},
#endif
    {__NR_unlinkat, -1},
#ifdef __NR_chmod
    {__NR_chmod, 1},
#endif
    {__NR_fchmod, 1},    {__NR_fchmodat, 2},   {452 /* fchmodat2 */, 2}, {__NR_truncate, -1},
};

// One of kFileCalls made by thread `tid`, resolved to absolute paths;
// nullopt for another call, an unreadable path, an unlink of a directory
// (AT_REMOVEDIR) or a chmod without an execute bit. Called before the
// call runs: it may still fail. The pid is left 0.
std::optional<capture::FileWrite> read_file_call(pid_t tid, long nr, const uint64_t* args);

}  // namespace bt::agent::wrap
