#include "agent/capture/wrap/opens.h"

#include <fcntl.h>
#include <sys/stat.h>

#include <cerrno>
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

// `path` as the kernel resolves it for thread `tid`: relative to its cwd
// or to the directory fd; empty when that cannot be read.
std::string resolve(pid_t tid, int dirfd, const std::string& path) {
  if (path.empty()) return {};
  if (path[0] == '/') return procfs::join_path("", path);
  const std::string proc = "/proc/" + std::to_string(tid);
  const std::string dir =
      dirfd == AT_FDCWD ? procfs::read_link(proc + "/cwd") : procfs::read_link(proc + "/fd/" + std::to_string(dirfd));
  if (dir.empty() || dir[0] != '/') return {};
  return procfs::join_path(dir, path);
}

std::string read_path(pid_t tid, uint64_t addr, int dirfd) {
  std::string path;
  if (!procfs::read_string(tid, addr, 4096, &path)) return {};
  return resolve(tid, dirfd, path);
}

bool opens_for_writing(uint64_t flags) {
  const uint64_t acc = flags & O_ACCMODE;
  return acc == O_WRONLY || acc == O_RDWR || (flags & (O_CREAT | O_TRUNC));
}

}  // namespace

std::optional<capture::FileWrite> read_file_call(pid_t tid, long nr, const uint64_t* a) {
  using Op = capture::FileWrite::Op;
  capture::FileWrite w;
  const int cwd = AT_FDCWD;
  switch (nr) {
#ifdef __NR_rename
    case __NR_rename:
      w.op = Op::rename;
      w.path = read_path(tid, a[0], cwd);
      w.new_path = read_path(tid, a[1], cwd);
      break;
#endif
    case __NR_renameat:
    case __NR_renameat2:
      w.op = Op::rename;
      w.path = read_path(tid, a[1], static_cast<int>(a[0]));
      w.new_path = read_path(tid, a[3], static_cast<int>(a[2]));
      break;
#ifdef __NR_unlink
    case __NR_unlink:
      w.op = Op::unlink;
      w.path = read_path(tid, a[0], cwd);
      break;
#endif
    case __NR_unlinkat:
      if (a[2] & AT_REMOVEDIR) return std::nullopt;
      w.op = Op::unlink;
      w.path = read_path(tid, a[1], static_cast<int>(a[0]));
      break;
#ifdef __NR_chmod
    case __NR_chmod:
      w.op = Op::chmod;
      w.path = read_path(tid, a[0], cwd);
      w.flags = a[1];
      break;
#endif
    case __NR_fchmod:
      w.op = Op::chmod;
      w.path = procfs::read_link("/proc/" + std::to_string(tid) + "/fd/" + std::to_string(static_cast<int>(a[0])));
      w.flags = a[1];
      break;
    case __NR_fchmodat:
    case 452:  // fchmodat2
      w.op = Op::chmod;
      w.path = read_path(tid, a[1], static_cast<int>(a[0]));
      w.flags = a[2];
      break;
    case __NR_truncate:
      w.op = Op::truncate;
      w.path = read_path(tid, a[0], cwd);
      break;
    default:
      return std::nullopt;
  }
  if (w.path.empty() || w.path[0] != '/') return std::nullopt;
  if (w.op == Op::rename && w.new_path.empty()) return std::nullopt;
  if (w.op == Op::chmod && !(w.flags & 0111)) return std::nullopt;
  w.time_ns = clock::now_ns();
  return w;
}

std::optional<capture::Open> read_open(pid_t tid, long nr, const uint64_t* args, const capture::Sink& sink,
                                       capture::FileWrite* write) {
  const auto call = open_args(tid, nr, args);
  if (!call) return std::nullopt;
  std::string path;
  if (!procfs::read_string(tid, call->path, 4096, &path) || path.empty()) return std::nullopt;
  if (write && opens_for_writing(call->flags)) {
    write->op = capture::FileWrite::Op::open;
    write->time_ns = clock::now_ns();
    write->path = resolve(tid, call->dirfd, path);
    write->flags = call->flags;
    // Seen before the call runs: it creates the file when there is none.
    struct stat st {};
    write->created =
        !write->path.empty() && (call->flags & O_CREAT) && ::lstat(write->path.c_str(), &st) != 0 && errno == ENOENT;
  }
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
