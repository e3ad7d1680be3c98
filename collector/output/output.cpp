// The delivery loop every output shares; see output.h.
#include "collector/output/output.h"

#include <sodium.h>

#include <algorithm>
#include <cstdio>

#include "collector/detect/integrity.h"
#include "collector/output/webhook.h"
#include "common/clock.h"
#include "common/text.h"

namespace bt::collector::output {

namespace {
constexpr auto kIdlePause = std::chrono::milliseconds(250);
constexpr auto kErrorPause = std::chrono::seconds(2);
// The backlog is counted at most this often: a count per alert would make
// catching up on a long backlog quadratic.
constexpr auto kBacklogEvery = std::chrono::seconds(1);
// A Retry-After beyond this is taken as this: a receiver cannot park an
// output for days.
constexpr int kMaxRetryAfterS = 3600;
}  // namespace

Outcome classify(long status) {
  if (status >= 200 && status < 300) return Outcome::kDelivered;
  if (status == 408 || status == 429) return Outcome::kRetry;
  if (status >= 400 && status < 500) return Outcome::kRejected;
  return Outcome::kRetry;  // no answer, 1xx, 3xx (not followed), 5xx
}

Output::Output(const config::Output& config, std::unique_ptr<store::Store> store, std::unique_ptr<Sink> sink,
               metrics::Metrics& metrics)
    : config_(config),
      cursor_name_("output." + config.name),
      min_rank_(std::max(0, store::severity_rank(config.min_severity))),
      store_(std::move(store)),
      sink_(std::move(sink)),
      stats_(metrics.output(config.name)),
      metrics_(metrics) {
  config_.secret.clear();  // the sink has its key; the loop needs none
}

Result<std::unique_ptr<Output>> Output::start(const config::Output& config, const std::string& data_dir,
                                              const store::Options& options, std::unique_ptr<Sink> sink,
                                              metrics::Metrics& metrics) {
  auto db = store::open_sqlite(data_dir, options);
  if (!db) return db.error();
  std::unique_ptr<Output> out(new Output(config, std::move(*db), std::move(sink), metrics));
  out->thread_ = std::thread([o = out.get()] { o->run(); });
  return out;
}

Output::~Output() {
  request_stop();
  join();
}

void Output::request_stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  wake_.notify_all();
}

void Output::join() {
  if (thread_.joinable()) thread_.join();
}

void Output::log(const std::string& message) const {
  std::fprintf(stderr, "buildtrail-collector: output %s: %s\n", config_.name.c_str(), message.c_str());
}

void Output::run() {
  auto last_backlog_check = std::chrono::steady_clock::now() - kBacklogEvery;
  bool have_cursor = false;
  while (!stop_) {
    std::chrono::milliseconds pause{0};
    if (!have_cursor) {
      auto c = store_->cursor(cursor_name_);
      if (c) {
        cursor_ = *c;
        have_cursor = true;
      } else {
        log(c.error().message);
        pause = kErrorPause;
      }
    } else {
      const auto now = std::chrono::steady_clock::now();
      if (now - last_backlog_check >= kBacklogEvery) {
        last_backlog_check = now;
        if (auto s = skip_over_backlog(); !s) log(s.error().message);
      }
      pause = step();
    }
    if (pause.count() > 0) {
      std::unique_lock<std::mutex> lock(mu_);
      wake_.wait_for(lock, pause, [&] { return stop_.load(); });
    }
  }
}

Result<bool> Output::skip_over_backlog() {
  // Keep one place free: the BT-29 alert raised below is itself behind the
  // cursor, and must not push the output over its limit again.
  auto b = store_->alert_backlog(cursor_, min_rank_, config_.max_backlog - 1);
  if (!b) return b.error();
  const uint64_t now = clock::now_ns();
  stats_.backlog = b->count;
  stats_.lag_ms = b->oldest_raised_ns && now > b->oldest_raised_ns ? (now - b->oldest_raised_ns) / 1000000 : 0;
  if (b->count <= config_.max_backlog) return false;
  const store::Alert lost = detect::alert_for_output_loss(config_.name, b->skipped, cursor_ + 1, b->skip_through, now);
  auto added = store_->commit_detection({lost}, {{cursor_name_, b->skip_through}});
  if (!added) return added.error();
  cursor_ = b->skip_through;
  attempt_ = 0;
  stats_.dropped += b->skipped;
  if (!added->empty() && added->front()) metrics_.alert(lost.rule_id, lost.severity);
  log("more than max_backlog (" + std::to_string(config_.max_backlog) + ") alerts behind: skipped " +
      std::to_string(b->skipped) + " through alert " + std::to_string(b->skip_through) + " (raised BT-29)");
  return true;
}

std::chrono::milliseconds Output::step() {
  store::AlertFilter next_one;
  next_one.after_id = cursor_;
  next_one.min_severity = min_rank_;
  next_one.limit = 1;
  auto next = store_->alerts(next_one);
  if (!next) {
    log(next.error().message);
    return kErrorPause;
  }
  if (next->empty()) {
    stats_.backlog = 0;
    stats_.lag_ms = 0;
    return kIdlePause;
  }
  const store::Alert& alert = next->front();
  const Attempt r = sink_->deliver(alert, stop_);
  if (stop_) return std::chrono::milliseconds(0);  // cut short by stop(): taken again at the next start
  const std::string id = std::to_string(alert.id);
  switch (r.outcome) {
    case Outcome::kDelivered:
      if (failing_logged_) log("delivering again (alert " + id + " accepted)");
      failing_logged_ = false;
      attempt_ = 0;
      ++stats_.sent;
      move_cursor(alert.id);
      return std::chrono::milliseconds(0);
    case Outcome::kRejected:
      // The receiver will never take this alert as it is: trying again
      // would stop every later one behind it. Counted and skipped.
      ++stats_.failed;
      ++stats_.dropped;
      attempt_ = 0;
      log("alert " + id + " refused for good, skipped: " + r.error);
      move_cursor(alert.id);
      return std::chrono::milliseconds(0);
    case Outcome::kRetry:
      break;
  }
  ++stats_.failed;
  const auto delay = retry_delay(r.retry_after_s);
  if (!failing_logged_)
    log("alert " + id + ": " + r.error + "; retrying in " + std::to_string(delay.count()) +
        " ms and on (further failures are counted in buildtrail_output_failed_total, not logged)");
  failing_logged_ = true;
  return delay;
}

// Capped full jitter, uniform(base, min(cap, base*2^n)) (fluent-bit's
// flb_scheduler.c), and never sooner than the receiver asked.
std::chrono::milliseconds Output::retry_delay(int retry_after_s) {
  const uint64_t base = config_.backoff_base_ms, cap = config_.backoff_cap_ms;
  const unsigned n = std::min(attempt_++, 30u);
  const uint64_t high = std::min<uint64_t>(cap, base << std::min(n, 20u));
  const uint64_t spread = high > base ? std::min<uint64_t>(high - base, UINT32_MAX) : 0;
  uint64_t ms = base + (spread ? randombytes_uniform(static_cast<uint32_t>(spread) + 1) : 0);
  if (retry_after_s > 0) ms = std::max<uint64_t>(ms, uint64_t(std::min(retry_after_s, kMaxRetryAfterS)) * 1000 + 1);
  return std::chrono::milliseconds(ms);
}

bool Output::move_cursor(int64_t id) {
  // Moved in memory whatever the store says: an unsaved cursor only means
  // the alert is delivered again after a restart (at-least-once).
  cursor_ = id;
  auto saved = store_->commit_detection({}, {{cursor_name_, id}});
  if (!saved)
    log("cursor not saved (alert " + std::to_string(id) + " may be delivered again): " + saved.error().message);
  return saved.ok();
}

Result<Outputs> Outputs::start(const config::Config& config, const std::string& data_dir, const store::Options& options,
                               metrics::Metrics& metrics) {
  Outputs out;
  for (const auto& c : config.outputs) {
    auto sink = make_sink(c);
    if (!sink) return make_error(sink.error().code, "output " + c.name + ": " + sink.error().message);
    auto started = Output::start(c, data_dir, options, std::move(*sink), metrics);
    if (!started) return started.error();
    out.outputs_.push_back(std::move(*started));
  }
  return out;
}

void Outputs::stop() {
  for (auto& o : outputs_) o->request_stop();
  for (auto& o : outputs_) o->join();
}

Result<std::unique_ptr<Sink>> make_sink(const config::Output& config) {
  if (config.type == "webhook") return webhook::Webhook::create(config);
  return make_error(ErrorCode::kInvalidArgument, "unknown output type '" + text::printable(config.type) + "'");
}

}  // namespace bt::collector::output
