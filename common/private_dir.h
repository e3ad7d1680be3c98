// A folder only its owner controls, held open: the agent's state folder and
// the folders under it (the spool, rejected/, quarantine/), and `keygen
// --out`.
//
// Opening one refuses, as ssh does for ~/.ssh, a folder that is not owned
// by the running user or is writable by group or others, or that sits under
// a folder another user (not root) owns or anyone else may write (a sticky
// folder such as /tmp excepted: others cannot rename or remove what is in
// it). Someone who controls the folder or a parent could otherwise read the
// key, plant files, or swap the folder under the agent.
//
// Every file in it is then opened relative to the folder's descriptor with
// O_NOFOLLOW, so neither a symbolic link planted in it nor a parent renamed
// afterwards sends a read, a write or a lock elsewhere (as root, the agent
// would otherwise create or truncate files at any target). Errors are one
// line naming the path and what is wrong with it.
#pragma once

#include <sys/stat.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "common/unique_fd.h"

namespace bt::fs {

class PrivateDir {
 public:
  // Opens `path`. With `create`, a missing folder (and its missing parents)
  // is made with mode 0700 whatever the umask.
  static Result<PrivateDir> open(const std::string& path, bool create);

  PrivateDir() = default;
  PrivateDir(PrivateDir&&) noexcept = default;
  PrivateDir& operator=(PrivateDir&&) noexcept = default;

  // A subfolder (one name, no '/'), with the same checks; made 0700 when
  // missing and `create`.
  Result<PrivateDir> sub(std::string_view name, bool create) const;
  // Another descriptor for the same folder, for an owner that outlives this one.
  Result<PrivateDir> dup() const;

  bool valid() const { return fd_.valid(); }
  int fd() const { return fd_.get(); }
  const std::string& path() const { return path_; }
  std::string path_of(std::string_view name) const;
  // A path naming `name` through this descriptor (/proc/self/fd/N/name),
  // for calls that take only a path, such as bind() and connect() of a
  // Unix socket; short whatever the folder's own path.
  std::string fd_path_of(std::string_view name) const;

  // Reads a regular file (not a link, FIFO or device) of at most
  // `max_bytes`.
  Result<std::string> read(std::string_view name, std::size_t max_bytes) const;
  // Likewise, and refuses a file not owned by the running user or with any
  // of the `forbidden` mode bits: 022 for what others must not change, 077
  // for a secret (as ssh requires of a private key).
  Result<std::string> read_owned(std::string_view name, std::size_t max_bytes, mode_t forbidden) const;
  // The checks of read_owned() without reading.
  Status check_file(std::string_view name, mode_t forbidden) const;
  // Creates `name` (never replacing anything, kExists if present), fsynced.
  Status write_new(std::string_view name, std::string_view data, mode_t mode) const;
  // Durable replace: a temporary sibling ("<name>.tmp.<pid>.<n>"), fsync,
  // rename over `name`, fsync the folder.
  Status write_atomic(std::string_view name, std::string_view data, mode_t mode) const;
  // Opens (creating, 0600) a lock file to flock().
  Result<UniqueFd> open_lock(std::string_view name) const;
  // lstat(): a link is reported as the link. kNotFound when absent.
  Result<struct stat> stat(std::string_view name) const;
  bool exists(std::string_view name) const;
  // Removes `name`; kNotFound when it was not there.
  Status remove(std::string_view name) const;
  // Renames `name` to `to_name` in `to` (which may be this folder).
  Status move(std::string_view name, const PrivateDir& to, std::string_view to_name) const;
  // The names in the folder, without "." and "..".
  Result<std::vector<std::string>> list() const;
  // The folder's own modification time, or -1 when it cannot be read.
  int64_t mtime_ns() const;

 private:
  PrivateDir(UniqueFd fd, std::string path) : fd_(std::move(fd)), path_(std::move(path)) {}
  Result<std::string> read_owned(std::string_view name, std::size_t max_bytes, mode_t forbidden,
                                 bool check_owner) const;
  UniqueFd fd_;
  std::string path_;
};

}  // namespace bt::fs
