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

}  // namespace bt::agent::digest
