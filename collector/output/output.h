// Outputs: where alerts go beyond the collector's own store (issue 19
// item 8; issue 20 adds more types beside the webhook). Each configured
// output (collector/config/) is one thread with its own store connection
// that reads alerts in id order after its durable cursor (`output.<name>`
// in the store's cursors), hands each to its Sink and moves the cursor
// only once the receiver acknowledged it: delivery is at-least-once, and
// after kill -9 an output resumes at the first alert not acknowledged.
//
// Failures: kRetry waits with capped full-jitter backoff (at least the
// receiver's Retry-After) and tries the same alert again; kRejected (a
// refusal that will never change, e.g. HTTP 400) is counted, logged once
// and skipped. An output more than `max_backlog` alerts behind skips the
// oldest and raises BT-29 with the count, in the transaction that moves
// its cursor. A receiver that hangs holds only its own thread: a request
// is aborted within about a second of stop().
#pragma once

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "collector/config/config.h"
#include "collector/metrics/metrics.h"
#include "collector/store/store.h"

namespace bt::collector::output {

// What a receiver made of one alert (fluent-bit's FLB_OK/RETRY/ERROR).
enum class Outcome {
  kDelivered,  // 2xx
  kRetry,      // no answer, timeout, 408, 429, 5xx, anything else
  kRejected,   // any other 4xx: sending it again will not help
};

struct Attempt {
  Outcome outcome = Outcome::kRetry;
  long status = 0;         // HTTP status, 0 when there was no answer
  int retry_after_s = -1;  // the receiver's Retry-After in seconds, -1 when none
  std::string error;       // why, for the log (escaped by the sink)
};

// HTTP statuses as outcomes: 4xx but 408 and 429 are refusals.
Outcome classify(long status);

// Delivers one alert. `stop` is set when serve stops: a sink aborts what it
// is doing within about a second and returns kRetry.
class Sink {
 public:
  virtual ~Sink() = default;
  virtual Attempt deliver(const store::Alert& alert, const std::atomic<bool>& stop) = 0;
};

// The sink a config row describes.
Result<std::unique_ptr<Sink>> make_sink(const config::Output& config);

class Output {
 public:
  // Opens its own store connection at `data_dir` and starts its thread.
  static Result<std::unique_ptr<Output>> start(const config::Output& config, const std::string& data_dir,
                                               const store::Options& options, std::unique_ptr<Sink> sink,
                                               metrics::Metrics& metrics);
  ~Output();
  // Asks the thread to stop (returns at once); join() waits for it.
  void request_stop();
  void join();

 private:
  Output(const config::Output& config, std::unique_ptr<store::Store> store, std::unique_ptr<Sink> sink,
         metrics::Metrics& metrics);
  void run();
  // One pass: the backlog check, then one attempt at the next alert.
  // Returns how long to wait before the next pass.
  std::chrono::milliseconds step();
  Result<bool> skip_over_backlog();
  std::chrono::milliseconds retry_delay(int retry_after_s);
  bool move_cursor(int64_t id);
  void log(const std::string& message) const;

  config::Output config_;
  std::string cursor_name_;
  int min_rank_ = 0;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<Sink> sink_;
  metrics::OutputStats& stats_;
  metrics::Metrics& metrics_;
  int64_t cursor_ = 0;
  unsigned attempt_ = 0;         // failed attempts at the alert after the cursor
  bool failing_logged_ = false;  // the current outage is in the log already
  std::atomic<bool> stop_{false};
  std::mutex mu_;
  std::condition_variable wake_;
  std::thread thread_;
};

// Every configured output, started; stop() stops them all in parallel.
class Outputs {
 public:
  static Result<Outputs> start(const config::Config& config, const std::string& data_dir, const store::Options& options,
                               metrics::Metrics& metrics);
  void stop();

 private:
  std::vector<std::unique_ptr<Output>> outputs_;
};

}  // namespace bt::collector::output
