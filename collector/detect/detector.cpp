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
                   OpenBuildLimits limits, readback::SharedBatches* shared)
    : store_(store),
      reader_(store, std::move(data_dir), shared),
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

// Every step: a suppression added holds from the next batch on (the table
// is small; a step is at most every 200 ms when idle).
void Detector::refresh_suppressions(uint64_t now) {
  auto all = store_.suppressions();
  if (!all) return;  // keep the last ones read; tried again next step
  suppressions_.clear();
  for (auto& x : *all)
    if (x.expires_ns > now) suppressions_.push_back(std::move(x));
}

const store::Suppression* Detector::suppression_of(const store::Alert& a, const events::Event* e) const {
  const auto in_scope = [](const std::string& want, const std::string& have) { return want.empty() || want == have; };
  for (const auto& x : suppressions_) {
    if (x.rule_id != a.rule_id) continue;
    if (!e) {
      if (x.ci.empty() && x.repository.empty() && x.job.empty() && x.exe.empty()) return &x;
      continue;
    }
    if (in_scope(x.ci, e->build.ci) && in_scope(x.repository, e->build.repository) && in_scope(x.job, e->build.job) &&
        in_scope(x.exe, e->process.exe))
      return &x;
  }
  return nullptr;
}

void Detector::raise(store::Alert&& a, const events::Event* e, std::vector<store::Alert>& alerts, Progress& progress) {
  if (const auto* x = suppression_of(a, e)) {
    ++suppressed_hits_[x->id];
    ++progress.suppressed[a.rule_id];
    return;
  }
  alerts.push_back(std::move(a));
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
  refresh_suppressions(now_());
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
      raise(std::move(a), nullptr, alerts, progress);
      continue;
    }
    for (uint32_t line = 0; line < (*evs)->size(); ++line) {
      const Sighting s{(**evs)[line], {b.agent_id, b.seq, line}, b.position};
      for (auto& rules : rules_) {
        hits.clear();
        rules->on_event(s, hits);
        for (const auto& h : hits) raise(to_alert(h, s), h.event ? h.event : &s.event, alerts, progress);
      }
    }
    progress.events += (*evs)->size();
  }
  progress.batches = batches->size();
  const int64_t next_batch = batches->empty() ? batch_cursor_ : batches->back().position;

  auto findings = store_.findings_after(finding_cursor_, kFindingsPerStep);
  if (!findings) return findings.error();
  for (const auto& f : *findings) raise(alert_for_finding(f, now_()), nullptr, alerts, progress);
  progress.findings = findings->size();
  const int64_t next_finding = findings->empty() ? finding_cursor_ : findings->back().id;

  // Only once caught up: a build's end may be in a batch not taken yet.
  const uint64_t now = now_();
  const uint64_t every = std::min(kOpenBuildsEveryNs, limits_.heartbeat_ns);
  if (batches->size() < max_batches && now - open_builds_checked_ns_ >= every) {
    open_builds_checked_ns_ = now;
    auto open = check_open_builds(store_, limits_, now);
    if (!open) return open.error();
    for (auto& a : *open) raise(std::move(a), nullptr, alerts, progress);
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
  // How often each suppression held an alert back: for the operator
  // (`rules suppressions`), not part of the detector's place.
  for (const auto& [id, n] : suppressed_hits_) (void)store_.count_suppressed(id, n, now);
  suppressed_hits_.clear();
  return progress;
}

}  // namespace bt::collector::detect
