#include "common/crypto/keys.h"

#include <sodium.h>

#include <unistd.h>

#include <cstring>

#include "common/fs.h"

namespace bt::crypto {

namespace {

// DER prefixes of the only two structures we read and write (RFC 8410):
// SubjectPublicKeyInfo{id-Ed25519, BIT STRING(32)} and
// OneAsymmetricKey{v1, id-Ed25519, OCTET STRING(OCTET STRING(32))}.
constexpr uint8_t kSpkiPrefix[] = {0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00};
constexpr uint8_t kPkcs8Prefix[] = {0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06,
                                    0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20};
constexpr std::size_t kMaxKeyFile = 16 * 1024;

void ensure_sodium() {
  static const int rc = sodium_init();
  (void)rc;  // 1 (already initialised) and 0 are both fine; -1 cannot recover
}

std::string pem_wrap(std::string_view label, std::span<const uint8_t> der) {
  std::string b64 = to_base64(der);
  std::string out = "-----BEGIN " + std::string(label) + "-----\n";
  for (std::size_t i = 0; i < b64.size(); i += 64) out += b64.substr(i, 64) + "\n";
  out += "-----END " + std::string(label) + "-----\n";
  return out;
}

Result<std::string> pem_unwrap(std::string_view pem, std::string_view label) {
  const std::string begin = "-----BEGIN " + std::string(label) + "-----";
  const std::string end = "-----END " + std::string(label) + "-----";
  auto b = pem.find(begin);
  if (b == std::string_view::npos) return make_error(ErrorCode::kMalformed, "no '" + begin + "' line");
  b += begin.size();
  auto e = pem.find(end, b);
  if (e == std::string_view::npos) return make_error(ErrorCode::kMalformed, "no '" + end + "' line");
  std::string_view body = pem.substr(b, e - b);
  std::string der(body.size(), '\0');
  std::size_t der_len = 0;
  if (sodium_base642bin(reinterpret_cast<unsigned char*>(der.data()), der.size(), body.data(), body.size(), " \r\n\t",
                        &der_len, nullptr, sodium_base64_VARIANT_ORIGINAL) != 0)
    return make_error(ErrorCode::kMalformed, "invalid base64 in PEM body");
  der.resize(der_len);
  return der;
}

Result<std::array<uint8_t, 32>> strip_prefix(const std::string& der, std::span<const uint8_t> prefix,
                                             const char* what) {
  if (der.size() != prefix.size() + 32 || std::memcmp(der.data(), prefix.data(), prefix.size()) != 0)
    return make_error(ErrorCode::kMalformed, std::string("not an Ed25519 ") + what);
  std::array<uint8_t, 32> raw{};
  std::memcpy(raw.data(), der.data() + prefix.size(), 32);
  return raw;
}

}  // namespace

KeyPair::~KeyPair() { sodium_memzero(secret_key.data(), secret_key.size()); }

std::span<const uint8_t> as_bytes(std::string_view s) { return {reinterpret_cast<const uint8_t*>(s.data()), s.size()}; }

Result<KeyPair> generate_key_pair() {
  ensure_sodium();
  KeyPair kp;
  if (crypto_sign_keypair(kp.public_key.data(), kp.secret_key.data()) != 0)
    return make_error(ErrorCode::kCrypto, "crypto_sign_keypair failed");
  return kp;
}

Digest sha256(std::span<const uint8_t> data) {
  Digest d{};
  crypto_hash_sha256(d.data(), data.data(), data.size());
  return d;
}

KeyId key_id(const PublicKey& key) {
  Digest d = sha256(key);
  KeyId id{};
  std::memcpy(id.data(), d.data(), id.size());
  return id;
}

Signature sign(const KeyPair& key, std::span<const uint8_t> message) {
  ensure_sodium();
  Signature sig{};
  crypto_sign_detached(sig.data(), nullptr, message.data(), message.size(), key.secret_key.data());
  return sig;
}

bool verify(const PublicKey& key, std::span<const uint8_t> message, const Signature& signature) {
  ensure_sodium();
  return crypto_sign_verify_detached(signature.data(), message.data(), message.size(), key.data()) == 0;
}

std::string to_hex(std::span<const uint8_t> bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out(bytes.size() * 2, '\0');
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    out[2 * i] = kDigits[bytes[i] >> 4];
    out[2 * i + 1] = kDigits[bytes[i] & 0xf];
  }
  return out;
}

std::string to_base64(std::span<const uint8_t> bytes) {
  const std::size_t len = sodium_base64_encoded_len(bytes.size(), sodium_base64_VARIANT_ORIGINAL);
  std::string out(len, '\0');
  sodium_bin2base64(out.data(), len, bytes.data(), bytes.size(), sodium_base64_VARIANT_ORIGINAL);
  out.resize(len - 1);  // drop the terminating NUL
  return out;
}

std::string public_key_pem(const PublicKey& key) {
  std::array<uint8_t, sizeof kSpkiPrefix + 32> der{};
  std::memcpy(der.data(), kSpkiPrefix, sizeof kSpkiPrefix);
  std::memcpy(der.data() + sizeof kSpkiPrefix, key.data(), 32);
  return pem_wrap("PUBLIC KEY", der);
}

std::string private_key_pem(const KeyPair& key) {
  std::array<uint8_t, sizeof kPkcs8Prefix + 32> der{};
  std::memcpy(der.data(), kPkcs8Prefix, sizeof kPkcs8Prefix);
  std::memcpy(der.data() + sizeof kPkcs8Prefix, key.secret_key.data(), 32);  // the seed
  std::string pem = pem_wrap("PRIVATE KEY", der);
  sodium_memzero(der.data(), der.size());
  return pem;
}

Result<PublicKey> parse_public_key_pem(std::string_view pem) {
  auto der = pem_unwrap(pem, "PUBLIC KEY");
  if (!der) return der.error();
  return strip_prefix(*der, kSpkiPrefix, "public key (SubjectPublicKeyInfo)");
}

Result<KeyPair> parse_private_key_pem(std::string_view pem) {
  ensure_sodium();
  auto der = pem_unwrap(pem, "PRIVATE KEY");
  if (!der) return der.error();
  auto seed = strip_prefix(*der, kPkcs8Prefix, "private key (PKCS#8)");
  sodium_memzero(der->data(), der->size());
  if (!seed) return seed.error();
  KeyPair kp;
  crypto_sign_seed_keypair(kp.public_key.data(), kp.secret_key.data(), seed->data());
  sodium_memzero(seed->data(), seed->size());
  return kp;
}

Result<PublicKey> load_public_key(const std::string& path) {
  auto text = fs::read_file(path, kMaxKeyFile);
  if (!text) return text.error();
  auto key = parse_public_key_pem(*text);
  if (!key) return with_context(path, key.error());
  return key;
}

Result<KeyPair> load_private_key(const std::string& path) {
  auto text = fs::read_file(path, kMaxKeyFile);
  if (!text) return text.error();
  auto key = parse_private_key_pem(*text);
  sodium_memzero(text->data(), text->size());
  if (!key) return with_context(path, key.error());
  return key;
}

Result<KeyPair> load_private_key(const fs::PrivateDir& dir, std::string_view name) {
  auto text = dir.read_owned(name, kMaxKeyFile, 077);
  if (!text) return text.error();
  auto key = parse_private_key_pem(*text);
  sodium_memzero(text->data(), text->size());
  if (!key) return with_context(dir.path_of(name), key.error());
  return key;
}

Status write_key_pair(const std::string& dir, const KeyPair& key) {
  auto folder = fs::PrivateDir::open(dir, true);
  if (!folder) return folder.error();
  return write_key_pair(*folder, key);
}

Status write_key_pair(const fs::PrivateDir& dir, const KeyPair& key) {
  // Check both first so a refusal never leaves a half-written pair behind.
  for (const char* name : {"agent.key", "agent.pub"}) {
    if (dir.exists(name))
      return make_error(ErrorCode::kExists, dir.path_of(name) + ": already exists, refusing to overwrite");
  }
  std::string pem = private_key_pem(key);
  Status s = dir.write_new("agent.key", pem, 0600);
  sodium_memzero(pem.data(), pem.size());
  if (!s) return s;
  return dir.write_new("agent.pub", public_key_pem(key.public_key), 0644);
}

}  // namespace bt::crypto
