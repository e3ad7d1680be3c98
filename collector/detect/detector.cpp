// The streaming detector; see detector.h.
#include "collector/detect/detector.h"

#include <algorithm>

#include "collector/detect/integrity.h"

namespace bt::collector::detect {

namespace {

constexpr std::size_t kFindingsPerStep = 1000;
constexpr uint64_t kOpenBuildsEveryNs = 10ull * 1000000000;

std::string place(const store::Evidence& e) {
  return e.agent_id + ":" + std::to_string(e.seq) + ":" + std::to_string(e.line);
}

}  // namespace

Detector::Detector(store::Store& store, std::string data_dir, std::vector<std::unique_ptr<RuleSet>> rules, Clock now,
                   OpenBuildLimits limits)
    : store_(store),
      reader_(store, std::move(data_dir)),
      rules_(std::move(rules)),
      now_(std::move(now)),
      limits_(limits) {}

Status Detector::read_cursors() {
  auto b = store_.cursor(kBatchCursor);
  if (!b) return b.error();
  auto f = store_.cursor(kFindingCursor);
  if (!f) return f.error();
  batch_cursor_ = *b;
  finding_cursor_ = *f;
  for (auto& rules : rules_)
    if (Status s = rules->start(store_); !s) return s;
  cursors_read_ = true;
  return Ok{};
}

std::optional<int64_t> Detector::build_of(const std::string& agent_id, const events::Build& build) {
  if (build.id.empty()) return std::nullopt;
  const std::string key = agent_id + '\n' + build.ci + '\n' + build.id;
  if (auto it = builds_.find(key); it != builds_.end()) return it->second;
  auto ref = store_.build_ref(agent_id, build);
  std::optional<int64_t> out = ref ? *ref : std::nullopt;
  if (builds_.size() > 100000) builds_.clear();
  builds_.emplace(key, out);
  return out;
}

store::Alert Detector::to_alert(const Hit& hit, const Sighting& s) {
  const events::Event& e = hit.event ? *hit.event : s.event;
  store::Alert a;
  a.rule_id = hit.rule_id;
  a.title = hit.title;
  a.severity = hit.severity;
  a.tags = hit.tags;
  a.detail = hit.detail;
  a.evidence = hit.evidence.empty() ? std::vector<store::Evidence>{s.where} : hit.evidence;
  a.key = hit.key.empty() ? place(a.evidence.front()) : hit.key;
  a.agent_id = s.where.agent_id;
  a.build_ref = build_of(a.agent_id, e.build);
  a.time_ns = e.time_ns;
  a.raised_ns = now_();
  return a;
}

Result<Progress> Detector::step(std::size_t max_batches) {
  if (!cursors_read_)
    if (Status s = read_cursors(); !s) return s.error();
  Progress progress;
  std::vector<store::Alert> alerts;
  auto batches = store_.batches_after(batch_cursor_, max_batches);
  if (!batches) return batches.error();
  std::vector<Hit> hits;
  for (const auto& b : *batches) {
    auto evs = reader_.batch_events(b);
    if (!evs) {
      store::Alert a;
      a.rule_id = "BT-29";
      a.title = "Stored batch no longer verifies";
      a.severity = "high";
      a.tags = {"attack.defense_evasion", "attack.t1565.001"};
      a.detail = evs.error().message;
      a.key = "unverifiable:" + b.agent_id + ":" + std::to_string(b.seq) + ":" + b.archive_path;
      a.agent_id = b.agent_id;
      a.time_ns = b.received_ns;
      a.raised_ns = now_();
      alerts.push_back(std::move(a));
      continue;
    }
    for (uint32_t line = 0; line < (*evs)->size(); ++line) {
      const Sighting s{(**evs)[line], {b.agent_id, b.seq, line}};
      for (auto& rules : rules_) {
        hits.clear();
        rules->on_event(s, hits);
        for (const auto& h : hits) alerts.push_back(to_alert(h, s));
      }
    }
    progress.events += (*evs)->size();
  }
  progress.batches = batches->size();
  const int64_t next_batch = batches->empty() ? batch_cursor_ : batches->back().position;

  auto findings = store_.findings_after(finding_cursor_, kFindingsPerStep);
  if (!findings) return findings.error();
  for (const auto& f : *findings) alerts.push_back(alert_for_finding(f, now_()));
  progress.findings = findings->size();
  const int64_t next_finding = findings->empty() ? finding_cursor_ : findings->back().id;

  // Only once caught up: a build's end may be in a batch not taken yet.
  const uint64_t now = now_();
  const uint64_t every = std::min(kOpenBuildsEveryNs, limits_.heartbeat_ns);
  if (batches->size() < max_batches && now - open_builds_checked_ns_ >= every) {
    open_builds_checked_ns_ = now;
    auto open = check_open_builds(store_, limits_, now);
    if (!open) return open.error();
    for (auto& a : *open) alerts.push_back(std::move(a));
  }
  if (progress.idle() && alerts.empty()) return progress;
  // What the rule sets learned (per-job baselines) commits with the alerts
  // and the cursors, or not at all.
  std::vector<store::BaselineLesson> lessons;
  for (auto& rules : rules_)
    if (Status s = rules->prepare_commit(alerts, lessons); !s) return s.error();
  auto added = store_.commit_detection(alerts, {{kBatchCursor, next_batch}, {kFindingCursor, next_finding}}, lessons);
  for (auto& rules : rules_) rules->committed(added.ok());
  if (!added) return added.error();
  batch_cursor_ = next_batch;
  finding_cursor_ = next_finding;
  for (std::size_t i = 0; i < alerts.size(); ++i) {
    if (!(*added)[i]) continue;  // raised before: stored once
    ++progress.alerts;
    ++progress.by_rule[{alerts[i].rule_id, alerts[i].severity}];
  }
  if (!batches->empty()) progress.last_received_ns = batches->back().received_ns;
  return progress;
}

}  // namespace bt::collector::detect
