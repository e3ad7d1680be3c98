#include "transport/ship/shipper.h"

#include <algorithm>
#include <optional>

#include "common/clock.h"
#include "transport/batcher/batcher.h"

namespace bt::transport::ship {

Shipper::Shipper(uv_loop_t* loop, spool::Spool& spool, sender::Sender& sender, const Config& config, Hooks hooks)
    : loop_(loop), spool_(spool), sender_(sender), config_(config), hooks_(std::move(hooks)) {
  timer_ = new uv_timer_t;
  uv_timer_init(loop_, timer_);
  timer_->data = this;
}

Shipper::~Shipper() { close(); }

void Shipper::close() {
  if (closed_) return;
  closed_ = true;
  uv_timer_stop(timer_);
  timer_->data = nullptr;
  uv_close(reinterpret_cast<uv_handle_t*>(timer_), [](uv_handle_t* h) { delete reinterpret_cast<uv_timer_t*>(h); });
  timer_ = nullptr;
}

std::chrono::milliseconds Shipper::backoff(const Config& config, unsigned attempt, std::mt19937_64& rng) {
  const int64_t base = config.backoff_base.count();
  const int64_t cap = config.backoff_cap.count();
  const int64_t ceiling = std::min<int64_t>(cap, base << std::min(attempt, 30u));
  std::uniform_int_distribution<int64_t> pick(base, std::max(base, ceiling));
  return std::chrono::milliseconds(pick(rng));
}

void Shipper::kick() {
  if (!in_flight_ && !retry_pending_ && !closed_ && !paused_) send_next();
}

void Shipper::send_next() {
  const auto pending = spool_.pending();
  if (pending.empty()) {
    if (hooks_.idle) hooks_.idle();
    return;
  }
  const uint64_t seq = pending.front();
  auto bytes = spool_.read(seq);
  if (!bytes && spool_.gone(seq)) {
    // Another agent sharing this spool delivered it meanwhile.
    send_next();
    return;
  }
  std::optional<batch::Header> header;
  if (bytes) {
    auto h = batch::parse_header(crypto::as_bytes(*bytes));
    if (h) header = *h;
  }
  if (!header) {
    // The file went bad after the agent started (disk error, tampering).
    const std::string why = bytes ? "unreadable batch header" : bytes.error().message;
    if (hooks_.log) hooks_.log("spool: quarantining batch " + std::to_string(seq) + ": " + why);
    (void)spool_.quarantine(seq, why);
    batch::Header lost;
    lost.seq = seq;
    if (hooks_.rejected) hooks_.rejected(lost, 0, "spool_corrupt");
    send_next();
    return;
  }
  in_flight_ = true;
  sender_.post("/v1/batches", std::move(*bytes), "application/vnd.buildtrail.batch.v1",
               [this, seq, h = *header](sender::Response r) {
                 in_flight_ = false;
                 if (!closed_) on_response(seq, h, r);
               });
}

void Shipper::on_response(uint64_t seq, const batch::Header& header, const sender::Response& r) {
  switch (r.delivery) {
    case sender::Delivery::kDelivered:
      if (paused_ && hooks_.log) hooks_.log("collector accepts this agent again: sending resumed");
      paused_ = stats_.paused = false;
      (void)spool_.remove(seq);
      ++stats_.batches_sent;
      stats_.events_sent += header.event_count;
      stats_.last_ack_ns = clock::now_ns();
      attempt_ = 0;
      send_next();
      return;
    case sender::Delivery::kRejected: {
      std::string why = r.body;
      while (!why.empty() && (why.back() == '\n' || why.back() == '\r')) why.pop_back();
      attempt_ = 0;
      // The agent, not this batch: throwing it away would lose evidence
      // that a fixed enrollment or certificate delivers.
      if (r.status == 401 || r.status == 403) return pause(r.status, why);
      ++stats_.rejected;
      stats_.last_error =
          "collector rejected batch " + std::to_string(seq) + " with " + std::to_string(r.status) + ": " + why;
      if (hooks_.log) hooks_.log(stats_.last_error + " (moved to spool/rejected/, not retried)");
      (void)spool_.reject(seq, std::to_string(r.status) + " " + why);
      if (hooks_.rejected) hooks_.rejected(header, r.status, why);
      send_next();
      return;
    }
    case sender::Delivery::kRetry:
      ++stats_.retries;
      stats_.last_error =
          r.status ? "collector answered " + std::to_string(r.status) : "collector unreachable: " + r.error;
      schedule_retry(r.retry_after_s);
      return;
  }
}

void Shipper::pause(long status, const std::string& why) {
  const bool first = !paused_;
  paused_ = stats_.paused = true;
  stats_.last_error = "collector refuses this agent (" + std::to_string(status) + (why.empty() ? "" : ": " + why) +
                      "): sending paused, every batch stays in the spool";
  if (hooks_.log && first)
    hooks_.log(stats_.last_error +
               " until the collector accepts it (enroll the agent, or give it the client "
               "certificate the collector requires); trying again every " +
               std::to_string(config_.backoff_cap.count()) + " ms");
  // Offered again after the longest backoff: a long-running agent resumes
  // by itself, without hammering a collector that refuses it.
  start_timer(config_.backoff_cap);
  if (hooks_.idle) hooks_.idle();
}

void Shipper::schedule_retry(int retry_after_s) {
  auto delay = backoff(config_, attempt_++, rng_);
  if (retry_after_s > 0) delay = std::max<std::chrono::milliseconds>(delay, std::chrono::seconds(retry_after_s));
  if (hooks_.log && attempt_ <= 3)
    hooks_.log(stats_.last_error + "; retrying in " + std::to_string(delay.count()) + " ms");
  start_timer(delay);
}

void Shipper::start_timer(std::chrono::milliseconds delay) {
  if (closed_) return;
  retry_pending_ = true;
  // libuv timers count from the loop's cached millisecond clock: refresh it
  // and add 1 ms so "at least Retry-After" holds against a precise clock.
  uv_update_time(loop_);
  delay += std::chrono::milliseconds(1);
  uv_timer_start(
      timer_,
      [](uv_timer_t* t) {
        auto* self = static_cast<Shipper*>(t->data);
        if (!self) return;
        self->retry_pending_ = false;
        // A paused shipper probes with the oldest batch; its answer resumes
        // or pauses again.
        self->send_next();
      },
      static_cast<uint64_t>(delay.count()), 0);
}

}  // namespace bt::transport::ship
