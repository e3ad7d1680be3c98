// DSSE v1 envelopes (github.com/secure-systems-lab/dsse, envelope.md and
// protocol.md): the JSON form of a signed payload that third-party
// verifiers (securesystemslib, in-toto, cosign) read. Two uses here:
//
//  - a batch as an envelope, without re-signing: the agent's Ed25519
//    signature is over PAE("application/vnd.buildtrail.batch.v1", header ||
//    payload) (docs/batch-format.md), which is what DSSE signs, so the
//    envelope carries header || payload as `payload` and the batch's 64
//    signature bytes as `sig`; the batch comes back byte for byte;
//  - an in-toto statement signed by the collector's own key.
//
// Envelope JSON is written and read with RapidJSON, base64 with libsodium
// (standard alphabet with padding, as DSSE's examples; the parser also
// takes the URL-safe alphabet, which DSSE verifiers must accept).
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/crypto/keys.h"
#include "common/result.h"

namespace bt::collector::evidence {

inline constexpr std::string_view kInTotoPayloadType = "application/vnd.in-toto+json";

struct EnvelopeSignature {
  std::string keyid;  // 16 hex digits of crypto::key_id (may be empty in envelopes from elsewhere)
  std::string sig;    // raw signature bytes
};

struct Envelope {
  std::string payload_type;
  std::string payload;  // raw bytes (base64 only in the JSON)
  std::vector<EnvelopeSignature> signatures;
};

// The DSSE v1 pre-authentication encoding of (type, body).
std::string pae(std::string_view type, std::string_view body);

// One line of JSON (no newline): {"payloadType","payload","signatures"}.
std::string to_json(const Envelope& envelope);
// Parses one envelope; anything but the DSSE shape is a one-line error.
// Unknown members are ignored, as the DSSE spec asks.
Result<Envelope> parse_envelope(std::string_view json);

// Signs `payload` as `type` with `key`: one signature, keyid = key id hex.
Envelope sign(std::string_view type, std::string payload, const crypto::KeyPair& key);
// Whether a signature of the envelope whose keyid is the key's (or is
// empty) verifies with `key` over PAE(payload_type, payload).
[[nodiscard]] bool verify(const Envelope& envelope, const crypto::PublicKey& key);

// The envelope of a signed batch, as is: structure checked (header parse,
// exact length), no key needed and nothing re-signed.
Result<Envelope> from_batch(std::span<const uint8_t> batch);
// The batch bytes an envelope of payloadType batch.v1 carries (payload ||
// sig): kMalformed unless it has that type and exactly one signature of 64
// bytes. The caller verifies the result as any batch (batch::open).
Result<std::string> to_batch(const Envelope& envelope);

}  // namespace bt::collector::evidence
