// Batches verified by one reader of serve, kept a little while for the
// others: the detector and every output walk the same committed batches at
// about the same time, and each decoding and re-verifying every batch for
// itself doubled the work of a second output. What is kept here was read
// from the archive and verified (signature, agent and seq, content
// address, every line) by the reader that put it here; readers of other
// processes (`query`, `export`, `verify`) never see it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/events/event.h"

namespace bt::collector::readback {

// One verified batch: its events, and the JSON lines they were parsed
// from, as the agent signed them (an output forwarding buildtrail's own
// JSON hands those on instead of encoding each event again).
struct VerifiedBatch {
  std::vector<events::Event> events;
  std::string json;                 // the lines, each ending in '\n'
  std::vector<uint32_t> line_ends;  // offset of line i's '\n'

  // Line i without its '\n'.
  std::string_view line(std::size_t i) const {
    const std::size_t begin = i == 0 ? 0 : line_ends[i - 1] + 1;
    return std::string_view(json).substr(begin, line_ends[i] - begin);
  }
};

using BatchEvents = std::shared_ptr<const VerifiedBatch>;

class SharedBatches {
 public:
  explicit SharedBatches(std::size_t capacity) : capacity_(capacity) {}

  // The events of the batch at `path` (its archive path), or null.
  BatchEvents find(const std::string& path) {
    std::lock_guard lock(mu_);
    for (auto it = kept_.begin(); it != kept_.end(); ++it)
      if (it->first == path) {
        kept_.splice(kept_.begin(), kept_, it);
        return it->second;
      }
    return nullptr;
  }

  void keep(const std::string& path, BatchEvents events) {
    std::lock_guard lock(mu_);
    kept_.emplace_front(path, std::move(events));
    if (kept_.size() > capacity_) kept_.pop_back();
  }

 private:
  std::size_t capacity_;
  std::mutex mu_;
  std::list<std::pair<std::string, BatchEvents>> kept_;  // most recently used first
};

}  // namespace bt::collector::readback
