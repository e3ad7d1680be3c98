// The file sink; see file.h.
#include "collector/output/file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "common/fs.h"
#include "common/text.h"

namespace bt::collector::output::file {

namespace {
Error io(const std::string& what, const std::string& path, int err) {
  return make_error(ErrorCode::kIo, what + " " + text::printable(path) + ": " + fs::errno_text(err));
}
}  // namespace

FileSink::FileSink(const config::Output& config)
    : path_(config.path), max_bytes_(config.max_bytes), max_files_(config.max_files) {}

FileSink::~FileSink() {
  if (fd_ >= 0) ::close(fd_);
}

Result<std::unique_ptr<Sink>> FileSink::create(const config::Output& config) {
  std::unique_ptr<FileSink> sink(new FileSink(config));
  if (Status s = sink->open(); !s) return s.error();
  return std::unique_ptr<Sink>(std::move(sink));
}

Status FileSink::open() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = ::open(path_.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0640);
  if (fd_ < 0) return io("open", path_, errno);
  struct stat st {};
  if (::fstat(fd_, &st) != 0) return io("stat", path_, errno);
  if (!S_ISREG(st.st_mode)) {
    ::close(fd_);
    fd_ = -1;
    return make_error(ErrorCode::kIo, "open " + text::printable(path_) + ": not a regular file");
  }
  size_ = static_cast<uint64_t>(st.st_size);
  // A line a crash cut short is ended here: what follows starts a line.
  if (size_ > 0) {
    char last = '\n';
    if (::pread(fd_, &last, 1, static_cast<off_t>(size_ - 1)) == 1 && last != '\n') return write_all("\n");
  }
  return Ok{};
}

// logrotate (or an operator) moved or removed the file: write a new one.
Status FileSink::reopen_if_moved() {
  struct stat ours {
  }, named{};
  if (fd_ >= 0 && ::fstat(fd_, &ours) == 0 && ::stat(path_.c_str(), &named) == 0 && ours.st_ino == named.st_ino &&
      ours.st_dev == named.st_dev)
    return Ok{};
  return open();
}

Status FileSink::rotate() {
  if (max_files_ == 0) {
    if (::unlink(path_.c_str()) != 0 && errno != ENOENT) return io("remove", path_, errno);
  } else {
    const std::string oldest = path_ + "." + std::to_string(max_files_);
    if (::unlink(oldest.c_str()) != 0 && errno != ENOENT) return io("remove", oldest, errno);
    for (uint64_t n = max_files_; n > 1; --n) {
      const std::string from = path_ + "." + std::to_string(n - 1), to = path_ + "." + std::to_string(n);
      if (::rename(from.c_str(), to.c_str()) != 0 && errno != ENOENT) return io("rename", from, errno);
    }
    if (::rename(path_.c_str(), (path_ + ".1").c_str()) != 0 && errno != ENOENT) return io("rename", path_, errno);
  }
  return open();
}

Status FileSink::write_all(const std::string& bytes) {
  std::size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::write(fd_, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return io("write", path_, n < 0 ? errno : ENOSPC);
    done += static_cast<std::size_t>(n);
  }
  size_ += bytes.size();
  return Ok{};
}

Attempt FileSink::deliver(const std::vector<Record>& records, const std::atomic<bool>&) {
  Attempt out;
  std::string& lines = lines_;
  lines.clear();  // its capacity is kept from chunk to chunk
  for (const auto& r : records) {
    lines += r.text;
    lines += '\n';
  }
  Status s = reopen_if_moved();
  if (s && size_ > 0 && size_ + lines.size() > max_bytes_) s = rotate();
  if (s) s = write_all(lines);
  if (s && ::fdatasync(fd_) != 0) s = io("sync", path_, errno);
  if (!s) {
    out.error = s.error().message;
    // Written in part: what follows must start a line of its own.
    if (fd_ >= 0) (void)open();
    return out;
  }
  out.outcome = Outcome::kDelivered;
  return out;
}

}  // namespace bt::collector::output::file
