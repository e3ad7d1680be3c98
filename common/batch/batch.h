// The signed batch: one self-contained byte string that is at once the spool
// file, the HTTP body and the archive object. docs/batch-format.md is the
// normative description; the layout constants below are checked against it
// by tests/common/batch_test.cpp.
//
//   header (kHeaderSize bytes, little-endian) | payload (zstd frame of JSON
//   lines) | Ed25519 signature (64 bytes) over
//   PAE(kPayloadType, header || payload)   -- DSSE v1 pre-authentication encoding
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "common/crypto/keys.h"
#include "common/events/event.h"
#include "common/result.h"

namespace bt::batch {

inline constexpr char kMagic[8] = {'B', 'T', 'B', 'A', 'T', 'C', 'H', '\0'};
inline constexpr uint16_t kFormatVersion = 1;
inline constexpr uint16_t kSchemaVersion = 1;
inline constexpr std::size_t kHeaderSize = 160;
inline constexpr std::size_t kAgentIdMax = 64;
inline constexpr std::size_t kSignatureSize = 64;
// Sequence numbers run from 1 to 2^63 - 1: every valid seq fits a signed
// 64-bit integer, so a store (SQLite INTEGER) keeps it exactly and compares
// it as a number. A header outside the range is malformed.
inline constexpr uint64_t kMaxSeq = static_cast<uint64_t>(INT64_MAX);
inline constexpr std::string_view kPayloadType = "application/vnd.buildtrail.batch.v1";
// zstd level 1: on build events it compresses both better and faster than 3
// (26x vs 23.6x, ~450 vs ~650 ns/event; bench/batch prints the levels).
inline constexpr int kDefaultZstdLevel = 1;

// How large a batch can be, so the collector can refuse anything larger
// before buffering it. An agent seals once its JSON reaches batch.max_bytes
// (at most kMaxSealJsonBytes) and the event that crossed the mark is at
// most kMaxEventJsonBytes (a larger one is dropped and counted). zstd never
// grows its input by more than ZSTD_COMPRESSBOUND's margin.
inline constexpr std::size_t kMaxSealJsonBytes = 4u << 20;
inline constexpr std::size_t kMaxEventJsonBytes = 2u << 20;
inline constexpr std::size_t kMaxBatchJsonBytes = kMaxSealJsonBytes + kMaxEventJsonBytes;
inline constexpr std::size_t kMaxWireBytes =
    kHeaderSize + kSignatureSize + kMaxBatchJsonBytes + (kMaxBatchJsonBytes >> 8) + (128u << 10);

// Field offsets of the v1 header (see docs/batch-format.md, "Header").
namespace offset {
inline constexpr std::size_t kMagic = 0;
inline constexpr std::size_t kFormatVersion = 8;
inline constexpr std::size_t kHeaderSize = 10;
inline constexpr std::size_t kSchemaVersion = 12;
inline constexpr std::size_t kFlags = 14;
inline constexpr std::size_t kAgentId = 16;
inline constexpr std::size_t kKeyId = 80;
inline constexpr std::size_t kSeq = 88;
inline constexpr std::size_t kPrevHash = 96;
inline constexpr std::size_t kFirstTime = 128;
inline constexpr std::size_t kLastTime = 136;
inline constexpr std::size_t kEventCount = 144;
inline constexpr std::size_t kUncompressedSize = 148;
inline constexpr std::size_t kPayloadSize = 152;
inline constexpr std::size_t kReserved = 156;
}  // namespace offset

struct Header {
  uint16_t format_version = kFormatVersion;
  uint16_t schema_version = kSchemaVersion;
  uint16_t flags = 0;
  std::string agent_id;
  crypto::KeyId key_id{};
  uint64_t seq = 0;
  crypto::Digest prev_hash{};
  uint64_t first_time_ns = 0;
  uint64_t last_time_ns = 0;
  uint32_t event_count = 0;
  uint32_t uncompressed_size = 0;
  uint32_t payload_size = 0;
};

// The v1 header is written field by field (encode_header), not by copying a
// packed struct, so there is no sizeof/offsetof to check. Instead: the
// fields tile kHeaderSize bytes, each starting where the one before ends, at
// the width of the Header member it carries. Moving an offset or widening a
// member without the other fails here.
static_assert(offset::kMagic + sizeof kMagic == offset::kFormatVersion);
static_assert(offset::kFormatVersion + sizeof(Header::format_version) == offset::kHeaderSize);
static_assert(offset::kHeaderSize + sizeof(uint16_t) == offset::kSchemaVersion);
static_assert(offset::kSchemaVersion + sizeof(Header::schema_version) == offset::kFlags);
static_assert(offset::kFlags + sizeof(Header::flags) == offset::kAgentId);
static_assert(offset::kAgentId + kAgentIdMax == offset::kKeyId);
static_assert(offset::kKeyId + std::tuple_size_v<crypto::KeyId> == offset::kSeq);
static_assert(offset::kSeq + sizeof(Header::seq) == offset::kPrevHash);
static_assert(offset::kPrevHash + std::tuple_size_v<crypto::Digest> == offset::kFirstTime);
static_assert(offset::kFirstTime + sizeof(Header::first_time_ns) == offset::kLastTime);
static_assert(offset::kLastTime + sizeof(Header::last_time_ns) == offset::kEventCount);
static_assert(offset::kEventCount + sizeof(Header::event_count) == offset::kUncompressedSize);
static_assert(offset::kUncompressedSize + sizeof(Header::uncompressed_size) == offset::kPayloadSize);
static_assert(offset::kPayloadSize + sizeof(Header::payload_size) == offset::kReserved);
static_assert(offset::kReserved + sizeof(uint32_t) == kHeaderSize);
static_assert(kHeaderSize <= UINT16_MAX);  // the header_size field is a uint16_t

// Decoder limits; every allocation the decoder makes is bounded by these.
struct Limits {
  std::size_t max_batch_bytes = kMaxWireBytes;              // whole batch on the wire
  std::size_t max_uncompressed_bytes = kMaxBatchJsonBytes;  // JSON after decompression
  uint32_t max_events = 1u << 20;
};

// Agent ids: 1..64 of [A-Za-z0-9_-]. They name folders and database rows, so
// anything else (dots, slashes, NUL) is refused at the first byte.
[[nodiscard]] bool valid_agent_id(std::string_view id);

// Structural parse of the header alone: magic, version, sizes, agent id.
// Does not authenticate anything.
Result<Header> parse_header(std::span<const uint8_t> batch, const Limits& limits = {});

// SHA-256 over the whole batch; the chain link and the archive address.
crypto::Digest batch_hash(std::span<const uint8_t> batch);

// The DSSE v1 PAE of (kPayloadType, body), the exact message signed.
std::string pae(std::string_view body);

// Lays out header || payload, signs PAE(kPayloadType, header || payload)
// and appends the signature. Header sizes are taken from `header` as given,
// so tests can build deliberately inconsistent batches; Sealer fills them in.
std::string encode_signed(const Header& header, std::string_view payload, const crypto::KeyPair& key);

struct Sealed {
  std::string bytes;
  Header header;
  crypto::Digest hash{};
};

// Turns events into sealed batches. Owns reusable compression and JSON
// buffers; one per agent chain, not thread-safe.
class Sealer {
 public:
  Sealer(const crypto::KeyPair& key, std::string agent_id, int zstd_level = kDefaultZstdLevel);
  ~Sealer();
  Sealer(const Sealer&) = delete;
  Sealer& operator=(const Sealer&) = delete;

  // Adds one event; false, adding nothing, when its JSON line is longer
  // than kMaxEventJsonBytes. Its agent_id is forced to the sealer's so a
  // batch never vouches for events of another agent.
  bool add(const events::Event& event);
  std::size_t pending_events() const;
  std::size_t pending_json_bytes() const;

  // Compresses and signs the pending events as batch `seq` chained to
  // `prev_hash`, then clears them. An empty batch is allowed.
  Result<Sealed> seal(uint64_t seq, const crypto::Digest& prev_hash);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// An authenticated, decompressed batch.
struct Opened {
  Header header;
  crypto::Digest hash{};
  std::string json;  // JSON lines, each ending in '\n'
};

// Verifies the signature with `key`, checks the key id, then decompresses
// within limits. The payload is never decompressed before the signature
// verifies.
Result<Opened> open(std::span<const uint8_t> batch, const crypto::PublicKey& key, const Limits& limits = {});

// Parses every line of an opened batch, checking that count, time range and
// agent id agree with the header. `on_event` sees each event in order.
Status for_each_event(const Opened& batch, const std::function<void(events::Event&&)>& on_event);

}  // namespace bt::batch
