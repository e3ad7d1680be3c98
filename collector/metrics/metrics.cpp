#include "collector/metrics/metrics.h"

#include <cstdio>
#include <cstring>

namespace bt::collector::metrics {

namespace {

constexpr const char* kReasonNames[] = {
#define BT_REJECT_NAME(name) #name,
    BT_REJECT_REASONS(BT_REJECT_NAME)
#undef BT_REJECT_NAME
};

// A label value in the exposition format: backslash, quote and newline
// escaped (rule ids come from rule files).
std::string label_value(const std::string& v) {
  std::string out;
  for (char c : v) {
    if (c == '\\' || c == '"') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out;
}

void line(std::string& out, const std::string& name, uint64_t value) {
  out += name + " " + std::to_string(value) + "\n";
}

void help(std::string& out, const char* name, const char* type, const char* text) {
  out += std::string("# HELP ") + name + " " + text + "\n# TYPE " + name + " " + type + "\n";
}

}  // namespace

void Metrics::accepted(uint64_t events) {
  batches_accepted_.fetch_add(1, std::memory_order_relaxed);
  events_accepted_.fetch_add(events, std::memory_order_relaxed);
}

void Metrics::deadline_missed() { deadlines_missed_.fetch_add(1, std::memory_order_relaxed); }

void Metrics::duplicate() { duplicates_.fetch_add(1, std::memory_order_relaxed); }

void Metrics::rejected(Reject reason, uint64_t events) {
  batches_rejected_[static_cast<std::size_t>(reason)].fetch_add(1, std::memory_order_relaxed);
  events_rejected_[static_cast<std::size_t>(reason)].fetch_add(events, std::memory_order_relaxed);
}

void Metrics::finding(const char* kind) {
  if (!std::strcmp(kind, "gap"))
    gaps_.fetch_add(1, std::memory_order_relaxed);
  else if (!std::strcmp(kind, "fork"))
    forks_.fetch_add(1, std::memory_order_relaxed);
  else if (!std::strcmp(kind, "restart"))
    restarts_.fetch_add(1, std::memory_order_relaxed);
  else if (!std::strcmp(kind, "loss"))
    losses_.fetch_add(1, std::memory_order_relaxed);
  else if (!std::strcmp(kind, "rejected"))
    rejections_.fetch_add(1, std::memory_order_relaxed);
  else if (!std::strcmp(kind, "clock"))
    clocks_.fetch_add(1, std::memory_order_relaxed);
  else if (!std::strcmp(kind, "oversized"))
    oversized_.fetch_add(1, std::memory_order_relaxed);
}

void Metrics::alert(const std::string& rule_id, const std::string& severity, uint64_t n) {
  std::lock_guard<std::mutex> lock(alerts_mu_);
  alerts_[{rule_id, severity}] += n;
}

void Metrics::suppressed(const std::string& rule_id, uint64_t n) {
  std::lock_guard<std::mutex> lock(alerts_mu_);
  suppressed_[rule_id] += n;
}

void Metrics::detected(uint64_t batches, uint64_t last_received_ns) {
  detected_batches_.fetch_add(batches, std::memory_order_relaxed);
  if (last_received_ns) detected_received_ns_.store(last_received_ns, std::memory_order_relaxed);
}

void Metrics::observe_latency(double seconds) {
  for (std::size_t i = 0; i < kLatencyBuckets.size(); ++i)
    if (seconds <= kLatencyBuckets[i]) latency_buckets_[i].fetch_add(1, std::memory_order_relaxed);
  latency_count_.fetch_add(1, std::memory_order_relaxed);
  latency_sum_us_.fetch_add(static_cast<uint64_t>(seconds * 1e6), std::memory_order_relaxed);
}

OutputStats& Metrics::output(const std::string& name) {
  std::lock_guard<std::mutex> lock(alerts_mu_);
  auto& slot = outputs_[name];
  if (!slot) slot = std::make_unique<OutputStats>();
  return *slot;
}

std::string Metrics::render(uint64_t store_bytes, uint64_t queue_depth) const {
  std::string out;
  help(out, "buildtrail_batches_accepted_total", "counter", "Batches verified and stored.");
  line(out, "buildtrail_batches_accepted_total", batches_accepted_.load());
  help(out, "buildtrail_events_accepted_total", "counter", "Events in stored batches.");
  line(out, "buildtrail_events_accepted_total", events_accepted_.load());
  help(out, "buildtrail_batches_duplicate_total", "counter",
       "Batches received again after being stored (agent retries).");
  line(out, "buildtrail_batches_duplicate_total", duplicates_.load());
  help(out, "buildtrail_http_deadlines_missed_total", "counter",
       "Connections cut because their headers or body did not arrive in time.");
  line(out, "buildtrail_http_deadlines_missed_total", deadlines_missed_.load());
  help(out, "buildtrail_batches_rejected_total", "counter", "Batches not stored, by reason.");
  for (std::size_t i = 0; i < kRejectReasons; ++i)
    line(out, std::string("buildtrail_batches_rejected_total{reason=\"") + kReasonNames[i] + "\"}",
         batches_rejected_[i].load());
  help(out, "buildtrail_events_rejected_total", "counter",
       "Events in batches not stored, by reason (0 when the batch could not be read).");
  for (std::size_t i = 0; i < kRejectReasons; ++i)
    line(out, std::string("buildtrail_events_rejected_total{reason=\"") + kReasonNames[i] + "\"}",
         events_rejected_[i].load());
  help(out, "buildtrail_integrity_findings_total", "counter", "Chain integrity findings, by kind.");
  line(out, "buildtrail_integrity_findings_total{kind=\"gap\"}", gaps_.load());
  line(out, "buildtrail_integrity_findings_total{kind=\"fork\"}", forks_.load());
  line(out, "buildtrail_integrity_findings_total{kind=\"restart\"}", restarts_.load());
  line(out, "buildtrail_integrity_findings_total{kind=\"loss\"}", losses_.load());
  line(out, "buildtrail_integrity_findings_total{kind=\"rejected\"}", rejections_.load());
  line(out, "buildtrail_integrity_findings_total{kind=\"clock\"}", clocks_.load());
  line(out, "buildtrail_integrity_findings_total{kind=\"oversized\"}", oversized_.load());
  help(out, "buildtrail_chain_gaps_total", "counter", "Missing batch ranges detected.");
  line(out, "buildtrail_chain_gaps_total", gaps_.load());
  help(out, "buildtrail_ingest_latency_seconds", "histogram",
       "Time from a complete request body to its durable acknowledgement.");
  for (std::size_t i = 0; i < kLatencyBuckets.size(); ++i) {
    char le[32];
    std::snprintf(le, sizeof le, "%g", kLatencyBuckets[i]);
    line(out, std::string("buildtrail_ingest_latency_seconds_bucket{le=\"") + le + "\"}", latency_buckets_[i].load());
  }
  line(out, "buildtrail_ingest_latency_seconds_bucket{le=\"+Inf\"}", latency_count_.load());
  out += "buildtrail_ingest_latency_seconds_sum " + std::to_string(static_cast<double>(latency_sum_us_.load()) / 1e6) +
         "\n";
  line(out, "buildtrail_ingest_latency_seconds_count", latency_count_.load());
  help(out, "buildtrail_store_bytes", "gauge", "Size of the store (database and archive).");
  line(out, "buildtrail_store_bytes", store_bytes);
  help(out, "buildtrail_ingest_queue_depth", "gauge", "Verified batches waiting for the writer.");
  line(out, "buildtrail_ingest_queue_depth", queue_depth);
  help(out, "buildtrail_detect_batches_total", "counter", "Stored batches the detector went through.");
  line(out, "buildtrail_detect_batches_total", detected_batches_.load());
  help(out, "buildtrail_detect_last_received_seconds", "gauge",
       "Receive time (Unix seconds) of the last batch the detector went through; its lag is now minus this.");
  line(out, "buildtrail_detect_last_received_seconds", detected_received_ns_.load() / 1000000000);
  std::lock_guard<std::mutex> lock(alerts_mu_);
  help(out, "buildtrail_alerts_suppressed_total", "counter", "Alerts a suppression kept from being raised, by rule.");
  for (const auto& [rule, n] : suppressed_)
    line(out, "buildtrail_alerts_suppressed_total{rule=\"" + label_value(rule) + "\"}", n);
  help(out, "buildtrail_alerts_total", "counter", "Alerts raised, by rule and severity.");
  for (const auto& [key, n] : alerts_)
    line(out, "buildtrail_alerts_total{rule=\"" + label_value(key.first) + "\",severity=\"" + key.second + "\"}", n);
  if (outputs_.empty()) return out;
  const struct {
    const char* name;
    const char* type;
    const char* help;
    std::atomic<uint64_t> OutputStats::*value;
  } kOutputSeries[] = {
      {"buildtrail_output_sent_total", "counter", "Records (events and alerts) an output's receiver acknowledged.",
       &OutputStats::sent},
      {"buildtrail_output_failed_total", "counter", "Delivery attempts that failed (retried or refused).",
       &OutputStats::failed},
      {"buildtrail_output_dropped_total", "counter",
       "Records an output will never deliver: refused by its receiver (4xx), skipped over its backlog limit, or "
       "in a stored batch that no longer verifies.",
       &OutputStats::dropped},
      {"buildtrail_output_truncated_total", "counter", "Records cut to fit the receiver's size limit (syslog/UDP).",
       &OutputStats::truncated},
      {"buildtrail_output_backlog", "gauge",
       "Records waiting after an output's cursors: alerts, and stored events before its filter.",
       &OutputStats::backlog},
  };
  for (const auto& series : kOutputSeries) {
    help(out, series.name, series.type, series.help);
    for (const auto& [name, stats] : outputs_)
      line(out, std::string(series.name) + "{output=\"" + label_value(name) + "\"}", ((*stats).*(series.value)).load());
  }
  help(out, "buildtrail_output_lag_seconds", "gauge",
       "Age of the oldest alert or stored batch an output has not delivered (0: none).");
  for (const auto& [name, stats] : outputs_) {
    char v[32];
    std::snprintf(v, sizeof v, "%.3f", static_cast<double>(stats->lag_ms.load()) / 1000.0);
    out += "buildtrail_output_lag_seconds{output=\"" + label_value(name) + "\"} " + v + "\n";
  }
  return out;
}

}  // namespace bt::collector::metrics
