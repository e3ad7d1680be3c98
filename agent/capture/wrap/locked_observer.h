// The wrap backend observes on two threads (the ptrace tracer and the
// open notifier); the observer behind it (agent/enrich) expects one caller
// at a time, in order. This decorator serialises the notifier's calls; the
// tracer holds the same lock (hold()) around a whole stop and calls
// inner() directly, so it can resume the tracee before it reports the stop
// and still no open of the resumed program is reported before its exec.
// wants_open() is a pure function of the rules and needs no lock.
#pragma once

#include <mutex>

#include "agent/capture/observation.h"

namespace bt::agent::wrap {

class LockedObserver final : public capture::Observer {
 public:
  explicit LockedObserver(capture::Observer& inner) : inner_(inner) {}

  void on_fork(const capture::Fork& f) override { locked([&] { inner_.on_fork(f); }); }
  void on_exec(const capture::Exec& e) override { locked([&] { inner_.on_exec(e); }); }
  void on_exit(const capture::Exit& x) override { locked([&] { inner_.on_exit(x); }); }
  void on_open(const capture::Open& o) override { locked([&] { inner_.on_open(o); }); }
  void on_connect(const capture::Connect& c) override { locked([&] { inner_.on_connect(c); }); }
  void on_process_access(const capture::ProcessAccess& a) override {
    locked([&] { inner_.on_process_access(a); });
  }
  void on_dns(const capture::Dns& d) override { locked([&] { inner_.on_dns(d); }); }
  bool wants_open(std::string_view basename) const override { return inner_.wants_open(basename); }

  std::unique_lock<std::mutex> hold() { return std::unique_lock(mu_); }
  capture::Observer& inner() { return inner_; }

 private:
  template <typename F>
  void locked(F&& f) {
    std::lock_guard lock(mu_);
    f();
  }
  std::mutex mu_;
  capture::Observer& inner_;
};

}  // namespace bt::agent::wrap
