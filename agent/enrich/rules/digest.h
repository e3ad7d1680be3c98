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

}  // namespace bt::agent::digest
