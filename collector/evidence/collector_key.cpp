// The collector's key pair; see collector_key.h.
#include "collector/evidence/collector_key.h"

#include <sodium.h>

#include "common/private_dir.h"

namespace bt::collector::evidence {

namespace {

// The private key first, created exclusively: whoever creates it also
// writes the public half; a loser of the race loads the winner's key.
Result<crypto::KeyPair> create(const fs::PrivateDir& dir) {
  auto key = crypto::generate_key_pair();
  if (!key) return key.error();
  std::string pem = crypto::private_key_pem(*key);
  Status written = dir.write_new(kCollectorKeyFile, pem, 0600);
  sodium_memzero(pem.data(), pem.size());
  if (!written) {
    if (written.error().code == ErrorCode::kExists) return crypto::load_private_key(dir, kCollectorKeyFile);
    return written.error();
  }
  Status pub = dir.write_atomic(kCollectorPubFile, crypto::public_key_pem(key->public_key), 0644);
  if (!pub) return pub.error();
  return key;
}

}  // namespace

Result<crypto::KeyPair> load_or_create_collector_key(const std::string& data_dir) {
  auto dir = fs::PrivateDir::open(data_dir, false);
  if (!dir) return dir.error();
  if (!dir->exists(kCollectorKeyFile)) return create(*dir);
  auto key = crypto::load_private_key(*dir, kCollectorKeyFile);
  if (!key) return key.error();
  // The public half is derived, so a missing or stale collector.pub is
  // written again rather than trusted.
  const std::string pem = crypto::public_key_pem(key->public_key);
  auto pub = dir->read(kCollectorPubFile, 4096);
  if (!pub || *pub != pem) {
    Status s = dir->write_atomic(kCollectorPubFile, pem, 0644);
    if (!s) return s.error();
  }
  return key;
}

}  // namespace bt::collector::evidence
