#include "transport/batcher/loss.h"

#include <algorithm>
#include <sstream>

namespace bt::transport::batcher {

void LossTracker::add(const std::string& reason, uint64_t count, uint64_t first_ns, uint64_t last_ns) {
  if (count == 0) return;
  if (counts_.empty() || first_ns < first_ns_) first_ns_ = first_ns;
  last_ns_ = std::max(last_ns_, last_ns);
  counts_[reason] += count;
}

void LossTracker::merge(const LossTracker& other) {
  for (const auto& [reason, n] : other.counts_) add(reason, n, other.first_ns_, other.last_ns_);
}

uint64_t LossTracker::total() const {
  uint64_t n = 0;
  for (const auto& c : counts_) n += c.second;
  return n;
}

events::Event LossTracker::to_event(const events::Event& envelope) const {
  events::Event e = envelope;
  events::Loss loss;
  for (const auto& [reason, n] : counts_) loss.counts.emplace_back(reason, n);
  loss.first_ns = first_ns_;
  loss.last_ns = last_ns_;
  e.body = std::move(loss);
  return e;
}

void LossTracker::clear() {
  counts_.clear();
  first_ns_ = last_ns_ = 0;
}

std::string LossTracker::serialize() const {
  if (counts_.empty()) return "";
  std::string out = "range " + std::to_string(first_ns_) + " " + std::to_string(last_ns_) + "\n";
  for (const auto& [reason, n] : counts_) out += reason + " " + std::to_string(n) + "\n";
  return out;
}

Result<LossTracker> LossTracker::parse(const std::string& text) {
  LossTracker t;
  std::istringstream in(text);
  std::string word;
  while (in >> word) {
    if (word == "range") {
      if (!(in >> t.first_ns_ >> t.last_ns_)) return make_error(ErrorCode::kMalformed, "loss file: bad range line");
      continue;
    }
    uint64_t n = 0;
    if (!(in >> n)) return make_error(ErrorCode::kMalformed, "loss file: bad count for " + word);
    t.counts_[word] += n;
  }
  return t;
}

}  // namespace bt::transport::batcher
