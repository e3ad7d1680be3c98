// Sigma rules in the detector; see sigma_rules.h.
#include "collector/detect/sigma_rules.h"

#include <algorithm>
#include <filesystem>
#include <unordered_map>

#include "collector/detect/pack.h"
#include "collector/detect/package_install.h"
#include "collector/detect/sigma/correlate.h"
#include "collector/detect/sigma/event_fields.h"
#include "collector/detect/sigma/match.h"
#include "collector/detect/sigma/prefilter.h"
#include "common/fs.h"
#include "common/text.h"

namespace bt::collector::detect {

namespace {

// Processes remembered for parent lookups: beyond this the table starts
// over (a parent forgotten means ParentImage rules miss that child).
constexpr std::size_t kMaxProcesses = 200000;
constexpr std::size_t kMaxRuleFileBytes = 1 << 20;  // as sigma::load_directory

// Sigma levels are our severities; anything else is medium.
std::string severity_of(const std::string& level) { return store::severity_rank(level) >= 0 ? level : "medium"; }

// An alert's rule id: the rule's name when it has one (the pack's BT-07),
// else its id.
std::string rule_id(const std::string& name, const std::string& id) { return name.empty() ? id : name; }

std::string build_key(const events::Event& e) { return e.agent_id + '\x1f' + e.build.ci + '\x1f' + e.build.id; }

// One line saying what matched: the program and its command line, or the
// path, the destination or the name. Recorded strings, escaped.
std::string what_matched(const events::Event& e) {
  std::string out = e.process.exe;
  std::visit(
      [&](const auto& b) {
        using T = std::decay_t<decltype(b)>;
        if constexpr (std::is_same_v<T, events::ProcessExec>) {
          std::string argv;
          for (const auto& a : b.argv) argv += (argv.empty() ? "" : " ") + a;
          out += ": " + argv;
        } else if constexpr (std::is_same_v<T, events::SecretAccess>) {
          out += " " + b.access + " " + b.path;
        } else if constexpr (std::is_same_v<T, events::FileWrite>) {
          out += " " + b.operation + " " + b.path;
        } else if constexpr (std::is_same_v<T, events::NetConnect>) {
          out += " -> " + (b.dns_name.empty() ? b.daddr : b.dns_name) + ":" + std::to_string(b.dport);
        } else if constexpr (std::is_same_v<T, events::DnsQuery>) {
          out += " asked " + b.name;
        } else if constexpr (std::is_same_v<T, events::ArtifactUpload>) {
          out += " uploads to " + b.destination;
        }
      },
      e.body);
  if (const auto start = out.find_first_not_of(' '); start != std::string::npos) out.erase(0, start);
  constexpr std::size_t kMax = 300;
  if (out.size() > kMax) out = out.substr(0, kMax) + "...";
  return text::printable(out);
}

class SigmaRules final : public RuleSet {
 public:
  explicit SigmaRules(sigma::RuleSet rules)
      : rules_(std::move(rules)), prefilter_(rules_.rules), correlator_(rules_.correlations) {
    std::unordered_map<std::string, std::vector<const sigma::Rule*>> lists;
    for (const auto& rule : rules_.rules)
      for (const auto& kind : rule.kinds) lists[kind].push_back(&rule);
    for (auto& [kind, list] : lists) {
      sigma::RuleIndex index(list, prefilter_);
      by_kind_.emplace(kind, Routed{std::move(list), std::move(index)});
    }
  }

  std::string_view name() const override { return "sigma"; }

  void on_event(const Sighting& s, std::vector<Hit>& out) override {
    const events::Event& e = s.event;
    remember(e);
    // Only the rules routed to this kind; each field of the event computed once.
    const auto routed = by_kind_.find(std::string(events::kind_name(e.kind())));
    if (routed == by_kind_.end()) return;
    const sigma::EventFields event_fields(e, [this, &e](std::string_view key) { return parent(e, key); });
    const sigma::CachedFields fields(event_fields, &prefilter_);
    const Routed& r = routed->second;
    r.index.candidates(fields, candidates_);
    for (std::size_t i = 0; i < r.rules.size(); ++i) {
      if (!candidates_[i]) continue;
      const sigma::Rule& rule = *r.rules[i];
      if (!sigma::matches(rule, fields)) continue;
      if (generates(rule)) out.push_back(hit(rule.name, rule.id, rule.title, rule.level, rule.tags, e));
      for (const auto& c : correlator_.feed(rule, fields, build_key(e), e.time_ns / 1000000000)) {
        Hit h = hit(c.correlation->name, c.correlation->id, c.correlation->title, c.correlation->level,
                    c.correlation->tags, e);
        h.detail =
            std::to_string(c.count) + " in " + std::to_string(c.correlation->timespan_s) + " s; last: " + h.detail;
        h.key = rule_id(c.correlation->name, c.correlation->id) + ":" + text::printable(c.group) + ":" +
                std::to_string(s.where.seq) + ":" + std::to_string(s.where.line);
        out.push_back(std::move(h));
      }
    }
  }

 private:
  // A rule a correlation uses raises its own alerts only when the
  // correlation says `generate: true`. An `informational` rule raises none:
  // Sigma defines that level as enrichment that no alert or case should come
  // from (SigmaHQ's "File Deletion" matches every `rm`, "System Information
  // Discovery" every `uname` a configure script runs); it still feeds the
  // correlations that name it.
  bool generates(const sigma::Rule& rule) const {
    if (rule.level == "informational") return false;
    for (const auto& c : rules_.correlations)
      if (!c.generate)
        for (const auto& r : c.rules)
          if (r == rule.id || r == rule.name) return false;
    return true;
  }

  Hit hit(const std::string& name, const std::string& id, const std::string& title, const std::string& level,
          const std::vector<std::string>& tags, const events::Event& e) const {
    Hit h;
    h.rule_id = rule_id(name, id);
    h.title = title;
    h.severity = severity_of(level);
    h.tags = tags;
    h.detail = what_matched(e);
    return h;
  }

  void remember(const events::Event& e) {
    const auto* x = std::get_if<events::ProcessExec>(&e.body);
    if (!x || e.process.key.empty()) return;
    std::string install = package_install(x->argv);
    if (install.empty() && !e.process.parent_key.empty())
      if (auto it = processes_.find(e.agent_id + '\x1f' + e.process.parent_key); it != processes_.end())
        install = it->second.package_install;
    if (processes_.size() >= kMaxProcesses) processes_.clear();
    processes_[e.agent_id + '\x1f' + e.process.key] = {e.process.exe, x->argv, e.process.uid, std::move(install)};
  }

  std::optional<sigma::ProcessInfo> parent(const events::Event& e, std::string_view key) const {
    auto it = processes_.find(e.agent_id + '\x1f' + std::string(key));
    if (it == processes_.end()) return std::nullopt;
    return it->second;
  }

  sigma::RuleSet rules_;
  sigma::Prefilter prefilter_;
  struct Routed {
    std::vector<const sigma::Rule*> rules;  // routed to one event kind
    sigma::RuleIndex index;                 // over `rules`
  };
  std::unordered_map<std::string, Routed> by_kind_;  // event kind -> its rules
  std::vector<char> candidates_;                     // per event: which of its kind's rules to evaluate
  sigma::Correlator correlator_;
  std::unordered_map<std::string, sigma::ProcessInfo> processes_;  // agent + process key
};

// Every *.yml and *.yaml under `dir`, in path order.
Result<std::vector<std::string>> rule_files(const std::string& dir) {
  std::error_code ec;
  std::vector<std::string> files;
  for (auto it = std::filesystem::recursive_directory_iterator(dir, ec);
       !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
    const auto ext = it->path().extension();
    if (it->is_regular_file() && (ext == ".yml" || ext == ".yaml")) files.push_back(it->path().string());
  }
  if (ec) return make_error(ErrorCode::kIo, "rules folder " + text::printable(dir) + ": " + ec.message());
  std::sort(files.begin(), files.end());
  return files;
}

}  // namespace

// One set, finished once: a filter in a folder may name a pack rule.
Result<sigma::RuleSet> load_sigma_rules(const std::vector<std::string>& dirs) {
  sigma::RuleSet set;
  for (const auto& f : pack_files()) sigma::load_text(f.text, f.name, sigma::builtin_pipeline(), set);
  for (const auto& dir : dirs) {
    auto files = rule_files(dir);
    if (!files) return files.error();
    for (const auto& file : *files) {
      auto text = fs::read_file(file, kMaxRuleFileBytes);
      if (!text) {
        set.rejected.push_back({file, "", "", text.error().message});
        continue;
      }
      sigma::load_text(*text, file, sigma::builtin_pipeline(), set);
    }
  }
  sigma::finish(set);
  return set;
}

std::unique_ptr<RuleSet> sigma_rule_set(sigma::RuleSet rules) { return std::make_unique<SigmaRules>(std::move(rules)); }

}  // namespace bt::collector::detect
