#include "agent/enrich/rules/digest.h"

#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "common/crypto/keys.h"
#include "common/fs.h"

namespace bt::agent::digest {

namespace {

Result<FileDigest> hash_fd(int fd, const std::string& path) {
  crypto_hash_sha256_state state;
  crypto_hash_sha256_init(&state);
  static thread_local unsigned char buf[1 << 16];
  uint64_t size = 0;
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      return make_error(ErrorCode::kIo, path + ": read: " + fs::errno_text(errno));
    }
    if (n == 0) break;
    crypto_hash_sha256_update(&state, buf, static_cast<unsigned long long>(n));
    size += static_cast<uint64_t>(n);
  }
  crypto::Digest d{};
  crypto_hash_sha256_final(&state, d.data());
  return FileDigest{size, crypto::to_hex(d)};
}

}  // namespace

Result<FileDigest> Cache::file(const std::string& path) {
  // O_NONBLOCK: a FIFO named as an artifact must not hang the tracer.
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
  if (fd < 0) return make_error(ErrorCode::kIo, path + ": open: " + fs::errno_text(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return make_error(ErrorCode::kInvalidArgument, path + ": not a regular file");
  }
  const Key key{st.st_dev, st.st_ino, static_cast<uint64_t>(st.st_size), st.st_mtim.tv_sec, st.st_mtim.tv_nsec};
  {
    std::lock_guard lock(mu_);
    if (auto it = entries_.find(key); it != entries_.end()) {
      ::close(fd);
      return FileDigest{static_cast<uint64_t>(st.st_size), it->second};
    }
  }
  auto d = hash_fd(fd, path);
  ::close(fd);
  if (!d) return d;
  std::lock_guard lock(mu_);
  if (entries_.size() >= max_entries_) entries_.clear();
  entries_.emplace(key, d->sha256);
  return d;
}

namespace {

std::string type_of(mode_t mode) {
  if (S_ISREG(mode)) return "regular";
  if (S_ISFIFO(mode)) return "fifo";
  if (S_ISCHR(mode)) return "char_device";
  if (S_ISBLK(mode)) return "block_device";
  if (S_ISSOCK(mode)) return "socket";
  if (S_ISDIR(mode)) return "directory";
  if (S_ISLNK(mode)) return "symlink";
  return "other";
}

}  // namespace

FileState file_state(const std::string& path, uint64_t max_bytes) {
  FileState out;
  struct stat before {};
  if (::lstat(path.c_str(), &before) != 0) {
    out.type = errno == ENOENT || errno == ENOTDIR ? "missing" : "unreadable";
    return out;
  }
  out.type = type_of(before.st_mode);
  if (!S_ISREG(before.st_mode)) return out;  // never opened: a FIFO or a device could block or act
  out.size = static_cast<uint64_t>(before.st_size);
  if (out.size > max_bytes) return out;
  // O_NOFOLLOW and O_NONBLOCK: swapped for a symlink or a FIFO since the
  // lstat, the open fails or returns at once, and fstat tells.
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK | O_NOFOLLOW);
  if (fd < 0) {
    out.type = errno == ELOOP ? "symlink" : errno == ENOENT ? "missing" : "unreadable";
    return out;
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0 || st.st_dev != before.st_dev || st.st_ino != before.st_ino || !S_ISREG(st.st_mode) ||
      static_cast<uint64_t>(st.st_size) > max_bytes) {
    if (::fstat(fd, &st) == 0) out.type = type_of(st.st_mode);
    out.size = static_cast<uint64_t>(st.st_size);
    ::close(fd);
    return out;
  }
  out = fd_state(fd, max_bytes);
  ::close(fd);
  return out;
}

FileState fd_state(int fd, uint64_t max_bytes) {
  FileState out;
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    out.type = "unreadable";
    return out;
  }
  out.type = type_of(st.st_mode);
  out.size = static_cast<uint64_t>(st.st_size);
  if (!S_ISREG(st.st_mode) || out.size > max_bytes) return out;
  // At most max_bytes: a file still growing is hashed as far as that.
  crypto_hash_sha256_state state;
  crypto_hash_sha256_init(&state);
  static thread_local unsigned char buf[1 << 16];
  uint64_t size = 0;
  bool failed = false;
  while (size <= max_bytes) {
    const ssize_t n = ::pread(fd, buf, sizeof buf, static_cast<off_t>(size));
    if (n < 0 && errno == EINTR) continue;
    failed = n < 0;
    if (n <= 0) break;
    crypto_hash_sha256_update(&state, buf, static_cast<unsigned long long>(n));
    size += static_cast<uint64_t>(n);
  }
  out.size = size;
  if (failed) out.type = "unreadable";
  if (failed || size > max_bytes) return out;
  crypto::Digest d{};
  crypto_hash_sha256_final(&state, d.data());
  out.sha256 = crypto::to_hex(d);
  return out;
}

int open_regular(const std::string& path, uint64_t dev, uint64_t ino) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode) || st.st_dev != dev || st.st_ino != ino) return -1;
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK | O_NOFOLLOW);
  if (fd < 0) return -1;
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_dev != dev || st.st_ino != ino) {
    ::close(fd);
    return -1;
  }
  return fd;
}

}  // namespace bt::agent::digest
