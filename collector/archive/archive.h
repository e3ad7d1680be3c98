// Content-addressed archive of raw batches under DATA/archive/. A batch is
// stored under the SHA-256 of its bytes (archive/<first 2 hex>/<hex>.btb),
// exactly as the agent signed it, so `buildtrail-collector verify` runs on
// the archive and any indexed event can be re-verified later. Batches the
// collector refused (forks) are evidence too: they are kept apart, under
// archive/refused/<first 2 hex>/<hex>.btb, so `archive/*/*.btb` names
// exactly the stored batches.
#pragma once

#include <span>
#include <string>

#include "common/crypto/keys.h"
#include "common/result.h"

namespace bt::collector::archive {

class Archive {
 public:
  explicit Archive(std::string data_dir);

  // Writes the batch (temp file, rename) and returns its path relative to
  // the data folder. Idempotent: an object already present with the same
  // name is kept. Not durable until sync() returns: the ingest writer syncs
  // once per group commit, before the rows that reference the objects.
  Result<std::string> put(std::span<const uint8_t> batch, const crypto::Digest& hash) const;
  // Makes every object put so far durable (one syncfs of the data folder's
  // filesystem: cheaper than two fsyncs per object when many are in flight).
  Status sync() const;
  // Moves a batch the writer refused from the stored archive to the
  // refused one. `before` says it was refused already (the same bytes sent
  // again); the path is relative to the data folder.
  struct Refused {
    std::string path;
    bool before = false;
  };
  Result<Refused> refuse(const crypto::Digest& hash) const;
  // Makes sure a batch about to be stored is in the stored archive: a
  // refusal of the same bytes (in an earlier epoch of the chain) may have
  // moved it. The refused copy stays.
  Status restore(const crypto::Digest& hash) const;
  Result<std::string> read(const std::string& relative_path) const;
  std::string absolute(const std::string& relative_path) const;

  static std::string relative_path(const crypto::Digest& hash);
  static std::string refused_path(const crypto::Digest& hash);

 private:
  std::string dir_;
};

}  // namespace bt::collector::archive
