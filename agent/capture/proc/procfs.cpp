#include "agent/capture/proc/procfs.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>

namespace bt::agent::procfs {

namespace {

std::string proc(pid_t pid, const char* file) { return "/proc/" + std::to_string(pid) + "/" + file; }

bool read_file(const std::string& path, std::string* out, std::size_t max) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  out->clear();
  char buf[4096];
  while (out->size() < max) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    out->append(buf, static_cast<std::size_t>(n));
    // The files read here (cmdline, and status and stat, one seq_file record
    // each) fill a read as far as they have bytes: a short one was the last,
    // and the read that would say so is a system call an exec waits on.
    // Not so for multi-record files (maps, mountinfo): not for those.
    if (static_cast<std::size_t>(n) < sizeof buf) break;
  }
  ::close(fd);
  if (out->size() > max) out->resize(max);
  return true;
}

}  // namespace

std::string read_link(const std::string& path) {
  char buf[4096];
  const ssize_t n = ::readlink(path.c_str(), buf, sizeof buf);
  if (n <= 0 || static_cast<std::size_t>(n) >= sizeof buf) return {};
  return std::string(buf, static_cast<std::size_t>(n));
}

std::vector<std::string> cmdline(pid_t pid) {
  std::string raw;
  std::vector<std::string> out;
  // Bounded like the kernel's ARG_MAX-scale argv; longer ones are cut.
  if (!read_file(proc(pid, "cmdline"), &raw, 1 << 20)) return out;
  std::size_t pos = 0;
  while (pos < raw.size()) {
    std::size_t end = raw.find('\0', pos);
    if (end == std::string::npos) end = raw.size();
    out.emplace_back(raw, pos, end - pos);
    pos = end + 1;
  }
  return out;
}

namespace {

// The value after "\nName:" in /proc/<tid>/status text; null when absent.
const char* status_field(const std::string& text, const char* name) {
  const std::size_t at = text.find(std::string("\n") + name);
  return at == std::string::npos ? nullptr : text.c_str() + at + 1 + std::strlen(name);
}

}  // namespace

bool task_ids(pid_t tid, TaskIds* out) {
  std::string text;
  if (!read_file(proc(tid, "status"), &text, 8192)) return false;
  const char* tgid = status_field(text, "Tgid:");
  const char* ppid = status_field(text, "PPid:");
  const char* uid = status_field(text, "Uid:");
  if (!tgid || !ppid || !uid) return false;
  out->tgid = static_cast<pid_t>(std::strtol(tgid, nullptr, 10));
  out->ppid = static_cast<pid_t>(std::strtol(ppid, nullptr, 10));
  out->uid = std::strtoull(uid, nullptr, 10);
  return true;
}

bool memory_peak(pid_t tid, MemoryPeak* out) {
  std::string text;
  if (!read_file(proc(tid, "status"), &text, 8192)) return false;
  const char* tgid = status_field(text, "Tgid:");
  const char* hwm = status_field(text, "VmHWM:");  // in kB; absent for a kernel thread or a zombie
  if (!tgid || !hwm) return false;
  out->tgid = static_cast<pid_t>(std::strtol(tgid, nullptr, 10));
  out->peak_rss_bytes = std::strtoull(hwm, nullptr, 10) * 1024;
  return true;
}

uint64_t start_time_ns(pid_t pid) {
  std::string text;
  if (!read_file(proc(pid, "stat"), &text, 4096)) return 0;
  // comm may hold spaces and parentheses: fields restart after the last ')'.
  std::size_t pos = text.rfind(')');
  if (pos == std::string::npos) return 0;
  // Field 3 (state) is the first after ')'; starttime is field 22.
  const char* p = text.c_str() + pos + 1;
  for (int field = 3; field < 22 && *p; ++field) {
    while (*p == ' ') ++p;
    while (*p && *p != ' ') ++p;
  }
  static const long ticks = ::sysconf(_SC_CLK_TCK);
  return std::strtoull(p, nullptr, 10) * (1000000000ull / static_cast<uint64_t>(ticks > 0 ? ticks : 100));
}

bool cpu_times(pid_t pid, CpuTimes* out) {
  std::string text;
  if (!read_file(proc(pid, "stat"), &text, 4096)) return false;
  std::size_t pos = text.rfind(')');
  if (pos == std::string::npos) return false;
  // Field 3 (state) is the first after ')'; utime and stime are 14 and 15.
  const char* p = text.c_str() + pos + 1;
  for (int field = 3; field < 14 && *p; ++field) {
    while (*p == ' ') ++p;
    while (*p && *p != ' ') ++p;
  }
  char* end = nullptr;
  const uint64_t utime = std::strtoull(p, &end, 10);
  if (end == p) return false;
  const uint64_t stime = std::strtoull(end, nullptr, 10);
  static const long ticks = ::sysconf(_SC_CLK_TCK);
  const uint64_t tick_ns = 1000000000ull / static_cast<uint64_t>(ticks > 0 ? ticks : 100);
  out->user_ns = utime * tick_ns;
  out->system_ns = stime * tick_ns;
  return true;
}

std::vector<pid_t> children_of(pid_t pid) {
  std::vector<pid_t> children;
  DIR* proc = ::opendir("/proc");
  if (!proc) return children;
  while (const dirent* d = ::readdir(proc)) {
    char* end = nullptr;
    const long candidate = std::strtol(d->d_name, &end, 10);
    if (candidate <= 0 || *end != '\0') continue;
    TaskIds st;
    if (task_ids(static_cast<pid_t>(candidate), &st) && st.tgid == candidate && st.ppid == pid)
      children.push_back(static_cast<pid_t>(candidate));
  }
  ::closedir(proc);
  return children;
}

bool read_memory(pid_t pid, uint64_t addr, void* buf, std::size_t len) {
  iovec local{buf, len};
  iovec remote{reinterpret_cast<void*>(addr), len};
  return ::process_vm_readv(pid, &local, 1, &remote, 1, 0) == static_cast<ssize_t>(len);
}

bool read_string(pid_t pid, uint64_t addr, std::size_t max, std::string* out) {
  out->clear();
  if (addr == 0) return false;
  static const std::size_t page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
  char buf[4096];
  // Most paths are short: the first read is small, later ones go on to the
  // page's end.
  std::size_t want = 256;
  while (out->size() < max) {
    const std::size_t to_page_end = page - (addr % page);
    const std::size_t chunk = std::min<std::size_t>({to_page_end, want, max - out->size()});
    want = sizeof buf;
    if (!read_memory(pid, addr, buf, chunk)) return false;
    const void* nul = std::memchr(buf, '\0', chunk);
    if (nul) {
      out->append(buf, static_cast<std::size_t>(static_cast<const char*>(nul) - buf));
      return true;
    }
    out->append(buf, chunk);
    addr += chunk;
  }
  return true;  // cut at max
}

std::string join_path(const std::string& base, const std::string& rel) {
  const std::string full = (!rel.empty() && rel[0] == '/') ? rel : base + "/" + rel;
  std::vector<std::string_view> parts;
  std::size_t pos = 0;
  while (pos <= full.size()) {
    std::size_t end = full.find('/', pos);
    if (end == std::string::npos) end = full.size();
    std::string_view part(full.data() + pos, end - pos);
    if (part == "..") {
      if (!parts.empty()) parts.pop_back();
    } else if (!part.empty() && part != ".") {
      parts.push_back(part);
    }
    pos = end + 1;
  }
  std::string out;
  for (auto p : parts) out.append("/").append(p);
  return out.empty() ? "/" : out;
}

}  // namespace bt::agent::procfs
