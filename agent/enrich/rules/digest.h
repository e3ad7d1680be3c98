// SHA-256 of files (executables, scripts, uploaded artifacts), cached by
// device, inode, size and modification time so each file is hashed once
// however often it runs.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <tuple>

#include "common/result.h"

namespace bt::agent::digest {

struct FileDigest {
  uint64_t size = 0;
  std::string sha256;  // lowercase hex
};

class Cache {
 public:
  explicit Cache(std::size_t max_entries = 65536) : max_entries_(max_entries) {}
  // Hashes `path` (following symlinks), or returns the cached digest.
  Result<FileDigest> file(const std::string& path);

 private:
  using Key = std::tuple<uint64_t, uint64_t, uint64_t, int64_t, int64_t>;  // dev, ino, size, mtime s, ns
  std::mutex mu_;
  std::map<Key, std::string> entries_;
  std::size_t max_entries_;
};

// What a path is when looked at without following a final symlink, and
// its content's digest when it is a regular file of at most `max_bytes`.
// Never blocks: FIFOs, devices and sockets are named, not opened; a file
// swapped for a symlink or another file between the look and the open is
// named "symlink" or hashed not at all.
struct FileState {
  std::string type;  // regular, fifo, char_device, block_device, socket, directory, symlink, missing, unreadable
  uint64_t size = 0;
  std::string sha256;  // empty unless a regular file of at most max_bytes
};
FileState file_state(const std::string& path, uint64_t max_bytes);
// The same for a file already open (read from offset 0 with pread; the
// descriptor's offset is left alone).
FileState fd_state(int fd, uint64_t max_bytes);
// `path` opened for reading when it is the regular file (dev, ino) (a
// user-space st_dev), never following a final symlink nor blocking; -1
// otherwise.
int open_regular(const std::string& path, uint64_t dev, uint64_t ino);

}  // namespace bt::agent::digest
