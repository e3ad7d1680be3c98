// Outputs: where the trail and its alerts go beyond the collector's own
// store (issue 20). Each configured output (collector/config/) is one
// thread with its own store connection that reads two streams after its
// durable cursors: alerts in id order (`output.<name>`), and events in the
// order ingest committed their batches (`output.<name>.batch`, the last
// batch wholly taken, and `output.<name>.line`, the lines of the next one
// already taken). It keeps what its filter selects (filter.h), writes each
// record in its format (collector/format/), hands a chunk to its Sink, and
// moves the cursors only once the receiver acknowledged the chunk:
// delivery is at-least-once, and after kill -9 an output resumes at the
// first record not acknowledged. Alerts go first: they are few and urgent.
//
// Failures: kRetry waits with capped full-jitter backoff (at least the
// receiver's Retry-After) and tries the same chunk again; kRejected (a
// refusal that will never change, e.g. HTTP 400) is counted, logged once
// and skipped. An output more than `max_backlog` alerts (or
// `max_event_backlog` stored events) behind skips the oldest and raises
// BT-29 with the count, in the transaction that moves its cursor. A
// receiver that hangs holds only its own thread: a sink aborts within
// about a second of stop().
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "collector/config/config.h"
#include "collector/format/format.h"
#include "collector/metrics/metrics.h"
#include "collector/output/filter.h"
#include "collector/readback/event_reader.h"
#include "collector/store/store.h"

namespace bt::collector::output {

// What a receiver made of one chunk (fluent-bit's FLB_OK/RETRY/ERROR).
enum class Outcome {
  kDelivered,  // acknowledged: 2xx, or every byte taken by the receiver
  kRetry,      // no answer, timeout, 408, 429, 5xx, a broken connection
  kRejected,   // any other 4xx: sending it again will not help
};

struct Attempt {
  Outcome outcome = Outcome::kRetry;
  long status = 0;         // HTTP status, 0 when there was no answer or no HTTP
  int retry_after_s = -1;  // the receiver's Retry-After in seconds, -1 when none
  std::string error;       // why, for the log (escaped by the sink)
  // Delivered, but this many of the records refused by the receiver (an
  // OTLP partial success): counted as dropped, not sent again.
  uint64_t rejected = 0;
};

// HTTP statuses as outcomes: 4xx but 408 and 429 are refusals.
Outcome classify(long status);

// One record to forward: an event or an alert, and its text in the
// output's format (one JSON object, no newline).
struct Record {
  const events::Event* event = nullptr;  // exactly one of event and alert
  const store::Alert* alert = nullptr;
  // Its text in the output's format: one JSON object, no newline. It views
  // the verified line itself (buildtrail's own JSON, printable already) or
  // text the output keeps for the chunk: valid during deliver().
  std::string_view text;
  // What receivers dedup on: an alert's id ("42"), an event's place
  // ("<agent id>/<seq>/<line>": its batch and line).
  std::string id;
  // Syslog-style severity 0..7 (RFC 5424): alerts by their severity,
  // events informational (6), loss notice (5).
  int severity() const;
  uint64_t time_ns() const;
  std::string_view kind() const;  // the event kind, or "alert"
  std::string_view host() const;  // the event's host; an alert's is empty
};

// Delivers chunks of records. `stop` is set when serve stops: a sink
// aborts what it is doing within about a second and returns kRetry.
class Sink {
 public:
  virtual ~Sink() = default;
  // The most records one deliver() takes (the chunk size).
  virtual std::size_t max_records() const = 0;
  virtual Attempt deliver(const std::vector<Record>& records, const std::atomic<bool>& stop) = 0;
  // Records cut short to fit (syslog over UDP), since the last call.
  virtual uint64_t take_truncated() { return 0; }
};

// The sink a config row describes.
Result<std::unique_ptr<Sink>> make_sink(const config::Output& config);

class Output {
 public:
  // Opens its own store connection at `data_dir` and starts its thread.
  // `shared`: batches the detector and the other outputs verified already.
  static Result<std::unique_ptr<Output>> start(const config::Output& config, const std::string& data_dir,
                                               const store::Options& options, std::unique_ptr<Sink> sink,
                                               metrics::Metrics& metrics, readback::SharedBatches* shared = nullptr);
  ~Output();
  // Asks the thread to stop (returns at once); join() waits for it.
  void request_stop();
  void join();

 private:
  Output(const config::Output& config, const std::string& data_dir, std::unique_ptr<store::Store> store,
         std::unique_ptr<Sink> sink, metrics::Metrics& metrics, readback::SharedBatches* shared);
  void run();
  Status read_cursors();
  // One pass: alerts waiting first, else a chunk of events. Returns how
  // long to wait before the next pass.
  std::chrono::milliseconds step();
  std::optional<std::chrono::milliseconds> step_alerts();
  std::optional<std::chrono::milliseconds> step_events();
  // The next chunk of events the filter takes, from the batch after the
  // cursor; moves over what it does not take. Empty when caught up.
  // Hands `records` to the sink; true when they were acknowledged (or
  // refused for good): the caller then moves its cursor.
  std::optional<std::chrono::milliseconds> deliver(const std::vector<Record>& records, const std::string& what);
  void check_backlogs();
  Result<bool> skip_alert_backlog();
  Result<bool> skip_event_backlog();
  std::chrono::milliseconds retry_delay(int retry_after_s);
  std::vector<std::pair<std::string, int64_t>> cursors() const;
  void save_cursors(bool now);
  void log(const std::string& message) const;
  // `text`, kept until the next chunk is built (records view it).
  std::string_view keep(std::string text);
  // An event's text: its signed line as it is when the format allows.
  std::string_view event_text(const events::Event& e, std::string_view signed_line);

  config::Output config_;
  Filter filter_;
  format::Format format_;
  std::string alert_cursor_name_, batch_cursor_name_, line_cursor_name_;
  std::unique_ptr<store::Store> store_;
  readback::EventReader reader_;
  std::deque<std::string> texts_;  // a deque: a text never moves while records view it
  std::unique_ptr<Sink> sink_;
  metrics::OutputStats& stats_;
  metrics::Metrics& metrics_;
  int64_t alert_cursor_ = 0;
  int64_t batch_cursor_ = 0;                            // position of the last batch wholly taken
  int64_t line_cursor_ = 0;                             // lines of the batch after it already taken
  std::vector<std::pair<std::string, int64_t>> saved_;  // the cursors as the store has them
  std::chrono::steady_clock::time_point saved_at_{};
  unsigned attempt_ = 0;         // failed attempts at the chunk after the cursor
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
                               metrics::Metrics& metrics, readback::SharedBatches* shared = nullptr);
  void stop();

 private:
  std::vector<std::unique_ptr<Output>> outputs_;
};

}  // namespace bt::collector::output
