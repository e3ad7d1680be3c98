// bench/ingest: the real collector process on loopback, fed pre-sealed
// batches over keep-alive HTTP by N concurrent agents.
//  1. throughput: every agent sends as fast as it is acknowledged;
//     prints events/s stored durably and p50/p99 acknowledgement latency.
//  2. paced: 500 batches/s in total; prints p50/p99 latency.
// Targets (issue 3): >= 250,000 events/s stored, p99 <= 50 ms at 500 batches/s.
#include <curl/curl.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <thread>

#include "bench/batch/workload.h"
#include "bench/ingest/fleet.h"
#include "collector/store/store.h"
#include "tests/collector/collector_process.h"

using namespace bt;

namespace {

// Mean server-side time from a complete body to its acknowledgement, from
// the collector's own histogram: separates collector time from client time.
double server_mean_ms(const testing::CollectorProcess& c) {
  const std::string text = testing::http_request(c.url("/metrics"), nullptr).body;
  auto value = [&](const std::string& name) {
    const auto at = text.find("\n" + name + " ");
    return at == std::string::npos ? 0.0 : std::atof(text.c_str() + at + name.size() + 2);
  };
  const double n = value("buildtrail_ingest_latency_seconds_count");
  return n > 0 ? 1000 * value("buildtrail_ingest_latency_seconds_sum") / n : 0;
}

}  // namespace

using namespace bt::bench;

int main(int argc, char** argv) {
  const int n_agents = argc > 1 ? std::atoi(argv[1]) : 16;
  const int n_batches = argc > 2 ? std::atoi(argv[2]) : 100;
  const std::size_t per_batch = 1000;  // ~0.8 MiB of JSON: the agent's default seal size
  curl_global_init(CURL_GLOBAL_ALL);
  const auto pool = bench::realistic_events(100000);

  std::printf("bench/ingest: %d agents x %d batches x %zu events, real collector on loopback\n", n_agents, n_batches,
              per_batch);
  bool ok = true;
  // Ingest alone (`serve --no-detect`), then with the detector running
  // beside it as `serve` does by default, alternated.
  double alone = 0, detecting = 0;
  for (int run = 0; run < 2; ++run) {
    const bool detect = run == 1;
    const testing::TempDir root("bench-ingest");
    const std::string data = root.path() + "/data";
    auto agents = make_agents(n_agents, n_batches, per_batch, pool);
    enroll(data, agents);
    testing::CollectorProcess c(data, detect ? std::vector<std::string>{} : std::vector<std::string>{"--no-detect"});
    if (!c.running()) {
      std::fprintf(stderr, "bench/ingest: collector did not start\n");
      return 1;
    }
    auto r = send_all(c.url("/v1/batches"), agents, per_batch, std::chrono::microseconds(0));
    const double eps = r.events / r.seconds;
    (detect ? detecting : alone) = eps;
    std::printf(
        "throughput (%s): %.0f events/s stored (%.2fx of 250k target), %.0f batches/s, "
        "ack p50 %.1f ms p99 %.1f ms (collector mean %.1f ms), failures %d\n",
        detect ? "detection on" : "--no-detect", eps, eps / 250000, r.latencies_ms.size() / r.seconds,
        percentile(r.latencies_ms, 0.5), percentile(r.latencies_ms, 0.99), server_mean_ms(c), r.failures);
    ok = ok && eps >= 250000 && r.failures == 0;
    c.stop();
  }
  std::printf("detection on / off: %.2fx of the stored rate\n", detecting / alone);
  {
    // Paced: 500 batches/s in total, small batches (100 events) as a busy
    // fleet of idle-ish agents would send.
    const testing::TempDir root("bench-ingest");
    const std::string data = root.path() + "/data";
    const int paced_agents = 50, per_agent = 30;
    auto agents = make_agents(paced_agents, per_agent, 100, pool);
    enroll(data, agents);
    testing::CollectorProcess c(data);
    auto r = send_all(c.url("/v1/batches"), agents, 100, std::chrono::microseconds(100000));
    const double p99 = percentile(r.latencies_ms, 0.99);
    std::printf(
        "paced: %.0f batches/s, ack p50 %.1f ms p99 %.1f ms (%.2fx of the 50 ms budget; "
        "collector mean %.1f ms), failures %d\n",
        r.latencies_ms.size() / r.seconds, percentile(r.latencies_ms, 0.5), p99, p99 / 50, server_mean_ms(c),
        r.failures);
    ok = ok && p99 <= 50 && r.failures == 0;
    c.stop();
  }
  std::printf("bench/ingest: %s\n", ok ? "targets met" : "TARGETS MISSED");
  return 0;
}
