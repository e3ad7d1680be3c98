// Moves spooled batches to the collector, oldest first, one at a time so
// the collector sees each agent's chain in order. A batch leaves the spool
// only when the collector acknowledged it (2xx). Network errors, timeouts,
// 408/429/5xx are retried with capped full-jitter backoff
// (delay = uniform(base, min(cap, base * 2^attempt)), after flb_scheduler),
// never sooner than a Retry-After the collector sent. A 4xx that can never
// succeed (400/409/413: this batch is bad) moves the batch to the spool's
// rejected/ folder with a log line, counts its events as lost, and moves on.
// 401/403 say the collector refuses this agent, not the batch (unknown or
// revoked agent, another key, no client certificate): the batch stays in
// the spool with every other one, sending pauses (logged, Stats::paused),
// and the oldest batch is offered again only after the longest backoff,
// so an agent that runs on resumes by itself once the collector takes it.
#pragma once

#include <uv.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <random>
#include <string>

#include "transport/sender/sender.h"
#include "transport/spool/spool.h"

namespace bt::transport::ship {

struct Config {
  std::chrono::milliseconds backoff_base{500};
  std::chrono::milliseconds backoff_cap{60000};
};

struct Stats {
  uint64_t batches_sent = 0;
  uint64_t events_sent = 0;
  uint64_t retries = 0;
  uint64_t rejected = 0;
  uint64_t last_ack_ns = 0;
  std::string last_error;  // one line: the last collector or network error
  bool paused = false;     // the collector refuses this agent (401/403); batches wait in the spool
};

struct Hooks {
  // A batch the collector refused for good: its events are lost.
  std::function<void(const batch::Header& header, long status, const std::string& why)> rejected;
  // One line for the log.
  std::function<void(const std::string& line)> log;
  // Nothing left in the spool and nothing in flight.
  std::function<void()> idle;
};

class Shipper {
 public:
  Shipper(uv_loop_t* loop, spool::Spool& spool, sender::Sender& sender, const Config& config, Hooks hooks);
  ~Shipper();
  Shipper(const Shipper&) = delete;
  Shipper& operator=(const Shipper&) = delete;

  // New batches may be in the spool: start sending if not already busy.
  void kick();
  const Stats& stats() const { return stats_; }
  bool paused() const { return paused_; }
  // Closes the retry timer; the loop must run for its close callback.
  void close();

  // Exposed for tests: the delay before retry number `attempt` (0-based).
  static std::chrono::milliseconds backoff(const Config& config, unsigned attempt, std::mt19937_64& rng);

 private:
  void send_next();
  void on_response(uint64_t seq, const batch::Header& header, const sender::Response& r);
  void schedule_retry(int retry_after_s);
  void pause(long status, const std::string& why);
  void start_timer(std::chrono::milliseconds delay);

  uv_loop_t* loop_;
  spool::Spool& spool_;
  sender::Sender& sender_;
  Config config_;
  Hooks hooks_;
  uv_timer_t* timer_ = nullptr;  // freed in its close callback
  bool in_flight_ = false;
  bool retry_pending_ = false;
  bool closed_ = false;
  bool paused_ = false;
  unsigned attempt_ = 0;
  std::mt19937_64 rng_{std::random_device{}()};
  Stats stats_;
};

}  // namespace bt::transport::ship
