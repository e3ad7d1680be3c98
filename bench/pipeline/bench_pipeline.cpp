// bench/pipeline: events/s from the agent's queue through seal, spool and
// send into the real collector's store, with both processes on this
// machine; the agent's CPU seconds per million events and its peak RSS.
// Targets (issue 4): >= 200,000 events/s end to end, agent peak RSS <= 20 MiB.
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <string>

#include "collector/store/store.h"
#include "tests/collector/collector_process.h"

using namespace bt;
using Clock = std::chrono::steady_clock;

int main(int argc, char** argv) {
  const uint64_t n = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 1000000;
  const testing::TempDir temp("bench-pipeline");
  const std::string& root = temp.path();
  const std::string data = root + "/collector", state = root + "/agent";
  testing::CollectorProcess collector(data);
  if (!collector.running()) {
    std::fprintf(stderr, "bench/pipeline: collector did not start\n");
    return 1;
  }
  const std::string token = testing::add_token(data);

  const std::string agent = testing::build_path("agent/buildtrail-agent");
  const std::string count = std::to_string(n), coll = "--collector=" + collector.url(""), st = "--state-dir=" + state;
  const auto t0 = Clock::now();
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::execl(agent.c_str(), agent.c_str(), "replay", "--synthetic", count.c_str(), coll.c_str(), st.c_str(),
            ("--enroll-token=" + token).c_str(), "--flush-timeout=600", "--log-level=warn",
            static_cast<char*>(nullptr));
    ::_exit(127);
  }
  int status = 0;
  struct rusage ru {};
  ::wait4(pid, &status, 0, &ru);
  const double wall = std::chrono::duration<double>(Clock::now() - t0).count();
  const double cpu = ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
  const double rss_mib = ru.ru_maxrss / 1024.0;
  const auto stats = testing::store_stats(data);
  // Where the time goes: the collector's own view of each acknowledgement.
  const std::string metrics = testing::get(collector.url("/metrics")).body;
  auto metric = [&](const std::string& name) {
    const auto at = metrics.find("\n" + name + " ");
    return at == std::string::npos ? 0.0 : std::atof(metrics.c_str() + at + name.size() + 2);
  };
  const double acks = metric("buildtrail_ingest_latency_seconds_count");
  if (acks == 0) std::printf("collector: /metrics unavailable (%zu bytes)\n", metrics.size());
  if (acks > 0)
    std::printf("collector: %.0f batches, mean %.1f ms from request body to durable ack\n", acks,
                1000 * metric("buildtrail_ingest_latency_seconds_sum") / acks);
  const double eps = n / wall;
  std::printf("bench/pipeline: %llu synthetic events, agent replay -> spool -> collector store\n",
              static_cast<unsigned long long>(n));
  std::printf("end to end: %.0f events/s (%.2fx of 200k target), agent exit %d, stored %llu events\n", eps,
              eps / 200000, WIFEXITED(status) ? WEXITSTATUS(status) : -1,
              static_cast<unsigned long long>(stats.events));
  std::printf("agent: %.2f CPU s per million events, peak RSS %.1f MiB (%.2fx of the 20 MiB budget)\n", cpu / (n / 1e6),
              rss_mib, rss_mib / 20);
  const bool ok = eps >= 200000 && rss_mib <= 20 && WIFEXITED(status) && WEXITSTATUS(status) == 0 && stats.events >= n;
  std::printf("bench/pipeline: %s\n", ok ? "targets met" : "TARGETS MISSED");
  collector.stop();
  return 0;
}
