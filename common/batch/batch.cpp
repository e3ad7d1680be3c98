#include "common/batch/batch.h"

#include <zstd.h>

#include <algorithm>
#include <cstring>
#include <limits>

#include "common/events/json.h"

namespace bt::batch {

namespace {

template <class T>
T load_le(const uint8_t* p) {
  T v = 0;
  for (std::size_t i = 0; i < sizeof(T); ++i) v |= static_cast<T>(p[i]) << (8 * i);
  return v;
}

template <class T>
void store_le(uint8_t* p, T v) {
  for (std::size_t i = 0; i < sizeof(T); ++i) p[i] = static_cast<uint8_t>(v >> (8 * i));
}

Error malformed(std::string what) { return make_error(ErrorCode::kMalformed, std::move(what)); }

std::string at(std::size_t off) { return " (offset " + std::to_string(off) + ")"; }

void encode_header(const Header& h, uint8_t* out) {
  std::memset(out, 0, kHeaderSize);
  std::memcpy(out + offset::kMagic, kMagic, sizeof kMagic);
  store_le<uint16_t>(out + offset::kFormatVersion, h.format_version);
  store_le<uint16_t>(out + offset::kHeaderSize, static_cast<uint16_t>(kHeaderSize));
  store_le<uint16_t>(out + offset::kSchemaVersion, h.schema_version);
  store_le<uint16_t>(out + offset::kFlags, h.flags);
  std::memcpy(out + offset::kAgentId, h.agent_id.data(), std::min(h.agent_id.size(), kAgentIdMax));
  std::memcpy(out + offset::kKeyId, h.key_id.data(), h.key_id.size());
  store_le<uint64_t>(out + offset::kSeq, h.seq);
  std::memcpy(out + offset::kPrevHash, h.prev_hash.data(), h.prev_hash.size());
  store_le<uint64_t>(out + offset::kFirstTime, h.first_time_ns);
  store_le<uint64_t>(out + offset::kLastTime, h.last_time_ns);
  store_le<uint32_t>(out + offset::kEventCount, h.event_count);
  store_le<uint32_t>(out + offset::kUncompressedSize, h.uncompressed_size);
  store_le<uint32_t>(out + offset::kPayloadSize, h.payload_size);
}

struct ZstdCCtxFree {
  void operator()(ZSTD_CCtx* c) const { ZSTD_freeCCtx(c); }
};
struct ZstdDCtxFree {
  void operator()(ZSTD_DCtx* d) const { ZSTD_freeDCtx(d); }
};

}  // namespace

bool valid_agent_id(std::string_view id) {
  if (id.empty() || id.size() > kAgentIdMax) return false;
  return std::all_of(id.begin(), id.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
  });
}

Result<Header> parse_header(std::span<const uint8_t> b, const Limits& limits) {
  if (b.size() < kHeaderSize)
    return make_error(ErrorCode::kTruncated, "batch is " + std::to_string(b.size()) + " bytes, shorter than the " +
                                                 std::to_string(kHeaderSize) + "-byte header");
  if (std::memcmp(b.data(), kMagic, sizeof kMagic) != 0) return malformed("bad magic" + at(0));
  Header h;
  h.format_version = load_le<uint16_t>(b.data() + offset::kFormatVersion);
  if (h.format_version != kFormatVersion)
    return malformed("unsupported format version " + std::to_string(h.format_version) + at(offset::kFormatVersion));
  const auto header_size = load_le<uint16_t>(b.data() + offset::kHeaderSize);
  if (header_size != kHeaderSize)
    return malformed("header size " + std::to_string(header_size) + " is not " + std::to_string(kHeaderSize) +
                     at(offset::kHeaderSize));
  h.schema_version = load_le<uint16_t>(b.data() + offset::kSchemaVersion);
  if (h.schema_version == 0 || h.schema_version > kSchemaVersion)
    return malformed("unsupported schema version " + std::to_string(h.schema_version) + at(offset::kSchemaVersion));
  h.flags = load_le<uint16_t>(b.data() + offset::kFlags);
  if (h.flags != 0) return malformed("unknown flags" + at(offset::kFlags));

  const uint8_t* id = b.data() + offset::kAgentId;
  std::size_t id_len = 0;
  while (id_len < kAgentIdMax && id[id_len] != 0) ++id_len;
  for (std::size_t i = id_len; i < kAgentIdMax; ++i)
    if (id[i] != 0) return malformed("agent id contains a NUL byte" + at(offset::kAgentId + id_len));
  h.agent_id.assign(reinterpret_cast<const char*>(id), id_len);
  if (!valid_agent_id(h.agent_id)) {
    std::size_t bad = 0;
    while (bad < id_len && valid_agent_id(std::string_view(h.agent_id).substr(bad, 1))) ++bad;
    return malformed(id_len == 0 ? "empty agent id" + at(offset::kAgentId)
                                 : "agent id has a byte outside [A-Za-z0-9_-]" + at(offset::kAgentId + bad));
  }
  std::memcpy(h.key_id.data(), b.data() + offset::kKeyId, h.key_id.size());
  h.seq = load_le<uint64_t>(b.data() + offset::kSeq);
  if (h.seq == 0) return malformed("sequence number 0 (chains start at 1)" + at(offset::kSeq));
  if (h.seq > kMaxSeq)
    return malformed("sequence number " + std::to_string(h.seq) + " is above 2^63-1" + at(offset::kSeq));
  std::memcpy(h.prev_hash.data(), b.data() + offset::kPrevHash, h.prev_hash.size());
  // seq 1 starts a chain: nothing comes before it to name.
  if (h.seq == 1 && h.prev_hash != crypto::Digest{})
    return malformed("seq 1 with a non-zero prev_hash" + at(offset::kPrevHash));
  h.first_time_ns = load_le<uint64_t>(b.data() + offset::kFirstTime);
  h.last_time_ns = load_le<uint64_t>(b.data() + offset::kLastTime);
  if (h.first_time_ns > h.last_time_ns)
    return malformed("first event time is after last event time" + at(offset::kFirstTime));
  h.event_count = load_le<uint32_t>(b.data() + offset::kEventCount);
  if (h.event_count > limits.max_events)
    return make_error(ErrorCode::kTooLarge, "event count " + std::to_string(h.event_count) + " exceeds the limit of " +
                                                std::to_string(limits.max_events));
  h.uncompressed_size = load_le<uint32_t>(b.data() + offset::kUncompressedSize);
  if (h.uncompressed_size > limits.max_uncompressed_bytes)
    return make_error(ErrorCode::kTooLarge, "uncompressed size " + std::to_string(h.uncompressed_size) +
                                                " exceeds the limit of " +
                                                std::to_string(limits.max_uncompressed_bytes));
  h.payload_size = load_le<uint32_t>(b.data() + offset::kPayloadSize);
  if (load_le<uint32_t>(b.data() + offset::kReserved) != 0)
    return malformed("reserved bytes are not zero" + at(offset::kReserved));
  const uint64_t expected = kHeaderSize + uint64_t{h.payload_size} + kSignatureSize;
  if (expected > limits.max_batch_bytes)
    return make_error(ErrorCode::kTooLarge, "batch of " + std::to_string(expected) + " bytes exceeds the limit of " +
                                                std::to_string(limits.max_batch_bytes));
  if (b.size() < expected)
    return make_error(ErrorCode::kTruncated,
                      "batch is " + std::to_string(b.size()) + " bytes, header announces " + std::to_string(expected));
  if (b.size() > expected)
    return malformed(std::to_string(b.size() - expected) + " trailing bytes after the signature" + at(expected));
  return h;
}

crypto::Digest batch_hash(std::span<const uint8_t> batch) { return crypto::sha256(batch); }

std::string pae(std::string_view body) {
  std::string out;
  out.reserve(32 + kPayloadType.size() + body.size());
  out.append("DSSEv1 ").append(std::to_string(kPayloadType.size())).append(" ");
  out.append(kPayloadType).append(" ").append(std::to_string(body.size())).append(" ");
  out.append(body);
  return out;
}

std::string encode_signed(const Header& h, std::string_view payload, const crypto::KeyPair& key) {
  // Assemble PAE prefix || header || payload once, sign it, then keep the
  // batch (everything after the prefix) followed by the signature.
  std::string prefix = pae("");
  prefix.resize(prefix.size() - 2);  // drop the "0 " so the real length goes in
  prefix += std::to_string(kHeaderSize + payload.size()) + " ";
  std::string message;
  message.reserve(prefix.size() + kHeaderSize + payload.size() + kSignatureSize);
  message = prefix;
  message.resize(prefix.size() + kHeaderSize);
  encode_header(h, reinterpret_cast<uint8_t*>(message.data() + prefix.size()));
  message.append(payload);
  const crypto::Signature sig = crypto::sign(key, crypto::as_bytes(message));
  message.append(reinterpret_cast<const char*>(sig.data()), sig.size());
  message.erase(0, prefix.size());
  return message;
}

// ---- sealing -------------------------------------------------------------------

struct Sealer::Impl {
  crypto::KeyPair key;
  crypto::KeyId key_id;
  std::string agent_id;
  int level;
  std::unique_ptr<ZSTD_CCtx, ZstdCCtxFree> cctx{ZSTD_createCCtx()};
  events::JsonLineWriter json;
  std::string compressed;
  uint32_t count = 0;
  uint64_t first = std::numeric_limits<uint64_t>::max();
  uint64_t last = 0;
};

Sealer::Sealer(const crypto::KeyPair& key, std::string agent_id, int zstd_level) : impl_(std::make_unique<Impl>()) {
  impl_->key = key;
  impl_->key_id = crypto::key_id(key.public_key);
  impl_->agent_id = std::move(agent_id);
  impl_->level = zstd_level;
}
Sealer::~Sealer() = default;

bool Sealer::add(const events::Event& event) {
  const std::size_t before = impl_->json.size();
  if (event.agent_id == impl_->agent_id) {
    impl_->json.append(event);
  } else {
    events::Event stamped = event;
    stamped.agent_id = impl_->agent_id;
    impl_->json.append(stamped);
  }
  if (impl_->json.size() - before > kMaxEventJsonBytes) {
    impl_->json.truncate(before);
    return false;
  }
  ++impl_->count;
  impl_->first = std::min(impl_->first, event.time_ns);
  impl_->last = std::max(impl_->last, event.time_ns);
  return true;
}

std::size_t Sealer::pending_events() const { return impl_->count; }
std::size_t Sealer::pending_json_bytes() const { return impl_->json.size(); }

Result<Sealed> Sealer::seal(uint64_t seq, const crypto::Digest& prev_hash) {
  Impl& s = *impl_;
  if (!valid_agent_id(s.agent_id))
    return make_error(ErrorCode::kInvalidArgument, "invalid agent id '" + s.agent_id + "'");
  if (seq == 0 || seq > kMaxSeq)
    return make_error(ErrorCode::kInvalidArgument, "sequence number " + std::to_string(seq) + " is outside 1..2^63-1");
  if (seq == 1 && prev_hash != crypto::Digest{})
    return make_error(ErrorCode::kInvalidArgument, "seq 1 starts a chain: its prev_hash must be zero");
  const std::string_view json = s.json.view();
  if (json.size() > std::numeric_limits<uint32_t>::max())
    return make_error(ErrorCode::kTooLarge, "batch JSON exceeds 4 GiB");

  s.compressed.resize(ZSTD_compressBound(json.size()));
  ZSTD_CCtx_setParameter(s.cctx.get(), ZSTD_c_compressionLevel, s.level);
  ZSTD_CCtx_setParameter(s.cctx.get(), ZSTD_c_contentSizeFlag, 1);
  ZSTD_CCtx_setParameter(s.cctx.get(), ZSTD_c_checksumFlag, 0);  // the signature covers it
  const std::size_t n =
      ZSTD_compress2(s.cctx.get(), s.compressed.data(), s.compressed.size(), json.data(), json.size());
  if (ZSTD_isError(n)) return make_error(ErrorCode::kInternal, std::string("zstd: ") + ZSTD_getErrorName(n));

  Sealed out;
  Header& h = out.header;
  h.agent_id = s.agent_id;
  h.key_id = s.key_id;
  h.seq = seq;
  h.prev_hash = prev_hash;
  h.first_time_ns = s.count ? s.first : 0;
  h.last_time_ns = s.count ? s.last : 0;
  h.event_count = s.count;
  h.uncompressed_size = static_cast<uint32_t>(json.size());
  h.payload_size = static_cast<uint32_t>(n);

  out.bytes = encode_signed(h, std::string_view(s.compressed.data(), n), s.key);
  out.hash = batch_hash(crypto::as_bytes(out.bytes));

  s.json.clear();
  s.count = 0;
  s.first = std::numeric_limits<uint64_t>::max();
  s.last = 0;
  return out;
}

// ---- opening -------------------------------------------------------------------

Result<Opened> open(std::span<const uint8_t> b, const crypto::PublicKey& key, const Limits& limits) {
  auto header = parse_header(b, limits);
  if (!header) return header.error();
  const Header& h = *header;
  if (h.key_id != crypto::key_id(key))
    return make_error(ErrorCode::kUnknownKey, "batch key id " + crypto::to_hex(h.key_id) +
                                                  " does not match the public key's " +
                                                  crypto::to_hex(crypto::key_id(key)));
  const std::size_t body_size = kHeaderSize + h.payload_size;
  crypto::Signature sig{};
  std::memcpy(sig.data(), b.data() + body_size, sig.size());
  const std::string message = pae(std::string_view(reinterpret_cast<const char*>(b.data()), body_size));
  if (!crypto::verify(key, crypto::as_bytes(message), sig))
    return make_error(ErrorCode::kBadSignature, "signature does not verify");

  const uint8_t* payload = b.data() + kHeaderSize;
  const unsigned long long content = ZSTD_getFrameContentSize(payload, h.payload_size);
  if (content == ZSTD_CONTENTSIZE_ERROR) return malformed("payload is not a zstd frame" + at(kHeaderSize));
  if (content == ZSTD_CONTENTSIZE_UNKNOWN)
    return malformed("zstd frame does not declare its content size" + at(kHeaderSize));
  if (content != h.uncompressed_size)
    return malformed("zstd frame declares " + std::to_string(content) + " bytes, header declares " +
                     std::to_string(h.uncompressed_size));
  if (ZSTD_findFrameCompressedSize(payload, h.payload_size) != h.payload_size)
    return malformed("payload is not exactly one zstd frame" + at(kHeaderSize));

  Opened out;
  out.header = h;
  out.hash = batch_hash(b);
  // The output buffer is the declared size (already bounded by the limit);
  // a frame that expands further fails with "destination too small" instead
  // of allocating more.
  out.json.resize(h.uncompressed_size);
  // One decompression context per thread, reused: creating one costs
  // microseconds (noticeable for small batches), and ZSTD_decompressDCtx
  // starts every frame afresh.
  thread_local const std::unique_ptr<ZSTD_DCtx, ZstdDCtxFree> dctx(ZSTD_createDCtx());
  if (!dctx) return make_error(ErrorCode::kInternal, "zstd: cannot create a decompression context");
  const std::size_t n = ZSTD_decompressDCtx(dctx.get(), out.json.data(), out.json.size(), payload, h.payload_size);
  if (ZSTD_isError(n)) return malformed(std::string("zstd: ") + ZSTD_getErrorName(n) + at(kHeaderSize));
  if (n != h.uncompressed_size)
    return malformed("payload decompressed to " + std::to_string(n) + " bytes, header declares " +
                     std::to_string(h.uncompressed_size));
  return out;
}

Status for_each_event(const Opened& batch, const std::function<void(events::Event&&)>& on_event) {
  const Header& h = batch.header;
  std::string_view rest = batch.json;
  if (!rest.empty() && rest.back() != '\n') return malformed("last event line is not terminated");
  events::JsonLineReader reader;
  // One event parsed into over and over: when `on_event` does not move from
  // it, its strings and lists keep their capacity for the next line.
  events::Event event;
  uint32_t count = 0;
  uint64_t first = std::numeric_limits<uint64_t>::max(), last = 0;
  std::size_t pos = 0;
  while (pos < rest.size()) {
    const std::size_t nl = rest.find('\n', pos);
    Status parsed = reader.parse_into(rest.substr(pos, nl - pos), event);
    if (!parsed)
      return with_context("event " + std::to_string(count + 1) + " (payload offset " + std::to_string(pos) + ")",
                          parsed.error());
    if (event.agent_id != h.agent_id)
      return malformed("event " + std::to_string(count + 1) + " names agent '" + event.agent_id +
                       "', batch is signed by '" + h.agent_id + "'");
    ++count;
    first = std::min(first, event.time_ns);
    last = std::max(last, event.time_ns);
    on_event(std::move(event));
    pos = nl + 1;
  }
  if (count != h.event_count)
    return malformed("header declares " + std::to_string(h.event_count) + " events, payload has " +
                     std::to_string(count));
  if (count > 0 && (first != h.first_time_ns || last != h.last_time_ns))
    return malformed("event times do not match the header's first/last time");
  return Ok{};
}

}  // namespace bt::batch
