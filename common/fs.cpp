#include "common/fs.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>

namespace bt::fs {

namespace {

Error io_error(const std::string& path, const char* what, int err) {
  return make_error(ErrorCode::kIo, path + ": " + what + ": " + errno_text(err));
}

Status write_all(int fd, std::string_view data, const std::string& path) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return io_error(path, "write", errno);
    }
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return Ok{};
}

std::string parent_dir(const std::string& path) {
  auto slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

// Opens `path`, runs `sync` (fsync, syncfs) on it and closes it.
Status sync_path(const std::string& path, int flags, int (*sync)(int), const char* what) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | flags);
  if (fd < 0) return io_error(path, "open", errno);
  int rc = sync(fd);
  int err = errno;
  ::close(fd);
  if (rc != 0) return io_error(path, what, err);
  return Ok{};
}

Status fsync_dir(const std::string& dir) { return sync_path(dir, O_DIRECTORY, ::fsync, "fsync"); }

}  // namespace

std::string errno_text(int err) { return std::strerror(err); }

Result<std::string> read_file(const std::string& path, std::size_t max_bytes) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return io_error(path, "open", errno);
  std::string out;
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      ::close(fd);
      return io_error(path, "read", err);
    }
    if (n == 0) break;
    if (out.size() + static_cast<std::size_t>(n) > max_bytes) {
      ::close(fd);
      return make_error(ErrorCode::kTooLarge, path + ": larger than " + std::to_string(max_bytes) + " bytes");
    }
    out.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  return out;
}

namespace {

Status create_file(const std::string& path, std::string_view data, unsigned mode, bool durable) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  if (fd < 0) {
    if (errno == EEXIST) return make_error(ErrorCode::kExists, path + ": already exists, refusing to overwrite");
    return io_error(path, "create", errno);
  }
  Status s = write_all(fd, data, path);
  if (s && ::fchmod(fd, mode) != 0) s = io_error(path, "chmod", errno);
  if (s && durable && ::fsync(fd) != 0) s = io_error(path, "fsync", errno);
  ::close(fd);
  if (!s) ::unlink(path.c_str());
  return s;
}

}  // namespace

Status write_new_file(const std::string& path, std::string_view data, unsigned mode) {
  return create_file(path, data, mode, true);
}

Status write_file_staged(const std::string& path, std::string_view data, unsigned mode) {
  // Unique per process and call: two threads may stage the same object.
  static std::atomic<uint64_t> counter{0};
  const std::string tmp = path + ".tmp." + std::to_string(::getpid()) + "." + std::to_string(counter++);
  Status s = create_file(tmp, data, mode, false);
  if (!s) return s;
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    return io_error(path, "rename", err);
  }
  return Ok{};
}

Status sync_filesystem(const std::string& path) { return sync_path(path, 0, ::syncfs, "syncfs"); }

Status write_file_atomic(const std::string& path, std::string_view data, unsigned mode) {
  std::string tmp = path + ".tmp." + std::to_string(::getpid());
  ::unlink(tmp.c_str());
  Status s = write_new_file(tmp, data, mode);
  if (!s) return s;
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    return io_error(path, "rename", err);
  }
  return fsync_dir(parent_dir(path));
}

std::string_view base_name(std::string_view path) {
  const std::size_t slash = path.rfind('/');
  return slash == std::string_view::npos ? path : path.substr(slash + 1);
}

Status make_dirs(const std::string& path, unsigned mode) {
  if (path.empty()) return make_error(ErrorCode::kInvalidArgument, "empty directory path");
  std::string cur;
  std::size_t pos = 0;
  while (pos != std::string::npos) {
    pos = path.find('/', pos + 1);
    cur = path.substr(0, pos);
    if (cur.empty()) continue;
    if (::mkdir(cur.c_str(), mode) != 0 && errno != EEXIST) return io_error(cur, "mkdir", errno);
  }
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return io_error(path, "stat", errno);
  if (!S_ISDIR(st.st_mode)) return make_error(ErrorCode::kIo, path + ": not a directory");
  return Ok{};
}

}  // namespace bt::fs
