// The integrity checks of the rule pack; see integrity.h.
#include "collector/detect/integrity.h"

#include <map>
#include <optional>

#include "collector/readback/event_reader.h"
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

using Tally = std::map<std::string, uint64_t>;

// "process_exec 120 recorded, 80 received; …": the kinds that differ.
std::string differences(const Tally& recorded, const Tally& received) {
  std::string out;
  auto r = recorded.begin();
  auto g = received.begin();
  const auto add = [&](const std::string& kind, uint64_t rec, uint64_t got) {
    if (rec != got)
      out += (out.empty() ? "" : "; ") + text::printable(kind) + " " + std::to_string(rec) + " recorded, " +
             std::to_string(got) + " received";
  };
  while (r != recorded.end() || g != received.end()) {
    if (g == received.end() || (r != recorded.end() && r->first < g->first)) {
      add(r->first, r->second, 0);
      ++r;
    } else if (r == recorded.end() || g->first < r->first) {
      add(g->first, 0, g->second);
      ++g;
    } else {
      add(r->first, r->second, g->second);
      ++r, ++g;
    }
  }
  return out;
}

// BT-30: a build_end says how many events of each kind its pipeline
// recorded; the collector should hold as many. A build record may hold
// several pipelines (`run` wrapping each step of one CI build; concurrent
// steps), so the check is made where none of them is open, against the sum
// of every build_end so far, over the events up to that place in the
// agent's chain (what a later step sent is not counted yet).
class BuildCounts {
 public:
  explicit BuildCounts(std::string data_dir) : data_dir_(std::move(data_dir)) {}

  void start(store::Store& store) {
    store_ = &store;
    reader_.emplace(store, data_dir_);
  }

  void check(const Sighting& s, const events::BuildEnd& end, std::vector<Hit>& out) {
    if (!store_ || s.event.build.id.empty()) return;
    auto ref = store_->build_ref(s.where.agent_id, s.event.build);
    if (!ref || !*ref) return;
    auto received = store_->build_tally(**ref, s.position, s.where.line);
    if (!received) return;
    Ended& ended = ended_[**ref];
    const uint64_t ends = (*received)["build_end"];
    // The detector restarted, or takes a step again: sum them from the store.
    if (ended.count + 1 != ends && !reread(**ref, s, ended)) return;
    for (const auto& [kind, n] : end.counts) ended.recorded[kind] += n;
    ended.count = ends;
    if (ended_.size() > kMaxBuilds) ended_.clear();
    if ((*received)["build_start"] != ends) return;  // a step of it still runs
    std::string diff = differences(ended.recorded, *received);
    if (diff.empty()) return;
    Hit h;
    h.rule_id = "BT-30";
    h.title = "A build's stored events disagree with the counts its agent recorded";
    h.severity = "high";
    h.tags = kImpairTags;
    h.detail = std::move(diff);
    out.push_back(std::move(h));
  }

 private:
  struct Ended {
    Tally recorded;      // the sum of the build_end counts so far
    uint64_t count = 0;  // how many build_ends that sums
  };
  static constexpr std::size_t kMaxBuilds = 100000;

  // The build_ends of the record before this one, read back (verified).
  bool reread(int64_t ref, const Sighting& s, Ended& ended) {
    store::EventFilter filter;
    filter.build = ref;
    filter.kind = events::Kind::build_end;
    Ended sum;
    const auto before = [&](const store::EventRef& r) {
      return r.seq < s.where.seq || (r.seq == s.where.seq && r.line < s.where.line);
    };
    Status st = reader_->for_each(filter, [&](const events::Event& e, const store::EventRef& r) {
      const auto* end = std::get_if<events::BuildEnd>(&e.body);
      if (!end || !before(r)) return;
      for (const auto& [kind, n] : end->counts) sum.recorded[kind] += n;
      ++sum.count;
    });
    if (!st) return false;
    ended = std::move(sum);
    return true;
  }

  std::string data_dir_;
  store::Store* store_ = nullptr;
  std::optional<readback::EventReader> reader_;
  std::map<int64_t, Ended> ended_;  // per build record
};

class IntegrityRules final : public RuleSet {
 public:
  explicit IntegrityRules(std::string data_dir) : counts_(std::move(data_dir)) {}
  std::string_view name() const override { return "integrity"; }

  Status start(store::Store& store) override {
    counts_.start(store);
    return Ok{};
  }

  void on_event(const Sighting& s, std::vector<Hit>& out) override {
    const events::Event& e = s.event;
    if (const auto* end = std::get_if<events::BuildEnd>(&e.body)) counts_.check(s, *end, out);
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

 private:
  BuildCounts counts_;
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

std::unique_ptr<RuleSet> integrity_rules(const std::string& data_dir) {
  return std::make_unique<IntegrityRules>(data_dir);
}

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

store::Alert alert_for_output_loss(const std::string& output, Skipped what, uint64_t n, int64_t first, int64_t last,
                                   uint64_t now_ns) {
  const bool alerts = what == Skipped::kAlerts;
  const std::string range = std::to_string(first) + ".." + std::to_string(last);
  store::Alert a;
  a.rule_id = "BT-29";
  a.title = "Output " + output + " dropped " + std::to_string(n) + (alerts ? " alerts" : " events");
  a.severity = "high";
  a.tags = kImpairTags;
  a.key = "output:" + output + (alerts ? ":" : ":events:") + std::to_string(first) + "-" + std::to_string(last);
  a.detail = alerts
                 ? "alerts " + range + " skipped: the output fell more than its max_backlog behind (see `alerts list`)"
                 : "the events of stored batches " + range +
                       " skipped: the output fell more than its max_event_backlog behind (they are still stored: "
                       "`export`)";
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
