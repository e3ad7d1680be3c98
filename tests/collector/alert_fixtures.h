// Events and sealed batches that raise alerts, for the tests of the
// detector and of what reads its alerts (the read API, the webhook).
#pragma once

#include <chrono>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "collector/store/store.h"
#include "common/batch/batch.h"
#include "common/events/event.h"

namespace bt::testing {

constexpr uint64_t kT0 = 1795775400000000000ull;  // 2026-11-27T10:30:00Z

// An event of build `build_id` (GitHub, job ci/build) by /usr/bin/bash.
inline events::Event build_event(const std::string& agent, uint64_t t, events::Body body, const std::string& build_id) {
  events::Event e;
  e.time_ns = t;
  e.host = "ci-7";
  e.agent_id = agent;
  e.build.ci = "github";
  e.build.id = build_id;
  e.build.job = "ci/build";
  e.process.pid = 42;
  e.process.key = "42-1";
  e.process.exe = "/usr/bin/bash";
  e.body = std::move(body);
  return e;
}

// A build run with --allow-unmonitored: BT-30.
inline events::Event unmonitored_start(const std::string& agent, uint64_t t, const std::string& build_id) {
  events::BuildStart s;
  s.mode = "unmonitored";
  return build_event(agent, t, s, build_id);
}

// A loss in a build: BT-29 (high) for the event, and a loss finding (medium).
inline events::Event loss(const std::string& agent, uint64_t t, const std::string& build_id,
                          const std::string& reason = "queue_full") {
  events::Loss l;
  l.counts = {{reason, 7}};
  l.first_ns = t;
  l.last_ns = t;
  return build_event(agent, t, l, build_id);
}

// One batch per entry of `per_batch`, seqs 1, 2, ... chained.
inline std::vector<batch::Sealed> seal(const crypto::KeyPair& key, const std::string& agent,
                                       const std::vector<std::vector<events::Event>>& per_batch) {
  batch::Sealer sealer(key, agent);
  std::vector<batch::Sealed> out;
  crypto::Digest prev{};
  for (std::size_t i = 0; i < per_batch.size(); ++i) {
    for (const auto& e : per_batch[i]) sealer.add(e);
    out.push_back(sealer.seal(i + 1, prev).value());
    prev = out.back().hash;
  }
  return out;
}

// Sealed batches with these seqs, each chained to the one before it in the
// list (a seq left out is a gap).
inline std::vector<batch::Sealed> seal_seqs(
    const crypto::KeyPair& key, const std::string& agent,
    const std::vector<std::pair<uint64_t, std::vector<events::Event>>>& batches) {
  batch::Sealer sealer(key, agent);
  std::vector<batch::Sealed> out;
  crypto::Digest prev{};
  for (const auto& [seq, evs] : batches) {
    for (const auto& e : evs) sealer.add(e);
    out.push_back(sealer.seal(seq, prev).value());
    prev = out.back().hash;
  }
  return out;
}

inline std::vector<collector::store::Alert> alerts_of(const std::string& data) {
  return collector::store::open_sqlite(data, {true, 5000}).value()->alerts({}).value();
}

// Waits until the detector has taken every stored batch and finding.
inline bool detected_all(const std::string& data, int timeout_ms = 20000) {
  for (int waited = 0; waited < timeout_ms; waited += 50) {
    auto st = collector::store::open_sqlite(data, {true, 5000}).value();
    auto batches = st->batches_after(0, 1000000).value();
    auto findings = st->findings_after(0, 1000000).value();
    if (!batches.empty() && st->cursor("detect.batches").value() == batches.back().position &&
        (findings.empty() || st->cursor("detect.findings").value() == findings.back().id))
      return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return false;
}

}  // namespace bt::testing
