// From events to spooled batches. Capture threads push events into a
// bounded EventQueue (full => counted drop, never a block); the agent loop
// drains it into the Batcher, which seals a batch when its JSON reaches a
// size or its oldest event an age, and hands it to the spool. Every drop is
// accounted in a LossTracker and reported in-band as a `loss` event in the
// next batch that gets stored.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "common/batch/batch.h"
#include "common/private_dir.h"
#include "transport/batcher/loss.h"
#include "transport/spool/spool.h"

namespace bt::transport::batcher {

struct Config {
  std::size_t max_json_bytes = 1u << 20;    // seal at ~1 MiB of JSON
  std::chrono::milliseconds max_age{1000};  // or when the oldest event is this old
  std::size_t queue_capacity = 1024;        // events waiting for the loop
};

class EventQueue {
 public:
  explicit EventQueue(std::size_t capacity) : capacity_(capacity) {}
  // Thread-safe. False when full: the event is dropped and counted.
  bool push(events::Event&& event);
  // Like push, but a full queue is not a loss: the caller waits and retries
  // (replay of recorded events applies back-pressure instead of dropping).
  bool try_push(events::Event& event);
  // Loss counted elsewhere (a capture backend's kernel buffers), reported
  // with the queue's own in the next loss event.
  void add_loss(const std::string& reason, uint64_t count, uint64_t first_ns, uint64_t last_ns);
  // Moves everything queued into `out` (cleared first) and hands over the
  // drops counted since the last call.
  void drain(std::vector<events::Event>& out, LossTracker& drops);
  std::size_t size() const;

 private:
  mutable std::mutex mu_;
  std::vector<events::Event> items_;
  LossTracker drops_;
  std::size_t capacity_;
};

struct Stats {
  uint64_t events_in = 0;
  uint64_t events_sealed = 0;
  uint64_t batches_sealed = 0;
  std::map<std::string, uint64_t> dropped;  // cumulative, by reason
};

class Batcher {
 public:
  // `envelope` gives host, agent id and the agent's process for the loss
  // events it writes; `loss_file` in `loss_dir` persists unreported loss
  // across restarts.
  Batcher(const Config& config, batch::Sealer& sealer, spool::Spool& spool, events::Event envelope,
          fs::PrivateDir loss_dir, std::string loss_file);

  // Adds one event; seals if the batch is full. Returns true if a batch was
  // stored in the spool.
  bool add(const events::Event& event);
  // Seals what is pending (also a lone loss event). True if stored.
  bool seal_now();
  // True when the pending batch's oldest event is older than max_age.
  bool due() const;
  bool has_pending() const { return pending_ > 0 || !loss_.empty(); }
  std::size_t pending_events() const { return pending_; }
  void record_drop(const std::string& reason, uint64_t count, uint64_t first_ns, uint64_t last_ns);
  void record_drops(const LossTracker& drops);

  const Stats& stats() const { return stats_; }
  const LossTracker& unreported_loss() const { return loss_; }
  // The last seal error, for logs and status (empty if none).
  const std::string& last_error() const { return last_error_; }

 private:
  void persist_loss();

  Config config_;
  batch::Sealer& sealer_;
  spool::Spool& spool_;
  events::Event envelope_;
  fs::PrivateDir loss_dir_;
  std::string loss_file_;
  LossTracker loss_;
  std::size_t pending_ = 0;
  std::chrono::steady_clock::time_point oldest_{};
  Stats stats_;
  std::string last_error_;
};

}  // namespace bt::transport::batcher
