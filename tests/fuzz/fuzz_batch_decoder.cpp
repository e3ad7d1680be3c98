// Fuzzes the collector's view of a signed batch (common/batch/batch.h).
//
// Every input goes through up to three paths:
//  1. as it comes off the wire: parse_header, then open with the fixed test
//     key (the key of tests/data/vectors, so real seed batches verify), then
//     for_each_event;
//  2. re-signed: when the bytes do not verify, the header fields are taken
//     from the input (fixed up just enough to pass the structural checks),
//     the bytes between header and signature become the payload, and the
//     whole is signed with the test key. The zstd frame checks, the
//     decompressor and the JSON reader then see fuzzed bytes behind a valid
//     signature;
//  3. as a payload: an input that is not a batch is taken as the JSON lines
//     themselves, compressed and sealed with a header that agrees with it;
//     for_each_event is then checked against an independent line-by-line
//     parse.
// Broken invariants abort with a message; plain decode errors are expected.
#include <zstd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/batch/batch.h"
#include "common/events/json.h"
#include "tests/common/test_util.h"

namespace {

using namespace bt;

// Small limits keep every allocation (and each iteration) cheap.
const batch::Limits kLimits{
    .max_batch_bytes = 1u << 20,
    .max_uncompressed_bytes = 4u << 20,
    .max_events = 4096,
};
constexpr std::string_view kFallbackAgent = "fuzz-agent";

const crypto::KeyPair& test_key() {
  static const crypto::KeyPair key = testing::test_key(7);  // signs tests/data/vectors
  return key;
}

[[noreturn]] void fail(const char* what, const std::string& detail = {}) {
  std::fprintf(stderr, "fuzz_batch_decoder: invariant broken: %s%s%s\n", what, detail.empty() ? "" : ": ",
               detail.c_str());
  std::abort();
}

template <class T>
T load_le(const uint8_t* p) {
  T v = 0;
  for (std::size_t i = 0; i < sizeof(T); ++i) v |= static_cast<T>(p[i]) << (8 * i);
  return v;
}

bool same_header(const batch::Header& a, const batch::Header& b) {
  return a.format_version == b.format_version && a.schema_version == b.schema_version && a.flags == b.flags &&
         a.agent_id == b.agent_id && a.key_id == b.key_id && a.seq == b.seq && a.prev_hash == b.prev_hash &&
         a.first_time_ns == b.first_time_ns && a.last_time_ns == b.last_time_ns && a.event_count == b.event_count &&
         a.uncompressed_size == b.uncompressed_size && a.payload_size == b.payload_size;
}

// Path 1: how far the bytes got.
enum class Outcome { kBadHeader, kNotAuthentic, kBadPayload, kOpened };

Outcome decode(std::span<const uint8_t> bytes) {
  auto header = batch::parse_header(bytes, kLimits);
  auto opened = batch::open(bytes, test_key().public_key, kLimits);
  if (!header) {
    if (opened) fail("open accepted a batch parse_header refused", header.error().message);
    return Outcome::kBadHeader;
  }
  if (!opened) {
    const ErrorCode c = opened.error().code;
    if (c == ErrorCode::kBadSignature || c == ErrorCode::kUnknownKey) return Outcome::kNotAuthentic;
    return Outcome::kBadPayload;
  }
  const batch::Opened& o = *opened;
  if (!same_header(o.header, *header)) fail("open and parse_header disagree on the header");
  if (o.json.size() != o.header.uncompressed_size) fail("opened JSON size differs from the header's uncompressed size");
  if (o.hash != batch::batch_hash(bytes)) fail("opened hash is not the batch hash");

  uint32_t seen = 0;
  Status s = batch::for_each_event(o, [&](events::Event&& e) {
    ++seen;
    if (e.agent_id != o.header.agent_id) fail("for_each_event passed an event of another agent");
  });
  if (s && seen != o.header.event_count) fail("for_each_event succeeded with a count other than the header's");
  return Outcome::kOpened;
}

// Path 2: the input's header fields and payload, re-signed with the test key.
void decode_resigned(std::span<const uint8_t> bytes) {
  if (bytes.size() < batch::kHeaderSize + batch::kSignatureSize) return;
  const uint8_t* raw = bytes.data();
  const std::span<const uint8_t> payload =
      bytes.subspan(batch::kHeaderSize, bytes.size() - batch::kHeaderSize - batch::kSignatureSize);

  batch::Header h;  // format, schema and flags keep their valid defaults
  std::size_t id_len = 0;
  while (id_len < batch::kAgentIdMax && raw[batch::offset::kAgentId + id_len] != 0) ++id_len;
  h.agent_id.assign(reinterpret_cast<const char*>(raw + batch::offset::kAgentId), id_len);
  if (!batch::valid_agent_id(h.agent_id)) h.agent_id = kFallbackAgent;
  h.key_id = crypto::key_id(test_key().public_key);
  h.seq = load_le<uint64_t>(raw + batch::offset::kSeq) % batch::kMaxSeq + 1;  // 1..2^63-1
  // seq 1 starts a chain and names no predecessor.
  if (h.seq != 1) std::memcpy(h.prev_hash.data(), raw + batch::offset::kPrevHash, h.prev_hash.size());
  h.first_time_ns = load_le<uint64_t>(raw + batch::offset::kFirstTime);
  h.last_time_ns = load_le<uint64_t>(raw + batch::offset::kLastTime);
  if (h.first_time_ns > h.last_time_ns) std::swap(h.first_time_ns, h.last_time_ns);
  h.event_count = load_le<uint32_t>(raw + batch::offset::kEventCount) % (kLimits.max_events + 1);
  h.uncompressed_size = load_le<uint32_t>(raw + batch::offset::kUncompressedSize);
  if (h.uncompressed_size > kLimits.max_uncompressed_bytes) {
    // Prefer the size the frame declares, so the decompressor gets to run.
    const unsigned long long c = ZSTD_getFrameContentSize(payload.data(), payload.size());
    h.uncompressed_size = c <= kLimits.max_uncompressed_bytes
                              ? static_cast<uint32_t>(c)
                              : h.uncompressed_size % (kLimits.max_uncompressed_bytes + 1);
  }
  h.payload_size = static_cast<uint32_t>(payload.size());

  const std::string signed_bytes = batch::encode_signed(
      h, std::string_view(reinterpret_cast<const char*>(payload.data()), payload.size()), test_key());
  const Outcome out = decode(crypto::as_bytes(signed_bytes));
  if (out == Outcome::kBadHeader) fail("parse_header refused a header encode_signed wrote");
  if (out == Outcome::kNotAuthentic) fail("open refused the signature encode_signed made");
}

// Path 3: the input as the JSON lines of a batch that agrees with them.
void decode_as_payload(std::span<const uint8_t> bytes) {
  const std::string_view json(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  if (json.size() > kLimits.max_uncompressed_bytes) return;

  // An independent reading of the lines: what for_each_event must deliver.
  std::vector<events::Event> expected;
  bool all_ok = json.empty() || json.back() == '\n';
  events::JsonLineReader reader;
  for (std::size_t pos = 0; all_ok && pos < json.size();) {
    const std::size_t nl = json.find('\n', pos);
    auto e = reader.parse(json.substr(pos, nl - pos));
    if (!e) {
      all_ok = false;
      break;
    }
    expected.push_back(std::move(*e));
    pos = nl + 1;
  }
  if (expected.size() > kLimits.max_events) return;

  batch::Header h;
  h.agent_id = !expected.empty() && batch::valid_agent_id(expected.front().agent_id) ? expected.front().agent_id
                                                                                     : std::string(kFallbackAgent);
  h.key_id = crypto::key_id(test_key().public_key);
  h.seq = 1;
  if (!expected.empty()) {
    h.first_time_ns = UINT64_MAX;
    for (const auto& e : expected) {
      all_ok = all_ok && e.agent_id == h.agent_id;
      h.first_time_ns = std::min(h.first_time_ns, e.time_ns);
      h.last_time_ns = std::max(h.last_time_ns, e.time_ns);
    }
  }
  h.event_count = static_cast<uint32_t>(expected.size());
  h.uncompressed_size = static_cast<uint32_t>(json.size());

  std::string frame(ZSTD_compressBound(json.size()), '\0');
  const std::size_t n = ZSTD_compress(frame.data(), frame.size(), json.data(), json.size(), 1);
  if (ZSTD_isError(n)) fail("zstd compression failed", ZSTD_getErrorName(n));
  frame.resize(n);
  h.payload_size = static_cast<uint32_t>(n);

  const std::string signed_bytes = batch::encode_signed(h, frame, test_key());
  auto opened = batch::open(crypto::as_bytes(signed_bytes), test_key().public_key, kLimits);
  if (!opened) fail("open refused a consistent batch", opened.error().message);
  if (opened->json != json) fail("opened JSON differs from what was sealed");

  std::size_t i = 0;
  bool mismatch = false;
  Status s = batch::for_each_event(*opened, [&](events::Event&& e) {
    if (i >= expected.size() || !(e == expected[i])) mismatch = true;
    ++i;
  });
  if (mismatch) fail("for_each_event delivered an event the line reader did not read");
  if (all_ok && !s) fail("for_each_event refused a consistent batch", s.error().message);
  if (!all_ok && s) fail("for_each_event accepted lines the line reader refused");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  const std::span<const uint8_t> bytes(data, size);
  if (decode(bytes) == Outcome::kOpened) return 0;  // re-signing would give the same bytes
  decode_resigned(bytes);
  if (size < sizeof batch::kMagic || std::memcmp(data, batch::kMagic, sizeof batch::kMagic) != 0)
    decode_as_payload(bytes);
  return 0;
}
