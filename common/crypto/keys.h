// Ed25519 identities (libsodium) and the hashes the batch chain uses.
// Keys are stored as standard PEM so other tools (openssl, DSSE/in-toto
// verifiers) read them as they are: public keys as SubjectPublicKeyInfo
// ("PUBLIC KEY"), private keys as PKCS#8 ("PRIVATE KEY").
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "common/private_dir.h"
#include "common/result.h"

namespace bt::crypto {

using PublicKey = std::array<uint8_t, 32>;
using Seed = std::array<uint8_t, 32>;
using Signature = std::array<uint8_t, 64>;
using Digest = std::array<uint8_t, 32>;
// First 8 bytes of SHA-256 over the raw public key; names a key in batch
// headers and in the DSSE envelope's keyid (as 16 hex digits).
using KeyId = std::array<uint8_t, 8>;

struct KeyPair {
  PublicKey public_key{};
  std::array<uint8_t, 64> secret_key{};  // libsodium layout: seed || public key
  ~KeyPair();                            // wipes the secret
  KeyPair() = default;
  KeyPair(const KeyPair&) = default;
  KeyPair& operator=(const KeyPair&) = default;
};

std::span<const uint8_t> as_bytes(std::string_view s);

Result<KeyPair> generate_key_pair();
KeyId key_id(const PublicKey& key);
Digest sha256(std::span<const uint8_t> data);

Signature sign(const KeyPair& key, std::span<const uint8_t> message);
[[nodiscard]] bool verify(const PublicKey& key, std::span<const uint8_t> message, const Signature& signature);

std::string to_hex(std::span<const uint8_t> bytes);
std::string to_base64(std::span<const uint8_t> bytes);

std::string public_key_pem(const PublicKey& key);
std::string private_key_pem(const KeyPair& key);
Result<PublicKey> parse_public_key_pem(std::string_view pem);
Result<KeyPair> parse_private_key_pem(std::string_view pem);

Result<PublicKey> load_public_key(const std::string& path);
Result<KeyPair> load_private_key(const std::string& path);

// Writes DIR/agent.key (mode 0600) and DIR/agent.pub. Refuses to overwrite
// either file; creates DIR (0700) if missing, and refuses a DIR another
// user controls (common/private_dir.h).
Status write_key_pair(const std::string& dir, const KeyPair& key);
Status write_key_pair(const fs::PrivateDir& dir, const KeyPair& key);
// Loads `name` in `dir`, refusing (as ssh does) a key that is not the
// running user's or that anyone else may read or write.
Result<KeyPair> load_private_key(const fs::PrivateDir& dir, std::string_view name);

}  // namespace bt::crypto
