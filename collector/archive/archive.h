// Content-addressed archive of raw batches under DATA/archive/. A batch is
// stored under the SHA-256 of its bytes (archive/<first 2 hex>/<hex>.btb),
// exactly as the agent signed it, so `buildtrail-collector verify` runs on
// the archive and any indexed event can be re-verified later.
#pragma once

#include <span>
#include <string>

#include "common/crypto/keys.h"
#include "common/result.h"

namespace bt::collector::archive {

class Archive {
 public:
  explicit Archive(std::string data_dir);

  // Durably writes the batch (temp file, fsync, rename, fsync dir) and
  // returns its path relative to the data folder. Idempotent: an object
  // already present with the same name is kept.
  Result<std::string> put(std::span<const uint8_t> batch, const crypto::Digest& hash) const;
  Result<std::string> read(const std::string& relative_path) const;
  std::string absolute(const std::string& relative_path) const;

  static std::string relative_path(const crypto::Digest& hash);

 private:
  std::string dir_;
};

}  // namespace bt::collector::archive
