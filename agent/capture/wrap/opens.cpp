#include "agent/capture/wrap/opens.h"

#include <fcntl.h>
#include <string>

#include "agent/capture/proc/procfs.h"
#include "common/clock.h"
#include "common/fs.h"

namespace bt::agent::wrap {

namespace {

struct OpenArgs {
  int dirfd = AT_FDCWD;
  uint64_t path = 0;
  uint64_t flags = 0;
};

std::optional<OpenArgs> open_args(pid_t tid, long nr, const uint64_t* a) {
  switch (nr) {
#ifdef __NR_open
    case __NR_open:
      return OpenArgs{AT_FDCWD, a[0], a[1]};
#endif
#ifdef __NR_creat
    case __NR_creat:
      return OpenArgs{AT_FDCWD, a[0], O_WRONLY | O_CREAT | O_TRUNC};
#endif
    case __NR_openat:
      return OpenArgs{static_cast<int>(a[0]), a[1], a[2]};
    case __NR_openat2: {
      uint64_t flags = 0;  // struct open_how starts with its u64 flags
      procfs::read_memory(tid, a[2], &flags, sizeof flags);
      return OpenArgs{static_cast<int>(a[0]), a[1], flags};
    }
    default:
      return std::nullopt;
  }
}

}  // namespace

std::optional<capture::Open> read_open(pid_t tid, long nr, const uint64_t* args, const capture::Sink& sink) {
  const auto call = open_args(tid, nr, args);
  if (!call) return std::nullopt;
  std::string path;
  if (!procfs::read_string(tid, call->path, 4096, &path) || path.empty()) return std::nullopt;
  if (!sink.wants_open(fs::base_name(path))) return std::nullopt;
  std::string dir;
  if (path[0] != '/') {
    // Relative to the thread's cwd or to the directory fd, as the kernel
    // resolves it: `cd ~/.aws && cat credentials` is found.
    const std::string proc = "/proc/" + std::to_string(tid);
    dir = call->dirfd == AT_FDCWD ? procfs::read_link(proc + "/cwd")
                                  : procfs::read_link(proc + "/fd/" + std::to_string(call->dirfd));
    if (dir.empty() || dir[0] != '/') return std::nullopt;
  }
  capture::Open o;
  o.time_ns = clock::now_ns();
  o.path = procfs::join_path(dir, path);
  const uint64_t acc = call->flags & O_ACCMODE;
  o.write = acc == O_WRONLY || acc == O_RDWR || (call->flags & (O_CREAT | O_TRUNC));
  return o;
}

}  // namespace bt::agent::wrap
