// The agent's reader of /proc and of other processes' memory: what the
// capture backends read about a process (a stopped tracee, an exec's
// program) and what enrichment reads about a runner or a secret's reader.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

namespace bt::agent::procfs {

std::string read_link(const std::string& path);  // empty on error
std::vector<std::string> cmdline(pid_t pid);

// The ids /proc/<tid>/status gives (not the whole file).
struct TaskIds {
  pid_t tgid = 0;
  pid_t ppid = 0;
  uint64_t uid = 0;  // real uid
};
bool task_ids(pid_t tid, TaskIds* out);

// The memory high-water mark of the process `tid` belongs to, while it
// still has its memory (/proc/<tid>/status VmHWM: the peak RSS of its
// address space since its last exec); false when gone or a zombie.
struct MemoryPeak {
  pid_t tgid = 0;
  uint64_t peak_rss_bytes = 0;
};
bool memory_peak(pid_t tid, MemoryPeak* out);

// The processes whose parent is `pid` (a scan of /proc).
std::vector<pid_t> children_of(pid_t pid);

// Process start time in ns since boot (/proc/<pid>/stat field 22).
uint64_t start_time_ns(pid_t pid);

// The user and system CPU time of process `pid`, all its threads and not
// its children (/proc/<pid>/stat fields 14 and 15), in ns at clock-tick
// resolution; readable until the process is reaped. False when gone.
struct CpuTimes {
  uint64_t user_ns = 0;
  uint64_t system_ns = 0;
};
bool cpu_times(pid_t pid, CpuTimes* out);

// A NUL-terminated string at `addr` in the tracee, at most `max` bytes;
// false when unreadable. Reads page by page: a string may end just before
// an unmapped page.
bool read_string(pid_t pid, uint64_t addr, std::size_t max, std::string* out);
bool read_memory(pid_t pid, uint64_t addr, void* buf, std::size_t len);

// Lexically absolute: `rel` against `base`, with `.`, `..` and `//` folded.
std::string join_path(const std::string& base, const std::string& rel);

}  // namespace bt::agent::procfs
