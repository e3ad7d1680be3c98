// The delivery loop every output shares; see output.h.
#include "collector/output/output.h"

#include <pthread.h>
#include <sodium.h>

#include <algorithm>
#include <cstdio>

#include "collector/detect/integrity.h"
#include "collector/output/file.h"
#include "collector/output/hec.h"
#include "collector/output/otlp/otlp.h"
#include "collector/output/syslog/syslog.h"
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
// Stored batches one pass may go through without a delivery (a filter
// that takes little), so that stop and alerts are looked at in between.
constexpr int kBatchesPerPass = 256;
constexpr auto kCursorSaveEvery = std::chrono::milliseconds(250);
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

namespace {
// The config loader checked the name already.
format::Format format_of(const config::Output& config) {
  auto f = format::parse(config.format);
  return f ? *f : format::Format::kJson;
}
}  // namespace

int Record::severity() const {
  if (alert) {
    // RFC 5424 severities: critical 2, error 3, warning 4, notice 5, informational 6.
    static constexpr int kByRank[] = {6, 5, 4, 3, 2};
    const int rank = store::severity_rank(alert->severity);
    return rank >= 0 && rank < 5 ? kByRank[rank] : 6;
  }
  return event && event->kind() == events::Kind::loss ? 5 : 6;
}

uint64_t Record::time_ns() const { return alert ? alert->time_ns : event ? event->time_ns : 0; }

std::string_view Record::kind() const { return alert ? "alert" : event ? events::kind_name(event->kind()) : ""; }

std::string_view Record::host() const { return event ? std::string_view(event->host) : std::string_view{}; }

Output::Output(const config::Output& config, const std::string& data_dir, std::unique_ptr<store::Store> store,
               std::unique_ptr<Sink> sink, metrics::Metrics& metrics, readback::SharedBatches* shared)
    : config_(config),
      filter_(config),
      format_(format_of(config)),
      alert_cursor_name_("output." + config.name),
      batch_cursor_name_("output." + config.name + ".batch"),
      line_cursor_name_("output." + config.name + ".line"),
      store_(std::move(store)),
      reader_(*store_, data_dir, shared),
      sink_(std::move(sink)),
      stats_(metrics.output(config.name)),
      metrics_(metrics) {
  // The sink has its keys; the loop needs none.
  config_.secret.clear();
  config_.token.clear();
  config_.headers.clear();
}

Result<std::unique_ptr<Output>> Output::start(const config::Output& config, const std::string& data_dir,
                                              const store::Options& options, std::unique_ptr<Sink> sink,
                                              metrics::Metrics& metrics, readback::SharedBatches* shared) {
  auto db = store::open_sqlite(data_dir, options);
  if (!db) return db.error();
  std::unique_ptr<Output> out(new Output(config, data_dir, std::move(*db), std::move(sink), metrics, shared));
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

Status Output::read_cursors() {
  for (auto [name, value] :
       {std::pair{&alert_cursor_name_, &alert_cursor_}, std::pair{&batch_cursor_name_, &batch_cursor_},
        std::pair{&line_cursor_name_, &line_cursor_}}) {
    auto c = store_->cursor(*name);
    if (!c) return c.error();
    *value = *c;
  }
  return Ok{};
}

void Output::run() {
  // "bt-out-<name>", cut to the kernel's 15 characters: shows in top -H and perf.
  pthread_setname_np(pthread_self(), ("bt-out-" + config_.name).substr(0, 15).c_str());
  auto last_backlog_check = std::chrono::steady_clock::now() - kBacklogEvery;
  bool have_cursors = false;
  while (!stop_) {
    std::chrono::milliseconds pause{0};
    if (!have_cursors) {
      if (Status s = read_cursors(); s) {
        have_cursors = true;
        saved_ = cursors();
      } else {
        log(s.error().message);
        pause = kErrorPause;
      }
    } else {
      const auto now = std::chrono::steady_clock::now();
      if (now - last_backlog_check >= kBacklogEvery) {
        last_backlog_check = now;
        check_backlogs();
      }
      pause = step();
      save_cursors(/*now=*/pause >= kIdlePause);
    }
    stats_.truncated += sink_->take_truncated();
    if (pause.count() > 0) {
      std::unique_lock<std::mutex> lock(mu_);
      wake_.wait_for(lock, pause, [&] { return stop_.load(); });
    }
  }
  if (have_cursors) save_cursors(/*now=*/true);
}

void Output::check_backlogs() {
  uint64_t backlog = 0, oldest_ns = 0;
  const auto older = [&](uint64_t t) {
    if (t && (!oldest_ns || t < oldest_ns)) oldest_ns = t;
  };
  if (filter_.alerts()) {
    if (auto s = skip_alert_backlog(); !s) log(s.error().message);
    auto b = store_->alert_backlog(alert_cursor_, filter_.min_severity(), UINT64_MAX);
    if (b) backlog += b->count, older(b->oldest_raised_ns);
  }
  if (filter_.events()) {
    if (auto s = skip_event_backlog(); !s) log(s.error().message);
    auto b = store_->event_backlog(batch_cursor_, UINT64_MAX);
    if (b) backlog += b->events - std::min<uint64_t>(b->events, line_cursor_), older(b->oldest_received_ns);
  }
  const uint64_t now = clock::now_ns();
  stats_.backlog = backlog;
  stats_.lag_ms = oldest_ns && now > oldest_ns ? (now - oldest_ns) / 1000000 : 0;
}

Result<bool> Output::skip_alert_backlog() {
  // Keep one place free: the BT-29 alert raised below is itself behind the
  // cursor, and must not push the output over its limit again.
  auto b = store_->alert_backlog(alert_cursor_, filter_.min_severity(), config_.max_backlog - 1);
  if (!b) return b.error();
  if (b->count <= config_.max_backlog) return false;
  const store::Alert lost = detect::alert_for_output_loss(config_.name, detect::Skipped::kAlerts, b->skipped,
                                                          alert_cursor_ + 1, b->skip_through, clock::now_ns());
  const int64_t before = alert_cursor_;
  alert_cursor_ = b->skip_through;
  auto added = store_->commit_detection({lost}, cursors());
  if (!added) {
    alert_cursor_ = before;
    return added.error();
  }
  saved_ = cursors();
  attempt_ = 0;
  stats_.dropped += b->skipped;
  if (!added->empty() && added->front()) metrics_.alert(lost.rule_id, lost.severity);
  log("more than max_backlog (" + std::to_string(config_.max_backlog) + ") alerts behind: skipped " +
      std::to_string(b->skipped) + " through alert " + std::to_string(b->skip_through) + " (raised BT-29)");
  return true;
}

Result<bool> Output::skip_event_backlog() {
  auto b = store_->event_backlog(batch_cursor_, config_.max_event_backlog);
  if (!b) return b.error();
  if (b->events <= config_.max_event_backlog) return false;
  const store::Alert lost = detect::alert_for_output_loss(config_.name, detect::Skipped::kEvents, b->skipped,
                                                          batch_cursor_ + 1, b->skip_through, clock::now_ns());
  const auto before = std::pair{batch_cursor_, line_cursor_};
  batch_cursor_ = b->skip_through;
  line_cursor_ = 0;
  auto added = store_->commit_detection({lost}, cursors());
  if (!added) {
    std::tie(batch_cursor_, line_cursor_) = before;
    return added.error();
  }
  saved_ = cursors();
  attempt_ = 0;
  stats_.dropped += b->skipped;
  if (!added->empty() && added->front()) metrics_.alert(lost.rule_id, lost.severity);
  log("more than max_event_backlog (" + std::to_string(config_.max_event_backlog) + ") events behind: skipped " +
      std::to_string(b->skipped) + " through stored batch " + std::to_string(b->skip_through) + " (raised BT-29)");
  return true;
}

std::chrono::milliseconds Output::step() {
  if (filter_.alerts())
    if (auto pause = step_alerts()) return *pause;
  if (filter_.events())
    if (auto pause = step_events()) return *pause;
  return kIdlePause;
}

// Alerts after the cursor, a chunk at a time. Nothing waiting: nullopt.
std::optional<std::chrono::milliseconds> Output::step_alerts() {
  store::AlertFilter next;
  next.after_id = alert_cursor_;
  next.min_severity = filter_.min_severity();
  next.limit = sink_->max_records();
  auto alerts = store_->alerts(next);
  if (!alerts) {
    log(alerts.error().message);
    return kErrorPause;
  }
  if (alerts->empty()) return std::nullopt;
  std::vector<Record> records;
  texts_.clear();
  for (const auto& a : *alerts) {
    if (filter_.by_build()) {
      auto row = a.build_ref ? store_->build(*a.build_ref) : Result<std::optional<store::BuildRow>>(std::nullopt);
      if (!row) {
        log(row.error().message);
        return kErrorPause;
      }
      if (!*row || !filter_.takes_build((*row)->build)) continue;
    }
    records.push_back({nullptr, &a, keep(format::alert(format_, a)), std::to_string(a.id)});
  }
  const int64_t last = alerts->back().id;
  const std::string what = "alerts " + std::to_string(alerts->front().id) + ".." + std::to_string(last);
  if (!records.empty())
    if (auto wait = deliver(records, what)) return wait;
  alert_cursor_ = last;
  return std::chrono::milliseconds(0);
}

// Events of the batch after the cursor, a chunk at a time. Nothing
// waiting: nullopt.
std::optional<std::chrono::milliseconds> Output::step_events() {
  // Batches the filter takes nothing from are passed without a delivery;
  // their cursor is saved once per pass, not per batch.
  for (int passed = 0; passed < kBatchesPerPass; ++passed) {
    auto next = store_->batches_after(batch_cursor_, 1);
    if (!next) {
      log(next.error().message);
      return kErrorPause;
    }
    if (next->empty()) return std::nullopt;
    const store::CommittedBatch& batch = next->front();
    const std::string where = "stored batch " + std::to_string(batch.position) + " (" +
                              text::printable(batch.agent_id) + " seq " + std::to_string(batch.seq) + ")";
    auto verified = reader_.verified_batch(batch);
    if (!verified) {
      // It no longer verifies: the detector raises that as an alert; an
      // output must not forward what cannot be vouched for.
      log(where + " skipped: " + verified.error().message);
      ++stats_.dropped;
      batch_cursor_ = batch.position;
      line_cursor_ = 0;
      continue;
    }
    const readback::VerifiedBatch& b = **verified;
    const std::string id_prefix = batch.agent_id + "/" + std::to_string(batch.seq) + "/";
    std::vector<Record> records;
    texts_.clear();
    records.reserve(std::min(b.events.size(), sink_->max_records()));
    std::size_t line = static_cast<std::size_t>(std::max<int64_t>(0, line_cursor_));
    for (; line < b.events.size() && records.size() < sink_->max_records(); ++line) {
      const events::Event& e = b.events[line];
      if (filter_.takes(e))
        records.push_back({&e, nullptr, event_text(e, b.line(line)), id_prefix + std::to_string(line)});
    }
    const bool whole = line >= b.events.size();
    if (records.empty() && whole) {
      batch_cursor_ = batch.position;
      line_cursor_ = 0;
      continue;
    }
    if (!records.empty())
      if (auto wait = deliver(records, where)) return wait;
    if (whole) {
      batch_cursor_ = batch.position;
      line_cursor_ = 0;
    } else {
      line_cursor_ = static_cast<int64_t>(line);
    }
    return std::chrono::milliseconds(0);
  }
  return std::chrono::milliseconds(0);
}

std::string_view Output::keep(std::string text) { return texts_.emplace_back(std::move(text)); }

std::string_view Output::event_text(const events::Event& e, std::string_view signed_line) {
  if (format_ == format::Format::kJson && text::json_is_printable(signed_line)) return signed_line;
  return keep(format::event(format_, e, signed_line));
}

// nullopt: acknowledged, or refused for good (counted): move the cursor.
// Otherwise how long to wait before trying the same records again.
std::optional<std::chrono::milliseconds> Output::deliver(const std::vector<Record>& records, const std::string& what) {
  const Attempt r = sink_->deliver(records, stop_);
  if (stop_) return std::chrono::milliseconds(0);  // cut short by stop(): taken again at the next start
  switch (r.outcome) {
    case Outcome::kDelivered:
      if (failing_logged_) log("delivering again (" + what + " accepted)");
      failing_logged_ = false;
      attempt_ = 0;
      stats_.sent += records.size() - std::min<uint64_t>(r.rejected, records.size());
      if (r.rejected > 0) {
        stats_.dropped += std::min<uint64_t>(r.rejected, records.size());
        log(what + ": " + r.error);
      }
      return std::nullopt;
    case Outcome::kRejected:
      // The receiver will never take these as they are: trying again
      // would stop every later one behind them. Counted and skipped.
      ++stats_.failed;
      stats_.dropped += records.size();
      attempt_ = 0;
      log(what + " refused for good, skipped: " + r.error);
      return std::nullopt;
    case Outcome::kRetry:
      break;
  }
  ++stats_.failed;
  const auto delay = retry_delay(r.retry_after_s);
  if (!failing_logged_)
    log(what + ": " + r.error + "; retrying in " + std::to_string(delay.count()) +
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

std::vector<std::pair<std::string, int64_t>> Output::cursors() const {
  return {{alert_cursor_name_, alert_cursor_}, {batch_cursor_name_, batch_cursor_}, {line_cursor_name_, line_cursor_}};
}

// The cursors move in memory with every acknowledgement, and reach the
// store at most every kCursorSaveEvery (and whenever the output is idle or
// stops): a save waits for ingest's write lock, so one per chunk would
// hold forwarding to the pace of ingest's commits. After kill -9 at most
// that long of records is delivered again (at-least-once).
void Output::save_cursors(bool now) {
  const auto current = cursors();
  if (current == saved_) return;
  const auto at = std::chrono::steady_clock::now();
  if (!now && at - saved_at_ < kCursorSaveEvery) return;
  auto saved = store_->commit_detection({}, current);
  saved_at_ = at;
  if (!saved) {
    log("cursors not saved (what was delivered since may be delivered again): " + saved.error().message);
    return;
  }
  saved_ = current;
}

Result<Outputs> Outputs::start(const config::Config& config, const std::string& data_dir, const store::Options& options,
                               metrics::Metrics& metrics, readback::SharedBatches* shared) {
  Outputs out;
  for (const auto& c : config.outputs) {
    auto sink = make_sink(c);
    if (!sink) return make_error(sink.error().code, "output " + c.name + ": " + sink.error().message);
    auto started = Output::start(c, data_dir, options, std::move(*sink), metrics, shared);
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
  if (config.type == "file") return file::FileSink::create(config);
  if (config.type == "syslog") return syslog::create(config);
  if (config.type == "splunk_hec") return hec::Hec::create(config);
  if (config.type == "otlp") return otlp::create(config);
  return make_error(ErrorCode::kInvalidArgument, "unknown output type '" + text::printable(config.type) + "'");
}

}  // namespace bt::collector::output
