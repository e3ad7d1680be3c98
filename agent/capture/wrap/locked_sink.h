// The wrap backend observes on two threads (the tracer and the notifier);
// the sink behind it (agent/route, agent/enrich) expects one caller at a
// time, in order. This decorator serialises the notifier's calls; the
// tracer holds the same lock (hold()) around a whole stop and calls inner()
// directly, so it can resume the tracee before it reports the stop and
// still no open of the resumed program is reported before its exec.
// wants_open() and wants_result() are pure functions of the rules and need
// no lock.
#pragma once

#include <mutex>

#include "agent/capture/observation.h"

namespace bt::agent::wrap {

class LockedSink final : public capture::Sink {
 public:
  explicit LockedSink(capture::Sink& inner) : inner_(inner) {}

  void on(const capture::Observation& o) override {
    std::lock_guard lock(mu_);
    inner_.on(o);
  }
  bool wants_open(std::string_view basename) const override { return inner_.wants_open(basename); }
  bool wants_result(const capture::Open& open) const override { return inner_.wants_result(open); }

  std::unique_lock<std::mutex> hold() { return std::unique_lock(mu_); }
  capture::Sink& inner() { return inner_; }

 private:
  std::mutex mu_;
  capture::Sink& inner_;
};

}  // namespace bt::agent::wrap
