#include <doctest/doctest.h>
#include <sys/resource.h>
#include <zstd.h>

#include <cstring>

#include "common/batch/batch.h"
#include "common/events/json.h"
#include "tests/common/test_util.h"

using namespace bt;

namespace {

const std::string kAgent = "agent-7f3a";

batch::Sealed small_batch(const crypto::KeyPair& key, std::size_t n = 4) {
  batch::Sealer sealer(key, kAgent);
  for (auto& e : testing::sample_events(n, kAgent)) sealer.add(e);
  return sealer.seal(1, crypto::Digest{}).value();
}

// Opens and parses; returns the first error or Ok.
Status open_all(std::span<const uint8_t> bytes, const crypto::PublicKey& key, const batch::Limits& limits = {}) {
  auto opened = batch::open(bytes, key, limits);
  if (!opened) return opened.error();
  return batch::for_each_event(*opened, [](events::Event&&) {});
}

std::string compress(std::string_view data, bool with_size = true) {
  std::string out(ZSTD_compressBound(data.size()), '\0');
  ZSTD_CCtx* c = ZSTD_createCCtx();
  ZSTD_CCtx_setParameter(c, ZSTD_c_contentSizeFlag, with_size ? 1 : 0);
  out.resize(ZSTD_compress2(c, out.data(), out.size(), data.data(), data.size()));
  ZSTD_freeCCtx(c);
  return out;
}

batch::Header header_for(const crypto::KeyPair& key, std::string_view json, std::size_t payload, uint32_t events) {
  batch::Header h;
  h.agent_id = kAgent;
  h.key_id = crypto::key_id(key.public_key);
  h.seq = 1;
  h.first_time_ns = h.last_time_ns = 1000;
  h.event_count = events;
  h.uncompressed_size = static_cast<uint32_t>(json.size());
  h.payload_size = static_cast<uint32_t>(payload);
  return h;
}

std::string signed_json(const crypto::KeyPair& key, const std::string& json, uint32_t events) {
  const std::string payload = compress(json);
  return batch::encode_signed(header_for(key, json, payload.size(), events), payload, key);
}

long max_rss_kib() {
  struct rusage ru {};
  ::getrusage(RUSAGE_SELF, &ru);
  return ru.ru_maxrss;
}

}  // namespace

TEST_CASE("sealed batches open and yield the same events") {
  const auto key = testing::test_key();
  const auto events = testing::sample_events(50, kAgent);
  batch::Sealer sealer(key, kAgent);
  for (const auto& e : events) sealer.add(e);
  CHECK(sealer.pending_events() == 50);
  auto sealed = sealer.seal(1, crypto::Digest{});
  REQUIRE(sealed.ok());
  CHECK(sealer.pending_events() == 0);
  CHECK(sealed->header.event_count == 50);
  CHECK(sealed->header.first_time_ns == events.front().time_ns);
  CHECK(sealed->header.last_time_ns == events.back().time_ns);
  CHECK(sealed->bytes.size() == batch::kHeaderSize + sealed->header.payload_size + 64);
  CHECK(sealed->hash == crypto::sha256(crypto::as_bytes(sealed->bytes)));

  auto opened = batch::open(crypto::as_bytes(sealed->bytes), key.public_key);
  REQUIRE_MESSAGE(opened.ok(), opened.error().message);
  std::vector<events::Event> back;
  REQUIRE(batch::for_each_event(*opened, [&](events::Event&& e) { back.push_back(std::move(e)); }));
  CHECK(back == events);
}

TEST_CASE("an empty batch is valid (heartbeat-free chain continuity)") {
  const auto key = testing::test_key();
  batch::Sealer sealer(key, kAgent);
  auto sealed = sealer.seal(3, crypto::Digest{}).value();
  CHECK(open_all(crypto::as_bytes(sealed.bytes), key.public_key).ok());
}

TEST_CASE("the sealer stamps its own agent id on every event") {
  const auto key = testing::test_key();
  batch::Sealer sealer(key, kAgent);
  auto e = events::example_event(events::Kind::loss);
  e.agent_id = "someone-else";
  sealer.add(e);
  auto sealed = sealer.seal(1, crypto::Digest{}).value();
  auto opened = batch::open(crypto::as_bytes(sealed.bytes), key.public_key).value();
  REQUIRE(batch::for_each_event(opened, [&](events::Event&& ev) { CHECK(ev.agent_id == kAgent); }));
}

TEST_CASE("an event too large for any batch is refused whole; the batch stays within the wire limit") {
  const auto key = testing::test_key();
  batch::Sealer sealer(key, kAgent);
  auto small = events::example_event(events::Kind::process_exec);
  auto huge = small;
  std::get<events::ProcessExec>(huge.body).argv = {std::string(batch::kMaxEventJsonBytes, 'a')};
  CHECK(sealer.add(small));
  const std::size_t bytes = sealer.pending_json_bytes();
  CHECK_FALSE(sealer.add(huge));
  CHECK(sealer.pending_events() == 1);
  CHECK(sealer.pending_json_bytes() == bytes);
  // The largest batch an agent seals: its seal mark, crossed by the largest event.
  std::get<events::ProcessExec>(huge.body).argv = {std::string(batch::kMaxEventJsonBytes - 4096, 'a')};
  batch::Sealer full(key, kAgent);
  while (full.pending_json_bytes() < batch::kMaxSealJsonBytes) REQUIRE(full.add(small));
  REQUIRE(full.add(huge));
  CHECK(full.pending_json_bytes() <= batch::kMaxBatchJsonBytes);
  auto sealed = full.seal(1, crypto::Digest{}).value();
  CHECK(sealed.bytes.size() <= batch::kMaxWireBytes);
  CHECK(batch::open(crypto::as_bytes(sealed.bytes), key.public_key).ok());  // within the default limits
}

TEST_CASE("flipping any single byte of a batch is detected") {
  const auto key = testing::test_key();
  const auto sealed = small_batch(key);
  for (std::size_t i = 0; i < sealed.bytes.size(); ++i) {
    for (uint8_t mask : {0x01, 0x80}) {
      std::string bad = sealed.bytes;
      bad[i] = static_cast<char>(bad[i] ^ mask);
      CAPTURE(i);
      CHECK_FALSE(open_all(crypto::as_bytes(bad), key.public_key).ok());
    }
  }
}

TEST_CASE("truncation at every offset is rejected as truncated") {
  const auto key = testing::test_key();
  const auto sealed = small_batch(key);
  for (std::size_t len = 0; len < sealed.bytes.size(); ++len) {
    CAPTURE(len);
    auto r = batch::open(crypto::as_bytes(std::string_view(sealed.bytes).substr(0, len)), key.public_key);
    REQUIRE_FALSE(r.ok());
    // A cut inside the magic cannot be told from garbage; everywhere else
    // the decoder knows the batch is short.
    if (len >= sizeof batch::kMagic) CHECK(r.error().code == ErrorCode::kTruncated);
  }
  std::string longer = sealed.bytes + "x";
  auto r = batch::open(crypto::as_bytes(longer), key.public_key);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().message.find("trailing") != std::string::npos);
}

TEST_CASE("a wrong key is refused; a forged key id fails the signature") {
  const auto key = testing::test_key(7);
  const auto other = testing::test_key(9);
  const auto sealed = small_batch(key);
  auto r = batch::open(crypto::as_bytes(sealed.bytes), other.public_key);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == ErrorCode::kUnknownKey);

  // An attacker's own key, but the header claims the victim's key id.
  batch::Sealer forger(other, kAgent);
  forger.add(testing::sample_events(1, kAgent)[0]);
  auto forged = forger.seal(1, crypto::Digest{}).value();
  const auto id = crypto::key_id(key.public_key);
  std::memcpy(forged.bytes.data() + batch::offset::kKeyId, id.data(), id.size());
  r = batch::open(crypto::as_bytes(forged.bytes), key.public_key);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == ErrorCode::kBadSignature);
}

TEST_CASE("a decompression bomb is rejected without allocating the expanded size") {
  const auto key = testing::test_key();
  const std::string zeros(256u << 20, '\0');  // 256 MiB of zeros
  const std::string bomb = compress(zeros);
  REQUIRE(bomb.size() < 64 * 1024);

  SUBCASE("honest size above the limit is refused from the header") {
    const std::string b = batch::encode_signed(header_for(key, zeros, bomb.size(), 1), bomb, key);
    const long before = max_rss_kib();
    auto r = batch::open(crypto::as_bytes(b), key.public_key);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == ErrorCode::kTooLarge);
    CHECK(max_rss_kib() - before < 32 * 1024);
  }
  SUBCASE("a frame lying about its content size stops at the declared size") {
    // Rewrite the frame's 4-byte content-size field to claim 1000 bytes.
    std::string lying = bomb;
    const auto fhd = static_cast<uint8_t>(lying[4]);
    REQUIRE((fhd >> 6) == 2);        // 4-byte Frame_Content_Size
    REQUIRE(((fhd >> 5) & 1) == 0);  // not single segment: window byte present
    const uint32_t claimed = 1000;
    std::memcpy(lying.data() + 6, &claimed, 4);
    batch::Header h = header_for(key, std::string(claimed, 'x'), lying.size(), 1);
    const std::string b = batch::encode_signed(h, lying, key);
    const long before = max_rss_kib();
    auto r = batch::open(crypto::as_bytes(b), key.public_key);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == ErrorCode::kMalformed);
    CHECK(max_rss_kib() - before < 32 * 1024);
  }
  SUBCASE("a frame without a declared size is refused") {
    const std::string unsized = compress(std::string(1000, 'a'), false);
    const std::string b =
        batch::encode_signed(header_for(key, std::string(1000, 'a'), unsized.size(), 1), unsized, key);
    auto r = batch::open(crypto::as_bytes(b), key.public_key);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().message.find("content size") != std::string::npos);
  }
}

TEST_CASE("signed but inconsistent payloads are malformed, naming the event") {
  const auto key = testing::test_key();
  const std::string good = events::to_json(testing::sample_events(1, kAgent)[0]) + "\n";

  auto error_of = [&](const std::string& b) {
    auto opened = batch::open(crypto::as_bytes(b), key.public_key);
    if (!opened) return opened.error().message;
    auto s = batch::for_each_event(*opened, [](events::Event&&) {});
    return s ? std::string("ok") : s.error().message;
  };
  // The header's times must match; sample event time is 1795775400000000000.
  auto with_times = [&](const std::string& json, uint32_t n) {
    const std::string payload = compress(json);
    auto h = header_for(key, json, payload.size(), n);
    h.first_time_ns = h.last_time_ns = 1795775400000000000ull;
    return batch::encode_signed(h, payload, key);
  };
  CHECK(error_of(with_times(good, 1)) == "ok");
  CHECK(error_of(with_times(good, 2)).find("header declares 2 events, payload has 1") != std::string::npos);
  CHECK(error_of(with_times(good + "{not json}\n", 2)).find("event 2") != std::string::npos);
  CHECK(error_of(with_times(good + "{\"kind\":\"loss\",\"time_ns\":1,\"host\":\"\xff\"}\n", 2)).find("event 2") !=
        std::string::npos);
  CHECK(error_of(with_times(good.substr(0, good.size() - 1), 1)).find("not terminated") != std::string::npos);
  std::string other_agent = good;
  other_agent.replace(other_agent.find(kAgent), kAgent.size(), "agent-other");
  CHECK(error_of(with_times(other_agent, 1)).find("names agent 'agent-other'") != std::string::npos);
  CHECK(error_of(signed_json(key, good, 1)).find("times do not match") != std::string::npos);
}

TEST_CASE("agent ids with path or NUL bytes are refused at the header") {
  const auto key = testing::test_key();
  const std::string json = "";
  for (const std::string& id : std::vector<std::string>{"../../etc", "a/b", "a.b", std::string("ab\0cd", 5), ""}) {
    CAPTURE(id);
    auto h = header_for(key, json, 9, 0);
    h.agent_id = id;
    const std::string payload = compress(json);
    h.payload_size = static_cast<uint32_t>(payload.size());
    auto r = batch::parse_header(crypto::as_bytes(batch::encode_signed(h, payload, key)));
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().message.find("agent id") != std::string::npos);
    CHECK(r.error().message.find("offset") != std::string::npos);
  }
}

TEST_CASE("sequence numbers outside 1..2^63-1 and a seq 1 naming a predecessor are malformed") {
  const auto key = testing::test_key();
  const std::string payload = compress("");
  auto parse = [&](uint64_t seq, const crypto::Digest& prev) {
    auto h = header_for(key, "", payload.size(), 0);
    h.seq = seq;
    h.prev_hash = prev;
    return batch::parse_header(crypto::as_bytes(batch::encode_signed(h, payload, key)));
  };
  crypto::Digest some{};
  some[3] = 1;
  for (uint64_t seq : {uint64_t{0}, batch::kMaxSeq + 1, ~uint64_t{0}}) {
    CAPTURE(seq);
    auto r = parse(seq, some);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == ErrorCode::kMalformed);
    CHECK(r.error().message.find("offset 88") != std::string::npos);
  }
  CHECK(parse(batch::kMaxSeq, some).value().seq == batch::kMaxSeq);
  CHECK(batch::kMaxSeq == 9223372036854775807ull);
  auto first = parse(1, some);
  REQUIRE_FALSE(first.ok());
  CHECK(first.error().message.find("seq 1 with a non-zero prev_hash") != std::string::npos);
  CHECK(parse(1, crypto::Digest{}).ok());
  // The sealer refuses to make them at all.
  batch::Sealer sealer(key, kAgent);
  CHECK_FALSE(sealer.seal(batch::kMaxSeq + 1, some).ok());
  CHECK_FALSE(sealer.seal(1, some).ok());
}

TEST_CASE("size limits are enforced from the header before any work") {
  const auto key = testing::test_key();
  const auto sealed = small_batch(key, 40);
  batch::Limits tiny;
  tiny.max_batch_bytes = 300;
  CHECK(batch::parse_header(crypto::as_bytes(sealed.bytes), tiny).error().code == ErrorCode::kTooLarge);
  batch::Limits few;
  few.max_events = 10;
  CHECK(batch::parse_header(crypto::as_bytes(sealed.bytes), few).error().code == ErrorCode::kTooLarge);
}

TEST_CASE("the signature is over the DSSE v1 PAE of the batch body") {
  CHECK(batch::pae("hello") ==
        "DSSEv1 " + std::to_string(batch::kPayloadType.size()) + " " + std::string(batch::kPayloadType) + " 5 hello");
  const auto key = testing::test_key();
  const auto sealed = small_batch(key);
  const std::string body = sealed.bytes.substr(0, sealed.bytes.size() - 64);
  crypto::Signature sig{};
  std::memcpy(sig.data(), sealed.bytes.data() + body.size(), 64);
  CHECK(crypto::verify(key.public_key, crypto::as_bytes(batch::pae(body)), sig));
}
