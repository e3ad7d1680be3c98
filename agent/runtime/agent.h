// The agent's loop (libuv): capture backends push events into a
// bounded queue from their own threads and wake the loop; the loop drains
// the queue into the batcher, which seals batches into the spool; the
// shipper sends spooled batches to the collector. Timers seal batches by
// age and emit heartbeats; a Unix socket answers `buildtrail-agent status`.
// The Agent only wires these parts together: capture is passed in, and
// every policy lives in transport/.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <string>

#include "agent/runtime/config.h"
#include "common/events/event.h"
#include "transport/batcher/batcher.h"

namespace bt::agent::runtime {

class Agent {
 public:
  // `mode` names the command (run, replay, flush, daemon) in agent_start.
  static Result<std::unique_ptr<Agent>> create(const config::Config& config, const std::string& mode);
  ~Agent();

  // For capture threads.
  transport::batcher::EventQueue& queue();
  void wake();
  bool stop_requested() const;
  // Queues `event`, waiting while the queue is full: a slow collector slows
  // capture down rather than losing the trail (the daemon's kernel ring
  // buffer fills meanwhile, and counts what it cannot hold). Once a stop
  // is requested it waits no more: an event that does not fit is dropped
  // and counted (queue_full).
  void push_waiting(events::Event&& event);
  // A template event with this agent's host, agent id and process filled in.
  events::Event envelope() const;
  // Before run(): SIGINT, SIGTERM, SIGHUP and SIGQUIT go to `handler` (on
  // the loop thread) instead of stopping the agent -- `run` forwards them
  // to the build and keeps recording until the build ends.
  void forward_signals(std::function<void(int)> handler);

  // Runs until `capture` (on its own thread; may be empty) has returned and
  // everything is sealed and delivered, the flush timeout passed, or a stop
  // signal arrived. Returns 0 when nothing is left undelivered (or there is
  // no collector), 1 when batches remain in the spool, 2 on setup errors.
  int run(const std::function<void(Agent&)>& capture);

  struct Impl;

 private:
  explicit Agent(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Connects to the running agent's status socket under `state_dir` and
// returns its counters as JSON.
Result<std::string> query_status(const std::string& state_dir);

}  // namespace bt::agent::runtime
