#include "transport/batcher/batcher.h"

#include <unistd.h>

#include "common/clock.h"
#include "common/fs.h"

namespace bt::transport::batcher {

bool EventQueue::push(events::Event&& event) {
  std::lock_guard lock(mu_);
  if (items_.size() >= capacity_) {
    drops_.add("queue_full", 1, event.time_ns, event.time_ns);
    return false;
  }
  items_.push_back(std::move(event));
  return true;
}

void EventQueue::add_loss(const std::string& reason, uint64_t count, uint64_t first_ns, uint64_t last_ns) {
  std::lock_guard lock(mu_);
  drops_.add(reason, count, first_ns, last_ns);
}

bool EventQueue::try_push(events::Event& event) {
  std::lock_guard lock(mu_);
  if (items_.size() >= capacity_) return false;
  items_.push_back(std::move(event));
  return true;
}

void EventQueue::drain(std::vector<events::Event>& out, LossTracker& drops) {
  out.clear();
  std::lock_guard lock(mu_);
  out.swap(items_);
  drops.merge(drops_);
  drops_.clear();
}

std::size_t EventQueue::size() const {
  std::lock_guard lock(mu_);
  return items_.size();
}

Batcher::Batcher(const Config& config, batch::Sealer& sealer, spool::Spool& spool, events::Event envelope,
                 fs::PrivateDir loss_dir, std::string loss_file)
    : config_(config),
      sealer_(sealer),
      spool_(spool),
      envelope_(std::move(envelope)),
      loss_dir_(std::move(loss_dir)),
      loss_file_(std::move(loss_file)) {
  if (auto text = loss_dir_.read(loss_file_, 1 << 20); text) {
    if (auto parsed = LossTracker::parse(*text); parsed) loss_ = *parsed;
  }
  for (const auto& lost : spool_.lost_at_open())
    record_drop(lost.reason, lost.events ? lost.events : 1, lost.first_ns, lost.last_ns);
}

void Batcher::record_drop(const std::string& reason, uint64_t count, uint64_t first_ns, uint64_t last_ns) {
  if (count == 0) return;
  loss_.add(reason, count, first_ns, last_ns);
  stats_.dropped[reason] += count;
  persist_loss();
}

void Batcher::record_drops(const LossTracker& drops) {
  if (drops.empty()) return;
  loss_.merge(drops);
  for (const auto& [reason, n] : drops.counts()) stats_.dropped[reason] += n;
  persist_loss();
}

void Batcher::persist_loss() {
  if (loss_.empty()) {
    (void)loss_dir_.remove(loss_file_);
    return;
  }
  (void)loss_dir_.write_atomic(loss_file_, loss_.serialize(), 0600);
}

bool Batcher::add(const events::Event& event) {
  if (!sealer_.add(event)) {
    // Larger than any batch may carry (batch::kMaxEventJsonBytes): counted,
    // never silently lost.
    record_drop("event_too_large", 1, event.time_ns, event.time_ns);
    return false;
  }
  if (pending_ == 0) oldest_ = std::chrono::steady_clock::now();
  ++pending_;
  ++stats_.events_in;
  return sealer_.pending_json_bytes() >= config_.max_json_bytes ? seal_now() : false;
}

bool Batcher::due() const { return pending_ > 0 && std::chrono::steady_clock::now() - oldest_ >= config_.max_age; }

bool Batcher::seal_now() {
  if (!has_pending()) return false;
  const bool carries_loss = !loss_.empty();
  if (carries_loss) {
    events::Event envelope = envelope_;
    envelope.time_ns = clock::now_ns();
    (void)sealer_.add(loss_.to_event(envelope));  // a few counters: never too large
  }
  const std::size_t sealed_events = pending_;
  pending_ = 0;
  auto appended = spool_.seal_and_append(sealer_);
  if (appended && appended->stored) {
    ++stats_.batches_sealed;
    stats_.events_sealed += sealed_events;
    if (carries_loss) {
      loss_.clear();
      persist_loss();
    }
    last_error_.clear();
    return true;
  }
  // Nothing was stored: the batch's own events join the loss (the loss
  // event it carried is re-made from the tracker next time).
  const std::string reason = appended ? appended->reason : "spool_write_error";
  last_error_ = appended ? appended->detail : appended.error().message;
  const uint64_t first = appended ? appended->header.first_time_ns : clock::now_ns();
  const uint64_t last = appended ? appended->header.last_time_ns : clock::now_ns();
  record_drop(reason, sealed_events, first, last);
  return false;
}

}  // namespace bt::transport::batcher
