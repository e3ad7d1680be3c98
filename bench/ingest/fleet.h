// A fleet of agents for the collector's benchmarks: pre-sealed chains of
// batches, sent over keep-alive HTTP by one thread per agent.
#pragma once

#include <curl/curl.h>

#include <algorithm>
#include <chrono>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/batch/batch.h"
#include "common/crypto/keys.h"
#include "tests/collector/collector_process.h"

namespace bt::bench {

using Clock = std::chrono::steady_clock;

struct Agent {
  std::string id;
  crypto::KeyPair key;
  std::vector<std::string> batches;
};

inline std::vector<Agent> make_agents(int n, int batches, std::size_t per_batch,
                                      const std::vector<events::Event>& pool) {
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

inline double percentile(std::vector<double> v, double p) {
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
inline RunResult send_all(const std::string& url, const std::vector<Agent>& agents, std::size_t per_batch,
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

inline void enroll(const std::string& data, const std::vector<Agent>& agents) {
  for (const auto& a : agents) testing::add_agent(data, a.id, a.key);
}

}  // namespace bt::bench
