// The integrity checks of the rule pack; see integrity.h.
#include "collector/detect/integrity.h"

#include <map>

#include "common/text.h"

namespace bt::collector::detect {

namespace {

// Tags: the trail was impaired (T1562.001 disable or modify tools, T1562.006
// indicator blocking).
const std::vector<std::string> kImpairTags = {"attack.defense_evasion", "attack.t1562.001", "attack.t1562.006"};

uint64_t lost_in(const events::Loss& loss) {
  uint64_t n = 0;
  for (const auto& [reason, count] : loss.counts) n += count;
  return n;
}

std::string reasons(const events::Counts& counts) {
  std::string out;
  for (const auto& [reason, count] : counts)
    out += (out.empty() ? "" : ", ") + text::printable(reason) + " " + std::to_string(count);
  return out;
}

class IntegrityRules final : public RuleSet {
 public:
  std::string_view name() const override { return "integrity"; }

  void on_event(const Sighting& s, std::vector<Hit>& out) override {
    const events::Event& e = s.event;
    if (const auto* loss = std::get_if<events::Loss>(&e.body); loss && !e.build.id.empty()) {
      Hit h;
      h.rule_id = "BT-29";
      h.title = "Events lost during a build: its trail is incomplete";
      h.severity = "high";
      h.tags = kImpairTags;
      h.detail = std::to_string(lost_in(*loss)) + " events lost (" + reasons(loss->counts) + ")";
      out.push_back(std::move(h));
    }
    if (const auto* start = std::get_if<events::BuildStart>(&e.body); start && start->mode == "unmonitored") {
      Hit h;
      h.rule_id = "BT-30";
      h.title = "A build ran without capture (--allow-unmonitored)";
      h.severity = "high";
      h.tags = kImpairTags;
      h.detail = "capture could not be set up; the build ran unobserved";
      out.push_back(std::move(h));
    }
  }
};

const char* finding_severity(store::FindingKind kind) {
  switch (kind) {
    case store::FindingKind::kGap:
    case store::FindingKind::kFork:
    case store::FindingKind::kReplay:
    case store::FindingKind::kRestart:
      return "high";
    case store::FindingKind::kLoss:
    case store::FindingKind::kRejected:
      return "medium";
    case store::FindingKind::kClock:
    case store::FindingKind::kOversized:
      return "low";
  }
  return "medium";
}

const char* finding_title(store::FindingKind kind) {
  switch (kind) {
    case store::FindingKind::kGap:
      return "Batches missing from an agent's chain";
    case store::FindingKind::kFork:
      return "Two different batches signed for one place in an agent's chain";
    case store::FindingKind::kReplay:
      return "A batch sent again in another chain";
    case store::FindingKind::kRestart:
      return "An agent's chain started over";
    case store::FindingKind::kLoss:
      return "An agent reported lost events";
    case store::FindingKind::kRejected:
      return "Batches refused in an enrolled agent's name";
    case store::FindingKind::kClock:
      return "An agent's clock is ahead of the collector's";
    case store::FindingKind::kOversized:
      return "Events with oversized identity fields";
  }
  return "Integrity finding";
}

}  // namespace

std::unique_ptr<RuleSet> integrity_rules() { return std::make_unique<IntegrityRules>(); }

store::Alert alert_for_finding(const store::Finding& f, uint64_t now_ns) {
  store::Alert a;
  a.rule_id = "BT-29";
  a.title = finding_title(f.kind);
  a.severity = finding_severity(f.kind);
  a.tags = kImpairTags;
  a.agent_id = f.agent_id;
  a.key = "finding:" + std::to_string(f.id);
  a.detail = std::string(store::finding_kind_name(f.kind)) + " finding " + std::to_string(f.id) + ", epoch " +
             std::to_string(f.epoch) + ", seq " + std::to_string(f.seq_from) + ".." + std::to_string(f.seq_to) + ": " +
             text::printable(f.detail);
  a.time_ns = f.time_to_ns ? f.time_to_ns : f.recorded_ns;
  a.raised_ns = now_ns;
  return a;
}

store::Alert alert_for_output_loss(const std::string& output, uint64_t n, int64_t first_id, int64_t last_id,
                                   uint64_t now_ns) {
  store::Alert a;
  a.rule_id = "BT-29";
  a.title = "Output " + output + " dropped " + std::to_string(n) + " alerts";
  a.severity = "high";
  a.tags = kImpairTags;
  a.key = "output:" + output + ":" + std::to_string(first_id) + "-" + std::to_string(last_id);
  a.detail = "alerts " + std::to_string(first_id) + ".." + std::to_string(last_id) +
             " skipped: the output fell more than its max_backlog behind (see `alerts list`)";
  a.time_ns = now_ns;
  a.raised_ns = now_ns;
  return a;
}

Result<std::vector<store::Alert>> check_open_builds(store::Store& store, const OpenBuildLimits& limits,
                                                    uint64_t now_ns) {
  store::BuildFilter filter;
  filter.open_only = true;
  filter.limit = 100000;
  auto open = store.builds(filter);
  if (!open) return open.error();
  std::vector<store::Alert> out;
  std::map<std::string, uint64_t> last_seen;
  for (const auto& b : *open) {
    auto seen = last_seen.find(b.agent_id);
    if (seen == last_seen.end()) {
      auto agent = store.agent(b.agent_id);
      if (!agent) return agent.error();
      seen = last_seen.emplace(b.agent_id, *agent ? (*agent)->last_seen_ns : 0).first;
    }
    const uint64_t start = b.start_ns ? b.start_ns : b.first_ns;
    const auto alert = [&](const char* what, const std::string& key, const std::string& detail) {
      store::Alert a;
      a.rule_id = "BT-30";
      a.title = what;
      a.severity = "high";
      a.tags = kImpairTags;
      a.agent_id = b.agent_id;
      a.build_ref = b.id;
      a.key = key;
      a.detail = detail;
      a.time_ns = b.last_ns;
      a.raised_ns = now_ns;
      out.push_back(std::move(a));
    };
    if (now_ns > start && now_ns - start > limits.max_build_ns)
      alert("A build never ended", "unended:" + std::to_string(b.id),
            "no build_end " + std::to_string((now_ns - start) / 60000000000) + " minutes after it began (limit " +
                std::to_string(limits.max_build_ns / 60000000000) + ")");
    if (seen->second && now_ns > seen->second && now_ns - seen->second > 2 * limits.heartbeat_ns)
      alert("The agent went silent while a build was open",
            "silent:" + std::to_string(b.id) + ":" + std::to_string(seen->second),
            "nothing received from the agent for " + std::to_string((now_ns - seen->second) / 1000000000) +
                " s (two heartbeats are " + std::to_string(2 * limits.heartbeat_ns / 1000000000) + " s)");
  }
  return out;
}

}  // namespace bt::collector::detect
