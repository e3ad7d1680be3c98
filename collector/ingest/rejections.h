// Rate limit for the findings of batches refused before they could be
// trusted: a bad signature, a key that is not the agent's, a revoked agent
// or key. Anyone who can reach the collector can send those, so each
// claimed agent gets at most one finding per interval, and all agents
// together at most `max_per_interval`; what is held back is counted and
// reported in that agent's next finding (metrics count every rejection).
// Only enrolled ids get findings (the caller checks), so the per-agent
// state is bounded by the agents table.
#pragma once

#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string>
#include <unordered_map>

namespace bt::collector::ingest {

class RejectionLimiter {
 public:
  struct Limits {
    uint64_t interval_ns = 60ull * 1000000000;
    std::size_t max_per_interval = 60;
  };
  struct Admitted {
    bool record = false;
    uint64_t held_back = 0;  // rejections of this agent not recorded since its last finding
  };

  explicit RejectionLimiter(Limits limits) : limits_(limits) {}

  // Thread-safe; `now_ns` is a monotonic clock.
  Admitted admit(const std::string& agent_id, uint64_t now_ns);

 private:
  struct PerAgent {
    bool recorded = false;
    uint64_t last_ns = 0;
    uint64_t held_back = 0;
  };
  std::mutex mu_;
  Limits limits_;
  std::unordered_map<std::string, PerAgent> agents_;
  uint64_t window_start_ns_ = 0;
  std::size_t in_window_ = 0;
};

}  // namespace bt::collector::ingest
