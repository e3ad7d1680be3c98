// Ingest counters and the latency histogram behind GET /metrics
// (Prometheus text exposition format 0.0.4). Lock-free counters: request
// threads and the ingest writer update them concurrently.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>

namespace bt::collector::metrics {

// Why a batch was not stored. Declared once; names and the exposition are
// derived from this list.
#define BT_REJECT_REASONS(X) \
  X(malformed)               \
  X(too_large)               \
  X(unknown_agent)           \
  X(revoked)                 \
  X(bad_signature)           \
  X(fork)                    \
  X(overloaded)              \
  X(store_error)

enum class Reject {
#define BT_REJECT_ENUM(name) name,
  BT_REJECT_REASONS(BT_REJECT_ENUM)
#undef BT_REJECT_ENUM
};
inline constexpr std::size_t kRejectReasons = 0
#define BT_REJECT_COUNT(name) +1
    BT_REJECT_REASONS(BT_REJECT_COUNT)
#undef BT_REJECT_COUNT
    ;

inline constexpr std::array<double, 12> kLatencyBuckets = {0.001, 0.002, 0.005, 0.01, 0.02, 0.05,
                                                           0.1,   0.2,   0.5,   1.0,  2.0,  5.0};

// One output's numbers (collector/output/): its thread writes them, the
// exposition reads them.
struct OutputStats {
  std::atomic<uint64_t> sent{0};       // records the receiver acknowledged
  std::atomic<uint64_t> failed{0};     // attempts that failed (retried, or refused for good)
  std::atomic<uint64_t> dropped{0};    // records that will never be delivered: refused, skipped, unverifiable
  std::atomic<uint64_t> truncated{0};  // records cut to fit (syslog over UDP)
  std::atomic<uint64_t> backlog{0};    // alerts and stored events waiting after its cursors
  std::atomic<uint64_t> lag_ms{0};     // age of the oldest alert or batch waiting (0 when none)
};

class Metrics {
 public:
  void accepted(uint64_t events);
  void duplicate();
  void rejected(Reject reason, uint64_t events = 0);
  void finding(const char* kind);
  void observe_latency(double seconds);
  // A connection cut for missing its deadline (collector/http/guard.h).
  void deadline_missed();
  // The detector (collector/detect/): alerts stored, by rule and severity;
  // batches it went through and the receive time of the last one.
  void alert(const std::string& rule_id, const std::string& severity, uint64_t n = 1);
  void detected(uint64_t batches, uint64_t last_received_ns);
  void suppressed(const std::string& rule_id, uint64_t n);
  // The numbers of output `name`, created on first use; the reference
  // stays valid as long as the Metrics.
  OutputStats& output(const std::string& name);
  // Renders everything; `store_bytes` and `queue_depth` are sampled by the caller.
  std::string render(uint64_t store_bytes, uint64_t queue_depth) const;

 private:
  std::atomic<uint64_t> batches_accepted_{0}, events_accepted_{0}, duplicates_{0};
  std::array<std::atomic<uint64_t>, kRejectReasons> batches_rejected_{};
  std::array<std::atomic<uint64_t>, kRejectReasons> events_rejected_{};
  std::atomic<uint64_t> gaps_{0}, forks_{0}, restarts_{0}, losses_{0}, rejections_{0}, clocks_{0}, oversized_{0};
  std::atomic<uint64_t> deadlines_missed_{0};
  std::array<std::atomic<uint64_t>, kLatencyBuckets.size()> latency_buckets_{};
  std::atomic<uint64_t> latency_count_{0};
  std::atomic<uint64_t> latency_sum_us_{0};
  mutable std::mutex alerts_mu_;  // rule ids come from rule files: a map, not a fixed array
  std::map<std::pair<std::string, std::string>, uint64_t> alerts_;
  std::map<std::string, uint64_t> suppressed_;
  std::atomic<uint64_t> detected_batches_{0}, detected_received_ns_{0};
  std::map<std::string, std::unique_ptr<OutputStats>> outputs_;  // under alerts_mu_
};

}  // namespace bt::collector::metrics
