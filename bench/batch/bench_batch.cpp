// bench/batch: seal (JSON encode + zstd + Ed25519) and open (verify + bounded
// decompress + parse) throughput on one core, with bytes per event and the
// compression ratio. Targets (issue 2): >= 500k events/s sealed, >= 1M
// events/s verified and parsed, compressed <= 1/8 of the JSON.
#include <sched.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "bench/batch/workload.h"
#include "common/batch/batch.h"

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

struct Throughput {
  double seal_eps, open_eps, json_bytes_per_event, wire_bytes_per_event, ratio;
};

Throughput run(const std::vector<events::Event>& evs, std::size_t per_batch, int rounds) {
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
  t0 = Clock::now();
  for (int r = 0; r < rounds; ++r) {
    for (const auto& s : sealed) {
      auto opened = batch::open(crypto::as_bytes(s.bytes), key.public_key).value();
      if (!batch::for_each_event(opened, [&](events::Event&&) { ++events_opened; })) std::abort();
    }
  }
  const double open_s = seconds_since(t0);
  return {events_sealed / seal_s, events_opened / open_s, double(json_bytes) / events_sealed,
          double(wire_bytes) / events_sealed, double(json_bytes) / wire_bytes};
}

}  // namespace

int main(int argc, char** argv) {
  const std::size_t n = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 200000;
  pin_to_one_core();
  const auto evs = bench::realistic_events(n);
  std::printf("bench/batch: %zu realistic build events, one core\n", n);
  std::printf("%-14s %14s %14s %12s %12s %8s\n", "events/batch", "sealed ev/s", "opened ev/s",
              "json B/ev", "wire B/ev", "ratio");
  bool ok = true;
  for (std::size_t per_batch : {100, 1000, 5000}) {
    const Throughput r = run(evs, per_batch, 2);
    std::printf("%-14zu %14.0f %14.0f %12.1f %12.1f %7.1fx\n", per_batch, r.seal_eps, r.open_eps,
                r.json_bytes_per_event, r.wire_bytes_per_event, r.ratio);
    if (per_batch == 5000) {
      std::printf("targets (5000/batch, ~1 MiB JSON): seal %.2fx of 500k/s, open %.2fx of 1M/s, "
                  "compression %.1fx vs 8x\n",
                  r.seal_eps / 500000, r.open_eps / 1000000, r.ratio);
      ok = r.seal_eps >= 500000 && r.open_eps >= 1000000 && r.ratio >= 8;
    }
  }
  std::printf("bench/batch: %s\n", ok ? "targets met" : "TARGETS MISSED");
  return 0;
}
