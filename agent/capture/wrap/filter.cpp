#include "agent/capture/wrap/filter.h"

#include <fcntl.h>
#include <linux/seccomp.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstddef>

#include "agent/capture/wrap/opens.h"
#include "agent/capture/wrap/seccomp_compat.h"

namespace bt::agent::wrap {

namespace {

// The system calls that stop the tracee besides the opens (kOpenCalls),
// connect and exit_group, which go to the notifier when the kernel allows
// it. Everything else runs at full speed: execs, forks and exits are
// ptrace events.
constexpr long kTracedSyscalls[] = {
    __NR_process_vm_readv,
    __NR_ptrace,
    // DNS answers (a response carries its question too): recvmsg and
    // recvmmsg; recvfrom only with a source address (the filter checks), as
    // resolvers call it -- a TCP stream's recv() passes none and never stops.
    __NR_recvmsg,
    __NR_recvmmsg,
};

}  // namespace

std::vector<sock_filter> build_filter(FilterPlan plan) {
  const uint32_t notify_action = plan.opens;
  std::vector<sock_filter> f;
  auto stmt = [&](uint16_t code, uint32_t k) { f.push_back(BPF_STMT(code, k)); };
  auto jump = [&](uint16_t code, uint32_t k, uint8_t jt, uint8_t jf) { f.push_back(BPF_JUMP(code, k, jt, jf)); };
  const uint32_t trace = plan.others;
  // `nr` goes to `action`; with `arg` >= 0, only when a bit of `mask` is
  // set in that argument (`when_set`), or none is; otherwise it runs.
  auto send_when = [&](long nr, int arg, uint32_t mask, bool when_set, uint32_t action) {
    if (arg < 0) {
      jump(BPF_JMP | BPF_JEQ | BPF_K, static_cast<uint32_t>(nr), 0, 1);
      stmt(BPF_RET | BPF_K, action);
      return;
    }
    jump(BPF_JMP | BPF_JEQ | BPF_K, static_cast<uint32_t>(nr), 0, 4);
    stmt(BPF_LD | BPF_W | BPF_ABS,
         static_cast<uint32_t>(offsetof(seccomp_data, args) + 8 * static_cast<unsigned>(arg)));
    jump(BPF_JMP | BPF_JSET | BPF_K, mask, when_set ? 1 : 0, when_set ? 0 : 1);
    stmt(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
    stmt(BPF_RET | BPF_K, action);
  };
  // A syscall of another ABI (int 0x80, x32) is stopped too, so it cannot
  // be used to open a secret unseen; the tracer counts it.
  stmt(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, arch));
  jump(BPF_JMP | BPF_JEQ | BPF_K, kAuditArch, 1, 0);
  stmt(BPF_RET | BPF_K, trace);
  stmt(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr));
  jump(BPF_JMP | BPF_JGE | BPF_K, kX32Bit, 0, 1);
  stmt(BPF_RET | BPF_K, trace);
  // A directory (O_DIRECTORY) is never a credential file; let it run.
  for (const OpenCall& call : kOpenCalls) send_when(call.nr, call.flags_arg, O_DIRECTORY, false, notify_action);
  send_when(__NR_connect, -1, 0, false, notify_action);
  // The peak RSS of process_exit, read while the process still has its
  // memory (exit_peaks.h).
  send_when(__NR_exit_group, -1, 0, false, notify_action);
  // File changes (file_write, exec provenance); a chmod only when the new
  // mode has an execute bit.
  for (const FileCall& call : kFileCalls) send_when(call.nr, call.mode_arg, 0111, true, notify_action);
  if (plan.execs)
    for (long nr : {__NR_execve, __NR_execveat}) send_when(nr, -1, 0, false, SECCOMP_RET_USER_NOTIF);
  for (long nr : kTracedSyscalls) send_when(nr, -1, 0, false, trace);
  // recvfrom with a non-null src_addr (args[4], both 32-bit halves).
  jump(BPF_JMP | BPF_JEQ | BPF_K, __NR_recvfrom, 0, 5);
  stmt(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, args[4]));
  jump(BPF_JMP | BPF_JEQ | BPF_K, 0, 0, 2);
  stmt(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, args[4]) + 4);
  jump(BPF_JMP | BPF_JEQ | BPF_K, 0, 1, 0);
  stmt(BPF_RET | BPF_K, trace);
  stmt(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
  return f;
}

int install_filter(sock_fprog* prog, unsigned flags) {
  int rc = -1;
  if (::geteuid() == 0) rc = static_cast<int>(::syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, prog));
  if (rc < 0) {
    ::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
    rc = static_cast<int>(::syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, prog));
  }
  return rc;
}

}  // namespace bt::agent::wrap
