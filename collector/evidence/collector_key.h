// The collector's own Ed25519 identity, which signs what the collector
// itself asserts (the in-toto statements of `export --intoto`); the agents'
// batches stay signed by the agents. DATA/collector.key (PKCS#8 PEM, mode
// 0600) and DATA/collector.pub (SubjectPublicKeyInfo PEM), the formats of
// the agent's key pair (docs/batch-format.md "Keys"), made on first use.
#pragma once

#include <string>

#include "common/crypto/keys.h"
#include "common/result.h"

namespace bt::collector::evidence {

inline constexpr const char* kCollectorKeyFile = "collector.key";
inline constexpr const char* kCollectorPubFile = "collector.pub";

// Loads DATA/collector.key, creating the pair when there is none. A key
// another user owns or may read is refused (as ssh refuses one); two
// processes creating it at once end with one key, both using it.
Result<crypto::KeyPair> load_or_create_collector_key(const std::string& data_dir);

}  // namespace bt::collector::evidence
