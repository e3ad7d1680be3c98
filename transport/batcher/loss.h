// Counts events that were dropped, by reason, with the time range they
// cover, until a batch carrying the corresponding `loss` event is stored.
// Persisted in the state folder so a loss survives an agent restart.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "common/events/event.h"
#include "common/result.h"

namespace bt::transport::batcher {

class LossTracker {
 public:
  void add(const std::string& reason, uint64_t count, uint64_t first_ns, uint64_t last_ns);
  void merge(const LossTracker& other);
  bool empty() const { return counts_.empty(); }
  uint64_t total() const;
  const std::map<std::string, uint64_t>& counts() const { return counts_; }
  // The `loss` event to seal; `envelope` supplies time, host, agent, process.
  events::Event to_event(const events::Event& envelope) const;
  void clear();

  // "reason count\n"... plus a "range first last" line; empty file = nothing lost.
  std::string serialize() const;
  static Result<LossTracker> parse(const std::string& text);

 private:
  std::map<std::string, uint64_t> counts_;
  uint64_t first_ns_ = 0, last_ns_ = 0;
};

}  // namespace bt::transport::batcher
