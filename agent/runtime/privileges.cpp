#include "agent/runtime/privileges.h"

#include <linux/capability.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>

#include "common/fs.h"

namespace bt::agent::runtime {

namespace {

constexpr int kKept[] = {CAP_DAC_READ_SEARCH, CAP_SYS_PTRACE};

bool kept(int cap) {
  for (int k : kKept)
    if (k == cap) return true;
  return false;
}

int last_capability() {
  auto text = fs::read_file("/proc/sys/kernel/cap_last_cap", 64);
  return text ? std::atoi(text->c_str()) : CAP_LAST_CAP;
}

}  // namespace

Status drop_privileges() {
  const int last = last_capability();
  for (int cap = 0; cap <= last; ++cap)
    if (!kept(cap) && ::prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 && errno != EINVAL)
      return make_error(ErrorCode::kIo, "dropping capability " + std::to_string(cap) +
                                            " from the bounding set: " + fs::errno_text(errno));
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2] = {};
  for (int cap : kKept) {
    data[cap / 32].effective |= 1u << (cap % 32);
    data[cap / 32].permitted |= 1u << (cap % 32);
  }
  if (::syscall(SYS_capset, &header, data) != 0)
    return make_error(ErrorCode::kIo, "dropping capabilities: " + fs::errno_text(errno));
  if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
    return make_error(ErrorCode::kIo, "setting no_new_privs: " + fs::errno_text(errno));
  return Ok{};
}

std::string effective_capabilities() {
  auto text = fs::read_file("/proc/self/status", 1 << 16);
  if (!text) return {};
  const std::size_t at = text->find("CapEff:");
  if (at == std::string::npos) return {};
  const std::size_t start = text->find_first_not_of(" \t", at + 7);
  return text->substr(start, text->find('\n', start) - start);
}

}  // namespace bt::agent::runtime
