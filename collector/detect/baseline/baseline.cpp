// Per-job baselines; see baseline.h and docs/detection.md.
//
// The rule set keeps, in memory, a copy of the store's baselines (read at
// start, refreshed after each commit that taught something and every
// minute, so a `baselines reset` reaches a running serve) and the builds
// it watches for learning. A build is watched from its build_start: one
// whose start this process did not see (it began before a restart) is
// evaluated but teaches nothing, so a lesson is never a partial build.
//
// At a watched build's build_end on a protected branch with no high or
// critical alert stored for it, its lesson is applied to the copy at once
// (the events after it, even in the same step, are judged with it) and
// kept for the step's commit. prepare_commit checks the step's own alerts
// too: a lesson dropped there, or a failed commit, makes the copy read
// again from the store, which stays the truth.
#include "collector/detect/baseline/baseline.h"

#include <fnmatch.h>
#include <libpsl.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <set>
#include <unordered_map>

#include "collector/detect/package_install.h"
#include "common/text.h"

namespace bt::collector::detect {

namespace {

constexpr std::size_t kProcessTableMax = 200000;
constexpr auto kRefreshEvery = std::chrono::seconds(60);

// Item kinds, as stored (baseline_items.kind) and shown.
constexpr const char* kDns = "dns";
constexpr const char* kDomain = "domain";
constexpr const char* kDestination = "destination";
constexpr const char* kExe = "exe";
constexpr const char* kProduct = "product";
constexpr const char* kEdge = "edge";
constexpr const char* kCredential = "credential";
constexpr const char* kMetadata = "metadata";
constexpr const char* kUpload = "upload";
constexpr const char* kInstallRuns = "install-runs";
constexpr const char* kNetTool = "net-tool";
constexpr const char* kArtifact = "artifact";

struct RuleInfo {
  const char* id;
  const char* title;
  const char* severity;
  std::vector<std::string> tags;
};

// Severities stay below high: a high or critical alert keeps its build from
// teaching, and a new but legitimate item must be learnable from the two
// clean builds it needs.
const RuleInfo kBt01{"BT-01",
                     "Destination this job never contacted",
                     "medium",
                     {"attack.exfiltration", "attack.t1041", "attack.t1567", "attack.t1071.001"}};
const RuleInfo kBt02{"BT-02",
                     "DNS name this job never resolved",
                     "low",
                     {"attack.command_and_control", "attack.t1071.004", "attack.t1048.003"}};
const RuleInfo kBt06{"BT-06",
                     "Metadata endpoint used by an executable that never did in this job",
                     "medium",
                     {"attack.credential_access", "attack.t1552.005"}};
const RuleInfo kBt10{"BT-10",
                     "Credential class read by an executable that never read it in this job",
                     "medium",
                     {"attack.credential_access", "attack.t1552.001", "attack.t1552.004"}};
const RuleInfo kBt16{"BT-16",
                     "Executable never seen in this job",
                     "low",
                     {"attack.execution", "attack.t1204.002", "attack.t1059", "attack.t1620"}};
const RuleInfo kBt17{"BT-17",
                     "Package install ran code this job's installs never ran",
                     "medium",
                     {"attack.initial_access", "attack.execution", "attack.t1195.002", "attack.t1059"}};
const RuleInfo kBt19{"BT-19",
                     "Network tool this job never ran",
                     "medium",
                     {"attack.discovery", "attack.command_and_control", "attack.t1046", "attack.t1095"}};
const RuleInfo kBt27{"BT-27",
                     "Artifact uploaded from a writer this job's uploads never had",
                     "medium",
                     {"attack.initial_access", "attack.t1195.002", "attack.t1565.001"}};
const RuleInfo kBt28{"BT-28",
                     "Upload or publish this job never did",
                     "medium",
                     {"attack.initial_access", "attack.t1195.002", "attack.t1567.001"}};

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return out;
}

std::string dns_name(std::string_view name) {
  std::string n = lower(name);
  while (!n.empty() && n.back() == '.') n.pop_back();
  return n;
}

bool loopback(std::string_view ip) {
  return ip.starts_with("127.") || ip == "::1" || ip == "0.0.0.0" || ip == "::" || ip.starts_with("::ffff:127.");
}

std::string item_id(std::string_view kind, std::string_view value) {
  std::string s(kind);
  s += '\n';
  s += value;
  return s;
}

struct Known {
  uint64_t builds = 0, last_ns = 0;
};

struct KeyState {
  uint64_t builds = 0;
  std::unordered_map<std::string, Known> items;  // item_id -> how often, how recently
};

// A build being watched for learning.
struct Watched {
  store::BaselineKey key;
  std::string agent_id;
  events::Build build;
  std::string branch;
  uint64_t last_ns = 0;  // of its last event
  std::set<std::pair<std::string, std::string>> items;
  bool ended = false;
  uint64_t end_ns = 0;
  std::optional<int64_t> ref;  // its build record, once ended
};

// One item an event shows, and the alert it raises when the job never showed it.
struct Seen {
  std::string kind, value;
  const RuleInfo* rule = nullptr;  // null: learned, never alerted on (edges, domains)
  std::string detail;
};

class BaselineRules final : public RuleSet {
 public:
  explicit BaselineRules(BaselineConfig config) : config_(std::move(config)) {}

  std::string_view name() const override { return "baseline"; }

  Status start(store::Store& store) override {
    store_ = &store;
    return refresh();
  }

  void on_event(const Sighting& s, std::vector<Hit>& out) override {
    const events::Event& e = s.event;
    if (e.build.ci.empty() || e.build.id.empty()) return;
    const store::BaselineKey key{e.build.ci, e.build.repository, e.build.job};
    const std::string build_id = s.where.agent_id + '\n' + e.build.ci + '\n' + e.build.id;
    if (e.kind() == events::Kind::build_start) watch(build_id, key, s.where.agent_id, e);
    Watched* w = nullptr;
    if (auto it = watched_.find(build_id); it != watched_.end()) {
      w = &it->second;
      w->last_ns = std::max(w->last_ns, e.time_ns);
      if (w->branch.empty()) w->branch = e.build.branch;
    }
    std::vector<Seen> seen;
    items_of(s, seen);
    const KeyState* state = nullptr;
    if (auto it = keys_.find(key); it != keys_.end() && it->second.builds >= config_.min_builds) state = &it->second;
    for (auto& item : seen) {
      if (w && w->items.size() < config_.max_items_per_build) w->items.emplace(item.kind, item.value);
      if (!state || !item.rule || trusted(*state, item, e.time_ns)) continue;
      Hit h;
      h.rule_id = item.rule->id;
      h.title = item.rule->title;
      h.severity = item.rule->severity;
      h.tags = item.rule->tags;
      h.detail = item.detail;
      // One alert per (job, item) per build.
      h.key = "baseline\n" + key.ci + '\n' + key.repository + '\n' + key.job + '\n' + item.kind + '\n' + item.value +
              '\n' + build_id;
      out.push_back(std::move(h));
    }
    if (e.kind() == events::Kind::build_end && w) end(build_id, e.time_ns);
  }

  Status prepare_commit(const std::vector<store::Alert>& alerts, std::vector<store::BaselineLesson>& lessons) override {
    for (auto& [id, w] : ended_) {
      // A plain name for the lambda: clang 14 cannot capture a structured binding.
      const auto ref = w.ref;
      if (ref)
        if (std::any_of(alerts.begin(), alerts.end(), [&](const store::Alert& a) {
              return a.build_ref == ref && store::severity_rank(a.severity) >= 3;
            })) {
          stale_ = true;  // applied to the copy already: read it again after the commit
          continue;
        }
      store::BaselineLesson l;
      l.key = w.key;
      l.build = id;
      l.branch = w.branch;
      l.time_ns = w.end_ns;
      l.items.assign(w.items.begin(), w.items.end());
      l.expire_before_ns = w.end_ns > config_.expiry_ns ? w.end_ns - config_.expiry_ns : 0;
      lessons.push_back(std::move(l));
    }
    return Ok{};
  }

  void committed(bool ok) override {
    if (!ok) {
      // The step's events come again: its ended builds are watched again
      // and the copy goes back to what the store holds.
      for (auto& [id, w] : ended_) {
        w.ended = false;
        watched_[id] = std::move(w);
      }
      ended_.clear();
      stale_ = false;
      (void)refresh();
      return;
    }
    std::set<store::BaselineKey> taught;
    for (const auto& [id, w] : ended_) taught.insert(w.key);
    ended_.clear();
    if (stale_ || std::chrono::steady_clock::now() - refreshed_ >= kRefreshEvery) {
      stale_ = false;
      (void)refresh();
      return;
    }
    // The copy of what was taught, as the store counted it (a build learned
    // before a restart is not counted twice there).
    for (const auto& key : taught) (void)refresh(key);
  }

 private:
  // The copy of the store's baselines. A failure keeps the old copy (the
  // next commit tries again).
  Status refresh() {
    refreshed_ = std::chrono::steady_clock::now();
    if (!store_) return Ok{};
    auto all = store_->baselines(std::nullopt);
    if (!all) return all.error();
    std::map<store::BaselineKey, KeyState> keys;
    for (const auto& b : *all) {
      KeyState& k = keys[b.key];
      k.builds = b.builds;
      for (const auto& i : b.items) k.items[item_id(i.kind, i.value)] = {i.builds, i.last_ns};
    }
    keys_ = std::move(keys);
    return Ok{};
  }

  Status refresh(const store::BaselineKey& key) {
    auto one = store_->baselines(key);
    if (!one) return one.error();
    keys_.erase(key);
    for (const auto& b : *one) {
      KeyState& k = keys_[b.key];
      k.builds = b.builds;
      for (const auto& i : b.items) k.items[item_id(i.kind, i.value)] = {i.builds, i.last_ns};
    }
    return Ok{};
  }

  bool trusted(const KeyState& state, const Seen& item, uint64_t at_ns) const {
    auto it = state.items.find(item_id(item.kind, item.value));
    if (it == state.items.end()) return false;
    return it->second.builds >= config_.trust_builds && it->second.last_ns + config_.expiry_ns >= at_ns;
  }

  void watch(const std::string& build_id, const store::BaselineKey& key, const std::string& agent_id,
             const events::Event& e) {
    // Builds that never end: dropped when silent too long, or the least
    // recently seen when too many are watched. They teach nothing.
    for (auto it = watched_.begin(); it != watched_.end();) {
      if (it->second.last_ns + config_.open_build_max_ns < e.time_ns)
        it = watched_.erase(it);
      else
        ++it;
    }
    while (watched_.size() >= config_.max_open_builds && !watched_.empty()) {
      auto oldest = std::min_element(watched_.begin(), watched_.end(),
                                     [](const auto& a, const auto& b) { return a.second.last_ns < b.second.last_ns; });
      watched_.erase(oldest);
    }
    Watched& w = watched_[build_id];
    w.key = key;
    w.agent_id = agent_id;
    w.build = e.build;
    w.branch = e.build.branch;
    w.last_ns = e.time_ns;
  }

  // A watched build ended: on a protected branch, with no high or critical
  // alert stored for its record, it teaches (now in the copy, at the
  // commit in the store); otherwise it is forgotten. A store error keeps
  // it from teaching.
  void end(const std::string& build_id, uint64_t end_ns) {
    auto node = watched_.extract(build_id);
    Watched& w = node.mapped();
    if (!protected_branch(config_, w.branch) || !store_) return;
    auto ref = store_->build_ref(w.agent_id, w.build);
    if (!ref) return;
    w.ref = *ref;
    if (w.ref) {
      store::AlertFilter f;
      f.build = *w.ref;
      f.min_severity = 3;
      f.limit = 1;
      auto stored = store_->alerts(f);
      if (!stored || !stored->empty()) return;
    }
    w.ended = true;
    w.end_ns = end_ns;
    KeyState& k = keys_[w.key];
    ++k.builds;
    for (const auto& [kind, value] : w.items) {
      Known& known = k.items[item_id(kind, value)];
      ++known.builds;
      known.last_ns = std::max(known.last_ns, end_ns);
    }
    ended_[build_id] = std::move(w);
  }

  void items_of(const Sighting& s, std::vector<Seen>& out) {
    const events::Event& e = s.event;
    if (const auto* q = std::get_if<events::DnsQuery>(&e.body)) {
      const std::string name = dns_name(q->name);
      if (name.empty()) return;
      out.push_back({kDns, name, &kBt02, "resolved " + name});
      if (std::string domain = registrable_domain(name); !domain.empty()) out.push_back({kDomain, domain, nullptr, {}});
    } else if (const auto* c = std::get_if<events::NetConnect>(&e.body)) {
      if (!c->dns_name.empty()) {
        const std::string name = dns_name(c->dns_name);
        out.push_back({kDestination, name, &kBt01, e.process.exe + " connected to " + name});
      } else if (!loopback(c->daddr)) {
        const std::string dest = (c->daddr.find(':') != std::string::npos ? "[" + c->daddr + "]" : c->daddr) + ":" +
                                 std::to_string(c->dport);
        out.push_back({kDestination, dest, &kBt01, e.process.exe + " connected to " + dest});
      }
    } else if (const auto* x = std::get_if<events::ProcessExec>(&e.body)) {
      const std::string writer = product_writer(s.where.agent_id, *x);
      // A product is named by its maker: its path is the workspace's, which
      // may change from build to build too.
      const std::string name = writer.empty() ? e.process.exe : "product of " + writer;
      if (!writer.empty())
        out.push_back({kProduct, writer, &kBt16,
                       e.process.exe + " (sha256 " + x->exe_sha256 + "), written in this build by " + writer});
      else if (!x->exe_sha256.empty())
        out.push_back({kExe, x->exe_sha256, &kBt16, e.process.exe + " (sha256 " + x->exe_sha256 + ")"});
      if (const std::string tool = net_tool(e.process.exe); !tool.empty())
        out.push_back({kNetTool, tool, &kBt19, what_ran(e.process.exe, x->argv)});
      Process self{name, package_install(x->argv)};
      if (auto it = processes_.find(s.where.agent_id + '\n' + e.process.parent_key); it != processes_.end()) {
        const Process& parent = it->second;
        out.push_back({kEdge, parent.name + " -> " + name, nullptr, {}});
        if (!parent.install.empty() && self.install.empty() && runs_code(e.process.exe, x->argv))
          out.push_back({kInstallRuns, parent.install + " -> " + name, &kBt17,
                         parent.install + " install ran " + what_ran(e.process.exe, x->argv)});
        if (self.install.empty()) self.install = parent.install;
      }
      if (processes_.size() >= kProcessTableMax) processes_.clear();
      processes_[s.where.agent_id + '\n' + e.process.key] = std::move(self);
    } else if (const auto* a = std::get_if<events::SecretAccess>(&e.body)) {
      if (a->access == "metadata_connect") {
        out.push_back({kMetadata, e.process.exe, &kBt06,
                       e.process.exe + " contacted " + (a->endpoint.empty() ? a->dest_ip : a->endpoint)});
      } else if (!a->secret_class.empty()) {
        out.push_back({kCredential, a->secret_class + " <- " + e.process.exe, &kBt10,
                       e.process.exe + " read " + a->secret_class + " credential " + a->path});
      }
    } else if (const auto* u = std::get_if<events::ArtifactUpload>(&e.body)) {
      out.push_back({kUpload, u->tool + " " + u->destination, &kBt28, u->tool + " uploads to " + u->destination});
      for (const auto& f : u->files) {
        const std::string writer = artifact_writer(s.where.agent_id, f);
        out.push_back({kArtifact, u->tool + " <- " + writer, &kBt27,
                       u->tool + " uploads " + text::printable(f.path) + " (sha256 " + f.sha256 + "), " + writer});
      }
    }
  }

  // The executable's writer when the build wrote it earlier (`written_by`,
  // the writer's exec in the process table): a build that compiles and runs
  // its own programs (configure's conftest, its unit tests) makes new
  // hashes every build (paths in debug info, timestamps), so what it runs is
  // judged by which program made it (the linker, cp, curl) rather than by
  // hash. Empty otherwise, and for an interpreter running a script the
  // build wrote: the interpreter itself is judged by its hash.
  std::string product_writer(const std::string& agent_id, const events::ProcessExec& x) const {
    if (x.written_by.empty() || !x.script.empty()) return {};
    auto it = processes_.find(agent_id + '\n' + x.written_by);
    return it == processes_.end() ? std::string() : it->second.name;
  }

  // BT-27: who made an uploaded file, as the job's uploads are learned: the
  // program that last wrote it in this build (the packager, the linker), a
  // writer that never ran a program of its own, or nobody in this build (a
  // file from a cache or the checkout). A poisoned artifact is rewritten by
  // something else between its making and its upload.
  std::string artifact_writer(const std::string& agent_id, const events::FileDigest& f) const {
    if (f.written_by.empty()) return "not written in this build";
    auto it = processes_.find(agent_id + '\n' + f.written_by);
    return it == processes_.end() ? "written by a process that ran no program" : "written by " + it->second.name;
  }

  // BT-19's baseline half: listeners, relays and sniffers have honest uses
  // in some jobs (a test's fake server) and none in most, so they are
  // judged per job, by name (their hash changes with every image).
  static std::string net_tool(std::string_view exe) {
    const std::string_view n = exe.substr(exe.rfind('/') + 1);
    for (std::string_view tool :
         {"nc", "ncat", "netcat", "nc.openbsd", "nc.traditional", "socat", "tcpdump", "tshark", "dumpcap"})
      if (n == tool) return std::string(tool);
    return {};
  }

  // The program and its command line, cut short, for an alert's detail.
  static std::string what_ran(const std::string& exe, const std::vector<std::string>& argv) {
    std::string line = exe + ":";
    for (const auto& a : argv) line += " " + a;
    constexpr std::size_t kMax = 200;
    if (line.size() > kMax) line = line.substr(0, kMax) + "...";
    return text::printable(line);
  }

  // A process as the baseline names it, and the package install it runs under.
  struct Process {
    std::string name;     // exe, or "product of <writer>"
    std::string install;  // package manager (package_install.h), its own or an ancestor's
  };

  BaselineConfig config_;
  store::Store* store_ = nullptr;
  std::map<store::BaselineKey, KeyState> keys_;
  std::map<std::string, Watched> watched_;              // agent + CI system + build id -> build
  std::map<std::string, Watched> ended_;                // builds that teach at the next commit
  bool stale_ = false;                                  // the copy holds a lesson that was dropped
  std::unordered_map<std::string, Process> processes_;  // agent + process key
  std::chrono::steady_clock::time_point refreshed_{};
};

}  // namespace

bool protected_branch(const BaselineConfig& config, std::string_view branch) {
  std::string b(branch);
  for (std::string_view prefix : {"refs/heads/", "origin/"})
    if (b.starts_with(prefix)) b.erase(0, prefix.size());
  if (b.empty()) return false;
  return std::any_of(config.protected_branches.begin(), config.protected_branches.end(),
                     [&](const std::string& glob) { return ::fnmatch(glob.c_str(), b.c_str(), 0) == 0; });
}

std::string registrable_domain(std::string_view name) {
  const std::string n(name);
  const char* d = ::psl_registrable_domain(::psl_builtin(), n.c_str());
  return d ? std::string(d) : std::string();
}

std::unique_ptr<RuleSet> baseline_rules(BaselineConfig config) {
  return std::make_unique<BaselineRules>(std::move(config));
}

}  // namespace bt::collector::detect
