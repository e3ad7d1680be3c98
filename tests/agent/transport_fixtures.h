// What the tests of the agent's transport share (tests/agent/transport_test
// and root_test): a state folder beside a collector's data folder, and
// counts over the events the collector archived.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "collector/store/store.h"
#include "common/events/event.h"
#include "tests/collector/collector_process.h"

namespace bt::testing {

struct Setup {
  std::string root = make_temp_dir("agent");
  std::string data = root + "/collector";
  std::string state = root + "/state";
  std::string agent_bin = build_path("agent/buildtrail-agent");

  std::string token(uint32_t uses = 5) { return add_token(data, uses); }
  CommandResult agent(const std::string& args) {
    return run_command("timeout 120 " + agent_bin + " " + args + " --state-dir " + state +
                       " --backoff-base-ms 50 --backoff-cap-ms 500");
  }
  // Every event the collector archived for our agent, re-verified.
  std::vector<events::Event> archived_events() { return testing::archived_events(data, state + "/agent.pub"); }
  collector::store::Stats stats() { return store_stats(data); }
  std::vector<collector::store::Finding> findings() {
    auto st = collector::store::open_sqlite(data, {true, 5000}).value();
    std::vector<collector::store::Finding> out;
    const auto agents = st->agents().value();
    for (const auto& a : agents) {
      auto f = st->findings(a.id).value();
      out.insert(out.end(), f.begin(), f.end());
    }
    return out;
  }
};

inline uint64_t count_kind(const std::vector<events::Event>& evs, events::Kind k) {
  uint64_t n = 0;
  for (const auto& e : evs) n += e.kind() == k;
  return n;
}

inline uint64_t loss_count(const std::vector<events::Event>& evs, const std::string& reason) {
  uint64_t n = 0;
  for (const auto& e : evs)
    if (auto* l = std::get_if<events::Loss>(&e.body))
      for (const auto& [r, c] : l->counts)
        if (r == reason) n += c;
  return n;
}

inline uint64_t synthetic_events(const std::vector<events::Event>& evs) {
  return count_kind(evs, events::Kind::process_exec) + count_kind(evs, events::Kind::process_exit);
}

inline bool no_chain_findings(const std::vector<collector::store::Finding>& f) {
  for (const auto& x : f)
    if (x.kind != collector::store::FindingKind::kLoss) return false;
  return true;
}

}  // namespace bt::testing
