#include "common/private_dir.h"

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>

#include "common/fs.h"

namespace bt::fs {

namespace {

// Bounds the walk up the parents (a loop would need a broken file system).
constexpr int kMaxDepth = 256;

Error io_error(const std::string& path, const char* what, int err) {
  return make_error(ErrorCode::kIo, path + ": " + what + ": " + errno_text(err));
}

Error refuse(const std::string& path, const std::string& why) {
  return make_error(ErrorCode::kInvalidArgument, path + ": " + why + "; refusing it");
}

std::string mode_text(mode_t mode) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "%04o", static_cast<unsigned>(mode & 07777));
  return buf;
}

// Why an entry with `st` may not be trusted (empty: it may): not ours, or
// with a mode bit of `forbidden` set.
std::string untrusted(const struct stat& st, mode_t forbidden) {
  const uid_t me = ::geteuid();
  if (st.st_uid != me)
    return "owned by uid " + std::to_string(st.st_uid) + ", not by the running user (uid " + std::to_string(me) + ")";
  const mode_t bits = st.st_mode & forbidden;
  if (bits & 022) return "writable by group or others (mode " + mode_text(st.st_mode) + ")";
  if (bits) return "readable by group or others (mode " + mode_text(st.st_mode) + ")";
  return {};
}

bool valid_name(std::string_view name) {
  return !name.empty() && name != "." && name != ".." && name.find('/') == std::string_view::npos &&
         name.find('\0') == std::string_view::npos;
}

Error bad_name(const std::string& dir, std::string_view name) {
  return make_error(ErrorCode::kInvalidArgument, dir + ": '" + std::string(name) + "' is not a file name");
}

// The error for an open() of an entry that must be neither a link nor,
// for a folder, anything but a folder.
Error open_error(const std::string& path, int err) {
  if (err == ELOOP) return refuse(path, "a symbolic link");
  if (err == ENOENT) return make_error(ErrorCode::kNotFound, path + ": no such file or folder");
  return io_error(path, "open", err);
}

// The path the kernel gives an open folder, for messages.
std::string name_of(int fd, const std::string& fallback) {
  char buf[4096];
  const std::string link = "/proc/self/fd/" + std::to_string(fd);
  const ssize_t n = ::readlink(link.c_str(), buf, sizeof buf - 1);
  return n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : fallback;
}

// Every folder above `fd` must be root's or the running user's, and
// writable by no one else unless sticky (then others may add entries but
// not rename or remove ours). Walks "..", so the folders checked are the
// real parents of what was opened, whatever links the path went through.
Status check_parents(int fd, const std::string& path) {
  struct stat child {};
  if (::fstat(fd, &child) != 0) return io_error(path, "stat", errno);
  const uid_t me = ::geteuid();
  UniqueFd holder;
  int current = fd;
  for (int depth = 0; depth < kMaxDepth; ++depth) {
    // O_PATH: a parent we may only search (mode 0711) still opens.
    UniqueFd parent(::openat(current, "..", O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (!parent) return io_error(path + "/..", "open", errno);
    struct stat st {};
    if (::fstat(parent.get(), &st) != 0) return io_error(path + "/..", "stat", errno);
    if (st.st_dev == child.st_dev && st.st_ino == child.st_ino) return Ok{};  // the root
    const std::string above = " (above " + path + ")";
    if (st.st_uid != 0 && st.st_uid != me)
      return refuse(name_of(parent.get(), path + "/.."), "owned by uid " + std::to_string(st.st_uid) +
                                                             ", neither root nor the running user (uid " +
                                                             std::to_string(me) + ")" + above);
    if ((st.st_mode & 022) && !(st.st_mode & S_ISVTX))
      return refuse(name_of(parent.get(), path + "/.."),
                    "writable by group or others (mode " + mode_text(st.st_mode) + ")" + above);
    child = st;
    holder = std::move(parent);
    current = holder.get();
  }
  return make_error(ErrorCode::kIo, path + ": more than " + std::to_string(kMaxDepth) + " folders deep");
}

Status write_all(int fd, std::string_view data, const std::string& path) {
  while (!data.empty()) {
    const ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return io_error(path, "write", errno);
    }
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return Ok{};
}

// Opens an existing folder `name` under `at` (AT_FDCWD: a path) and checks it.
Result<UniqueFd> open_folder(int at, const std::string& name, const std::string& path, bool created) {
  UniqueFd fd(::openat(at, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!fd) {
    struct stat st {};
    if (errno == ENOTDIR && ::fstatat(at, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0)
      return S_ISLNK(st.st_mode) ? refuse(path, "a symbolic link") : refuse(path, "not a folder");
    return open_error(path, errno);
  }
  // Only a folder made here is ours to set: 0700 whatever the umask.
  if (created && ::fchmod(fd.get(), 0700) != 0) return io_error(path, "chmod", errno);
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return io_error(path, "stat", errno);
  if (const std::string why = untrusted(st, 022); !why.empty()) return refuse(path, why);
  return fd;
}

}  // namespace

Result<PrivateDir> PrivateDir::open(const std::string& requested, bool create) {
  std::string path = requested;
  // "link/" would follow the link despite O_NOFOLLOW.
  while (path.size() > 1 && path.back() == '/') path.pop_back();
  if (path.empty()) return make_error(ErrorCode::kInvalidArgument, "empty folder path");
  bool created = false;
  if (create) {
    for (std::size_t pos = path.find('/', 1); pos != std::string::npos; pos = path.find('/', pos + 1)) {
      const std::string parent = path.substr(0, pos);
      if (::mkdir(parent.c_str(), 0700) != 0 && errno != EEXIST) return io_error(parent, "mkdir", errno);
    }
    if (::mkdir(path.c_str(), 0700) == 0)
      created = true;
    else if (errno != EEXIST)
      return io_error(path, "mkdir", errno);
  }
  auto fd = open_folder(AT_FDCWD, path, path, created);
  if (!fd) return fd.error();
  if (Status s = check_parents(fd->get(), path); !s) return s.error();
  return PrivateDir(std::move(*fd), path);
}

Result<PrivateDir> PrivateDir::sub(std::string_view name, bool create) const {
  if (!valid_name(name)) return bad_name(path_, name);
  const std::string n(name);
  bool created = false;
  if (create) {
    if (::mkdirat(fd_.get(), n.c_str(), 0700) == 0)
      created = true;
    else if (errno != EEXIST)
      return io_error(path_of(name), "mkdir", errno);
  }
  auto fd = open_folder(fd_.get(), n, path_of(name), created);
  if (!fd) return fd.error();
  return PrivateDir(std::move(*fd), path_of(name));
}

Result<PrivateDir> PrivateDir::dup() const {
  UniqueFd fd(::fcntl(fd_.get(), F_DUPFD_CLOEXEC, 0));
  if (!fd) return io_error(path_, "dup", errno);
  return PrivateDir(std::move(fd), path_);
}

std::string PrivateDir::path_of(std::string_view name) const { return path_ + "/" + std::string(name); }

std::string PrivateDir::fd_path_of(std::string_view name) const {
  return "/proc/self/fd/" + std::to_string(fd_.get()) + "/" + std::string(name);
}

Result<std::string> PrivateDir::read(std::string_view name, std::size_t max_bytes) const {
  return read_owned(name, max_bytes, 0, false);
}

Result<std::string> PrivateDir::read_owned(std::string_view name, std::size_t max_bytes, mode_t forbidden) const {
  return read_owned(name, max_bytes, forbidden, true);
}

Result<std::string> PrivateDir::read_owned(std::string_view name, std::size_t max_bytes, mode_t forbidden,
                                           bool check_owner) const {
  if (!valid_name(name)) return bad_name(path_, name);
  const std::string path = path_of(name);
  // O_NONBLOCK: a FIFO in its place must not hang the open.
  const UniqueFd fd(::openat(fd_.get(), std::string(name).c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
  if (!fd) return open_error(path, errno);
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return io_error(path, "stat", errno);
  if (!S_ISREG(st.st_mode)) return refuse(path, "not a regular file");
  if (check_owner)
    if (const std::string why = untrusted(st, forbidden); !why.empty()) return refuse(path, why);
  std::string out;
  char buf[65536];
  for (;;) {
    const ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      return io_error(path, "read", errno);
    }
    if (n == 0) break;
    if (out.size() + static_cast<std::size_t>(n) > max_bytes)
      return make_error(ErrorCode::kTooLarge, path + ": larger than " + std::to_string(max_bytes) + " bytes");
    out.append(buf, static_cast<std::size_t>(n));
  }
  return out;
}

Status PrivateDir::check_file(std::string_view name, mode_t forbidden) const {
  auto st = stat(name);
  if (!st) return st.error();
  if (S_ISLNK(st->st_mode)) return refuse(path_of(name), "a symbolic link");
  if (!S_ISREG(st->st_mode)) return refuse(path_of(name), "not a regular file");
  if (const std::string why = untrusted(*st, forbidden); !why.empty()) return refuse(path_of(name), why);
  return Ok{};
}

Status PrivateDir::write_new(std::string_view name, std::string_view data, mode_t mode) const {
  if (!valid_name(name)) return bad_name(path_, name);
  const std::string n(name), path = path_of(name);
  // O_EXCL never follows a link, dangling or not.
  UniqueFd fd(::openat(fd_.get(), n.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode));
  if (!fd) {
    if (errno == EEXIST) return make_error(ErrorCode::kExists, path + ": already exists, refusing to overwrite");
    return io_error(path, "create", errno);
  }
  Status s = write_all(fd.get(), data, path);
  if (s && ::fchmod(fd.get(), mode) != 0) s = io_error(path, "chmod", errno);
  if (s && ::fsync(fd.get()) != 0) s = io_error(path, "fsync", errno);
  fd.reset();
  if (!s) ::unlinkat(fd_.get(), n.c_str(), 0);
  return s;
}

Status PrivateDir::write_atomic(std::string_view name, std::string_view data, mode_t mode) const {
  if (!valid_name(name)) return bad_name(path_, name);
  // Unique per process and call: two threads may write the same name.
  static std::atomic<uint64_t> counter{0};
  const std::string n(name);
  const std::string tmp = n + ".tmp." + std::to_string(::getpid()) + "." + std::to_string(counter++);
  if (Status s = write_new(tmp, data, mode); !s) return s;
  if (::renameat(fd_.get(), tmp.c_str(), fd_.get(), n.c_str()) != 0) {
    const int err = errno;
    ::unlinkat(fd_.get(), tmp.c_str(), 0);
    return io_error(path_of(name), "rename", err);
  }
  if (::fsync(fd_.get()) != 0) return io_error(path_, "fsync", errno);
  return Ok{};
}

Result<UniqueFd> PrivateDir::open_lock(std::string_view name) const {
  if (!valid_name(name)) return bad_name(path_, name);
  const std::string path = path_of(name);
  // Without O_NOFOLLOW, O_CREAT would create a link's target.
  UniqueFd fd(
      ::openat(fd_.get(), std::string(name).c_str(), O_RDWR | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0600));
  if (!fd) return open_error(path, errno);
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return io_error(path, "stat", errno);
  if (!S_ISREG(st.st_mode)) return refuse(path, "not a regular file");
  return fd;
}

Result<struct stat> PrivateDir::stat(std::string_view name) const {
  if (!valid_name(name)) return bad_name(path_, name);
  struct stat st {};
  if (::fstatat(fd_.get(), std::string(name).c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0)
    return open_error(path_of(name), errno);
  return st;
}

bool PrivateDir::exists(std::string_view name) const { return stat(name).ok(); }

Status PrivateDir::remove(std::string_view name) const {
  if (!valid_name(name)) return bad_name(path_, name);
  if (::unlinkat(fd_.get(), std::string(name).c_str(), 0) != 0) {
    if (errno == ENOENT) return make_error(ErrorCode::kNotFound, path_of(name) + ": no such file");
    return io_error(path_of(name), "unlink", errno);
  }
  return Ok{};
}

Status PrivateDir::move(std::string_view name, const PrivateDir& to, std::string_view to_name) const {
  if (!valid_name(name)) return bad_name(path_, name);
  if (!valid_name(to_name)) return bad_name(to.path_, to_name);
  if (::renameat(fd_.get(), std::string(name).c_str(), to.fd_.get(), std::string(to_name).c_str()) != 0) {
    if (errno == ENOENT) return make_error(ErrorCode::kNotFound, path_of(name) + ": no such file");
    return io_error(path_of(name), ("move to " + to.path_of(to_name)).c_str(), errno);
  }
  return Ok{};
}

Result<std::vector<std::string>> PrivateDir::list() const {
  // Its own descriptor: a dup would share (and move) this one's offset.
  UniqueFd fd(::openat(fd_.get(), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd) return io_error(path_, "open", errno);
  DIR* d = ::fdopendir(fd.get());
  if (!d) return io_error(path_, "opendir", errno);
  fd.release();  // closedir closes it
  std::vector<std::string> names;
  while (const dirent* e = ::readdir(d)) {
    const std::string_view n = e->d_name;
    if (n != "." && n != "..") names.emplace_back(n);
  }
  ::closedir(d);
  return names;
}

int64_t PrivateDir::mtime_ns() const {
  struct stat st {};
  if (::fstat(fd_.get(), &st) != 0) return -1;
  return static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
}

}  // namespace bt::fs
