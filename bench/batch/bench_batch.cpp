// bench/batch: seal (JSON encode + zstd + Ed25519) and open (verify + bounded
// decompress + parse) throughput on one core, with bytes per event and the
// compression ratio. Targets (issue 2): >= 500k events/s sealed, >= 1M
// events/s verified and parsed, compressed <= 1/8 of the JSON.
//
// The end-to-end rows go through the public API only (Sealer::add/seal,
// batch::open + batch::for_each_event, which parses every line into an
// events::Event). The stage breakdown below them times each step on its own
// with the same libraries, to show where the time goes; the stages are
// measured separately, so they need not add up exactly to the end-to-end row.
//
// Usage: bench_batch [events] [rounds]
#include <sched.h>
#include <zstd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "bench/batch/workload.h"
#include "common/batch/batch.h"
#include "common/events/json.h"

using namespace bt;
using Clock = std::chrono::steady_clock;

namespace {

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

void pin_to_one_core() {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(0, &set);
  ::sched_setaffinity(0, sizeof set, &set);
}

// Folds an event into a checksum so every parsed event is looked at (and the
// work cannot be skipped); the value is printed so it is used.
uint64_t fold(uint64_t acc, const events::Event& e) {
  acc = acc * 31 + e.time_ns;
  acc = acc * 31 + e.process.pid + e.process.key.size() + e.build.url.size();
  acc = acc * 31 + e.body.index();
  return acc;
}

constexpr int kSealerZstdLevel = 3;  // Sealer's default level

struct Throughput {
  double seal_eps, open_eps, json_bytes_per_event, wire_bytes_per_event, ratio;
  uint64_t checksum;
};

// Nanoseconds per event of each stage, timed separately.
struct Stages {
  double encode, compress, sign, verify, decompress, parse;
};

Throughput run(const std::vector<events::Event>& evs, std::size_t per_batch, int rounds,
               Stages* stages) {
  auto key = crypto::generate_key_pair().value();
  batch::Sealer sealer(key, evs.front().agent_id);
  std::vector<batch::Sealed> sealed;
  std::size_t json_bytes = 0, wire_bytes = 0, events_sealed = 0;
  crypto::Digest prev{};
  uint64_t seq = 0;
  auto t0 = Clock::now();
  for (int r = 0; r < rounds; ++r) {
    for (std::size_t i = 0; i < evs.size(); ++i) {
      sealer.add(evs[i]);
      if (sealer.pending_events() == per_batch || i + 1 == evs.size()) {
        json_bytes += sealer.pending_json_bytes();
        events_sealed += sealer.pending_events();
        auto s = sealer.seal(++seq, prev).value();
        prev = s.hash;
        wire_bytes += s.bytes.size();
        if (r == 0) sealed.push_back(std::move(s));
      }
    }
  }
  const double seal_s = seconds_since(t0);

  std::size_t events_opened = 0;
  uint64_t checksum = 0;
  t0 = Clock::now();
  for (int r = 0; r < rounds; ++r) {
    for (const auto& s : sealed) {
      auto opened = batch::open(crypto::as_bytes(s.bytes), key.public_key).value();
      if (!batch::for_each_event(opened, [&](events::Event&& e) {
            ++events_opened;
            checksum = fold(checksum, e);
          }))
        std::abort();
    }
  }
  const double open_s = seconds_since(t0);
  if (events_opened != events_sealed) std::abort();

  if (stages) {
    // Each stage on its own, over the batches sealed above.
    const double n = double(evs.size()) * rounds;
    std::vector<std::string> json;  // one JSON payload per batch
    events::JsonLineWriter writer;
    t0 = Clock::now();
    for (int r = 0; r < rounds; ++r) {
      for (std::size_t i = 0; i < evs.size(); ++i) {
        writer.append(evs[i]);
        if ((i + 1) % per_batch == 0 || i + 1 == evs.size()) {
          if (r == 0) json.emplace_back(writer.view());
          writer.clear();
        }
      }
    }
    stages->encode = seconds_since(t0) * 1e9 / n;

    ZSTD_CCtx* cctx = ZSTD_createCCtx();
    // The parameters batch::Sealer uses (keep in step with Sealer::seal).
    ZSTD_CCtx_setParameter(cctx, ZSTD_c_compressionLevel, kSealerZstdLevel);
    ZSTD_CCtx_setParameter(cctx, ZSTD_c_contentSizeFlag, 1);
    ZSTD_CCtx_setParameter(cctx, ZSTD_c_checksumFlag, 0);
    ZSTD_DCtx* dctx = ZSTD_createDCtx();
    std::vector<std::string> frames;
    std::string buf;
    t0 = Clock::now();
    for (int r = 0; r < rounds; ++r) {
      for (const auto& j : json) {
        buf.resize(ZSTD_compressBound(j.size()));
        const std::size_t c = ZSTD_compress2(cctx, buf.data(), buf.size(), j.data(), j.size());
        if (ZSTD_isError(c)) std::abort();
        if (r == 0) frames.emplace_back(buf.data(), c);
      }
    }
    stages->compress = seconds_since(t0) * 1e9 / n;

    std::vector<std::string> messages;  // PAE(header || payload) per batch
    for (const auto& s : sealed)
      messages.push_back(batch::pae(std::string_view(s.bytes).substr(
          0, s.bytes.size() - batch::kSignatureSize)));
    std::vector<crypto::Signature> sigs;
    t0 = Clock::now();
    for (int r = 0; r < rounds; ++r)
      for (const auto& m : messages) {
        auto sig = crypto::sign(key, crypto::as_bytes(m));
        if (r == 0) sigs.push_back(sig);
      }
    stages->sign = seconds_since(t0) * 1e9 / n;

    t0 = Clock::now();
    for (int r = 0; r < rounds; ++r)
      for (std::size_t i = 0; i < messages.size(); ++i)
        if (!crypto::verify(key.public_key, crypto::as_bytes(messages[i]), sigs[i])) std::abort();
    stages->verify = seconds_since(t0) * 1e9 / n;

    std::vector<batch::Opened> opened;
    for (const auto& s : sealed)
      opened.push_back(batch::open(crypto::as_bytes(s.bytes), key.public_key).value());
    t0 = Clock::now();
    for (int r = 0; r < rounds; ++r)
      for (std::size_t i = 0; i < sealed.size(); ++i) {
        const batch::Sealed& s = sealed[i];
        const uint8_t* payload = reinterpret_cast<const uint8_t*>(s.bytes.data()) + batch::kHeaderSize;
        buf.resize(s.header.uncompressed_size);
        const std::size_t d =
            ZSTD_decompressDCtx(dctx, buf.data(), buf.size(), payload, s.header.payload_size);
        if (d != s.header.uncompressed_size) std::abort();
      }
    stages->decompress = seconds_since(t0) * 1e9 / n;
    ZSTD_freeCCtx(cctx);
    ZSTD_freeDCtx(dctx);

    uint64_t check2 = 0;
    t0 = Clock::now();
    for (int r = 0; r < rounds; ++r)
      for (const auto& o : opened)
        if (!batch::for_each_event(o, [&](events::Event&& e) { check2 = fold(check2, e); }))
          std::abort();
    stages->parse = seconds_since(t0) * 1e9 / n;
    if (check2 != checksum) std::abort();
  }
  return {events_sealed / seal_s, events_opened / open_s, double(json_bytes) / events_sealed,
          double(wire_bytes) / events_sealed, double(json_bytes) / wire_bytes, checksum};
}

}  // namespace

int main(int argc, char** argv) {
  const std::size_t n = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 200000;
  const int rounds = argc > 2 ? std::atoi(argv[2]) : 2;
  pin_to_one_core();
  const auto evs = bench::realistic_events(n);
  std::printf("bench/batch: %zu realistic build events, one core\n", n);
  std::printf("%-14s %14s %14s %12s %12s %8s\n", "events/batch", "sealed ev/s", "opened ev/s",
              "json B/ev", "wire B/ev", "ratio");
  bool ok = true;
  const std::size_t sizes[] = {100, 1000, 5000};
  Stages stages[std::size(sizes)]{};
  for (std::size_t k = 0; k < std::size(sizes); ++k) {
    const std::size_t per_batch = sizes[k];
    const Throughput r = run(evs, per_batch, rounds, &stages[k]);
    std::printf("%-14zu %14.0f %14.0f %12.1f %12.1f %7.1fx\n", per_batch, r.seal_eps, r.open_eps,
                r.json_bytes_per_event, r.wire_bytes_per_event, r.ratio);
    if (per_batch == 5000) {
      std::printf("targets (5000/batch, ~4 MB JSON): seal %.2fx of 500k/s, open %.2fx of 1M/s, "
                  "compression %.1fx vs 8x\n",
                  r.seal_eps / 500000, r.open_eps / 1000000, r.ratio);
      ok = r.seal_eps >= 500000 && r.open_eps >= 1000000 && r.ratio >= 8;
    }
  }
  std::printf("stages, ns/event (each timed alone):\n");
  std::printf("%-14s %9s %9s %9s | %9s %9s %9s\n", "events/batch", "encode", "compress", "sign",
              "verify", "decomp", "parse");
  for (std::size_t k = 0; k < std::size(sizes); ++k)
    std::printf("%-14zu %9.0f %9.0f %9.0f | %9.0f %9.0f %9.0f\n", sizes[k], stages[k].encode,
                stages[k].compress, stages[k].sign, stages[k].verify, stages[k].decompress,
                stages[k].parse);
  std::printf("bench/batch: %s\n", ok ? "targets met" : "TARGETS MISSED");
  return 0;
}
