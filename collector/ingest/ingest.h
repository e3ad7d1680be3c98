// Verified ingest. Request threads do the CPU work in parallel (header
// checks, key lookup, signature, bounded decompression, parsing, archive
// write); one writer thread owns chain classification and commits verified
// batches to the store in groups, so a batch is acknowledged only after its
// group is durably committed, and two batches can never race on an agent's
// chain.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "collector/ingest/rejections.h"
#include "collector/metrics/metrics.h"
#include "collector/store/store.h"
#include "common/batch/batch.h"

namespace bt::collector::ingest {

struct Config {
  std::string data_dir;
  batch::Limits limits;
  std::size_t max_queue = 256;  // verified batches waiting; more => 503
  std::size_t max_group = 64;   // batches per commit
  int retry_after_seconds = 1;
  RejectionLimiter::Limits rejections;  // findings of refused signers
  // Event times later than the receive time plus this are out of range
  // (indexed at the receive time, flagged; see bound_event_times).
  uint64_t max_clock_skew_ns = store::kDefaultMaxClockSkewNs;
};

// An HTTP-shaped answer: status, JSON body, optional Retry-After.
struct Outcome {
  int status = 200;
  std::string body;
  int retry_after = 0;
};

class Ingest {
 public:
  // `writer` is used only by the writer thread; `admin` (enrollment, key
  // lookups) is shared by request threads under a lock.
  static Result<std::unique_ptr<Ingest>> start(Config config, std::unique_ptr<store::Store> writer,
                                               std::unique_ptr<store::Store> admin, metrics::Metrics& metrics);
  ~Ingest();

  // POST /v1/batches: blocks until the batch is committed or refused.
  Outcome submit_batch(std::span<const uint8_t> body);
  // POST /v1/enroll.
  Outcome enroll(std::string_view json_body);
  // Drains queued batches, then stops the writer. Idempotent.
  void stop();

  std::size_t queue_depth() const;
  uint64_t store_bytes();

  struct Impl;

 private:
  explicit Ingest(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// The filterable facts of an event (exposed for tests).
store::EventRow event_row(const events::Event& event, uint32_t line, const store::EventRow* previous = nullptr);

// Moves the rows of events claiming a time after `r.received_ns` plus
// `max_skew_ns` to the receive time, keeping their claim, and adds a clock
// finding for them (exposed for tests).
void bound_event_times(store::BatchRecord& r, uint64_t max_skew_ns);

}  // namespace bt::collector::ingest
