// Seccomp user-notification names newer than Debian 12's kernel headers
// (Linux 6.6: the synchronous wake-up mode), and the ABI our filter decodes.
#pragma once

#include <linux/audit.h>
#include <linux/seccomp.h>

#include <cstdint>

namespace bt::agent::wrap {
#if defined(__x86_64__)
inline constexpr uint32_t kAuditArch = AUDIT_ARCH_X86_64;
#elif defined(__aarch64__)
inline constexpr uint32_t kAuditArch = AUDIT_ARCH_AARCH64;
#else
#error "buildtrail wrap: unsupported architecture"
#endif
// System call numbers from here up are x32's: another ABI.
inline constexpr uint64_t kX32Bit = 0x40000000;
}  // namespace bt::agent::wrap

#ifndef SECCOMP_IOCTL_NOTIF_SET_FLAGS
#define SECCOMP_IOCTL_NOTIF_SET_FLAGS SECCOMP_IOW(4, __u64)
#endif
#ifndef SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP
#define SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP (1UL << 0)
#endif
