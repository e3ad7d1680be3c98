// The detector's thread in `serve`; see service.h.
#include "collector/detect/service.h"

#include <pthread.h>

#include <sys/resource.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>

#include "collector/detect/baseline/baseline.h"
#include "collector/detect/integrity.h"
#include "collector/detect/sigma_rules.h"
#include "common/clock.h"

namespace bt::collector::detect {

namespace {
constexpr auto kIdlePause = std::chrono::milliseconds(200);
constexpr auto kErrorPause = std::chrono::seconds(2);
constexpr int kNice = 10;
}  // namespace

std::vector<std::unique_ptr<RuleSet>> builtin_rule_sets(const std::string& data_dir, sigma::RuleSet sigma,
                                                        BaselineConfig baseline) {
  std::vector<std::unique_ptr<RuleSet>> sets;
  sets.push_back(integrity_rules(data_dir));
  sets.push_back(sigma_rule_set(std::move(sigma)));
  sets.push_back(baseline_rules(std::move(baseline)));
  return sets;
}

Service::Service(std::unique_ptr<store::Store> store, const std::string& data_dir,
                 std::vector<std::unique_ptr<RuleSet>> rules, const OpenBuildLimits& limits, metrics::Metrics& metrics,
                 readback::SharedBatches* shared)
    : store_(std::move(store)),
      detector_(
          *store_, data_dir, std::move(rules), [] { return clock::now_ns(); }, limits, shared),
      metrics_(metrics) {}

Result<std::unique_ptr<Service>> Service::start(const std::string& data_dir, const store::Options& options,
                                                std::vector<std::unique_ptr<RuleSet>> rules,
                                                const OpenBuildLimits& limits, metrics::Metrics& metrics,
                                                readback::SharedBatches* shared) {
  auto db = store::open_sqlite(data_dir, options);
  if (!db) return db.error();
  std::unique_ptr<Service> service(new Service(std::move(*db), data_dir, std::move(rules), limits, metrics, shared));
  service->thread_ = std::thread([s = service.get()] { s->run(); });
  return service;
}

Service::~Service() { stop(); }

void Service::stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void Service::run() {
  pthread_setname_np(pthread_self(), "bt-detect");  // shows in top -H and perf
  // Storing comes first: under a burst the detector yields the CPU to
  // ingest (its cursor catches up after; nothing is skipped), at the cost
  // of alert latency during the burst.
  ::setpriority(PRIO_PROCESS, static_cast<id_t>(::gettid()), kNice);
  std::unique_lock<std::mutex> lock(mu_);
  while (!stopping_) {
    lock.unlock();
    auto progress = detector_.step();
    lock.lock();
    if (!progress) {
      // The store is busy or failing: the cursor has not moved, nothing is
      // lost; try again.
      std::fprintf(stderr, "buildtrail-collector: detection: %s\n", progress.error().message.c_str());
      wake_.wait_for(lock, kErrorPause, [&] { return stopping_; });
    } else {
      metrics_.detected(progress->batches, progress->last_received_ns);
      for (const auto& [rule, n] : progress->by_rule) metrics_.alert(rule.first, rule.second, n);
      for (const auto& [rule, n] : progress->suppressed) metrics_.suppressed(rule, n);
    }
    if (progress && progress->idle()) {
      wake_.wait_for(lock, kIdlePause, [&] { return stopping_; });
    }
  }
}

}  // namespace bt::collector::detect
