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
#include "collector/store/store.h"
#include "tests/collector/collector_process.h"

using namespace bt;
using Clock = std::chrono::steady_clock;

namespace {

struct Agent {
  std::string id;
  crypto::KeyPair key;
  std::vector<std::string> batches;
};

std::vector<Agent> make_agents(int n, int batches, std::size_t per_batch, const std::vector<events::Event>& pool) {
  std::vector<Agent> agents(n);
  std::size_t next = 0;
  for (int a = 0; a < n; ++a) {
    agents[a].id = "bench-agent-" + std::to_string(a);
    agents[a].key = crypto::generate_key_pair().value();
    batch::Sealer sealer(agents[a].key, agents[a].id);
    crypto::Digest prev{};
    for (int b = 0; b < batches; ++b) {
      for (std::size_t i = 0; i < per_batch; ++i) sealer.add(pool[next++ % pool.size()]);
      auto s = sealer.seal(b + 1, prev).value();
      prev = s.hash;
      agents[a].batches.push_back(std::move(s.bytes));
    }
  }
  return agents;
}

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<std::size_t>(p * v.size()))];
}

struct RunResult {
  double seconds = 0;
  uint64_t events = 0;
  std::vector<double> latencies_ms;
  int failures = 0;
};

// Each agent thread sends its chain in order on one keep-alive connection.
// `interval` > 0 paces each agent to one batch per interval.
RunResult send_all(const std::string& url, const std::vector<Agent>& agents, std::size_t per_batch,
                   std::chrono::microseconds interval) {
  RunResult result;
  std::mutex mu;
  std::vector<std::thread> threads;
  const auto t0 = Clock::now();
  for (std::size_t i = 0; i < agents.size(); ++i) {
    // Paced agents are spread evenly over one interval, as a fleet's clocks
    // are: a steady rate, not all agents in one burst.
    const auto phase = interval * static_cast<long>(i) / static_cast<long>(agents.size());
    threads.emplace_back([&, &agent = agents[i], phase] {
      CURL* c = curl_easy_init();
      curl_easy_setopt(c, CURLOPT_URL, url.c_str());
      curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
      curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
      auto sink = +[](char*, size_t s, size_t n, void*) { return s * n; };
      curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sink);
      // As the agent's sender does: no 100-continue round trip before the body.
      curl_slist* headers = curl_slist_append(nullptr, "Expect:");
      curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
      std::vector<double> lat;
      int failures = 0;
      auto next = t0 + phase;
      for (const auto& body : agent.batches) {
        if (interval.count()) {
          std::this_thread::sleep_until(next);
          next += interval;
        }
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body.data());
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
        const auto s = Clock::now();
        long status = 0;
        if (curl_easy_perform(c) == CURLE_OK) curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
        lat.push_back(std::chrono::duration<double, std::milli>(Clock::now() - s).count());
        if (status != 200) ++failures;
      }
      curl_easy_cleanup(c);
      curl_slist_free_all(headers);
      std::lock_guard lock(mu);
      result.latencies_ms.insert(result.latencies_ms.end(), lat.begin(), lat.end());
      result.failures += failures;
      result.events += (agent.batches.size() - failures) * per_batch;
    });
  }
  for (auto& t : threads) t.join();
  result.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  return result;
}

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

void enroll(const std::string& data, const std::vector<Agent>& agents) {
  for (const auto& a : agents) testing::add_agent(data, a.id, a.key);
}

}  // namespace

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
    const std::string data = testing::make_temp_dir("bench-ingest") + "/data";
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
    const std::string data = testing::make_temp_dir("bench-ingest") + "/data";
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
