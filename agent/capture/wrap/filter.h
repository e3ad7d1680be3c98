// The seccomp filter the wrap backend installs in the build: which system
// calls go to the notifier (seccomp user notification), which stop under
// ptrace (SECCOMP_RET_TRACE), and which run untouched -- everything else.
#pragma once

#include <linux/filter.h>

#include <cstdint>
#include <vector>

namespace bt::agent::wrap {

// Where each system call of interest goes. The detached tree sends all of
// them to the notifier, execs included (no process stays ptraced, and
// SECCOMP_RET_TRACE without a tracer fails the call); the ptrace tree sends
// opens and connects to the notifier (`opens` = SECCOMP_RET_USER_NOTIF) or,
// without a listener, everything to ptrace.
struct FilterPlan {
  uint32_t opens;   // opens, connect and exit_group
  uint32_t others;  // recv*, process_vm_readv, ptrace, other ABIs
  bool execs;       // execve/execveat to the notifier too
};

std::vector<sock_filter> build_filter(FilterPlan plan);

// Installs `prog` in the calling process (flags: SECCOMP_FILTER_FLAG_*).
// Root may keep setuid programs working (no no_new_privs); anyone else
// needs no_new_privs to install a filter. Returns the seccomp() result: a
// listener fd with SECCOMP_FILTER_FLAG_NEW_LISTENER, else 0; -1 on error.
int install_filter(sock_fprog* prog, unsigned flags);

}  // namespace bt::agent::wrap
