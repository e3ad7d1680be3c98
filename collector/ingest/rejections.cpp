#include "collector/ingest/rejections.h"

namespace bt::collector::ingest {

RejectionLimiter::Admitted RejectionLimiter::admit(const std::string& agent_id, uint64_t now_ns) {
  std::lock_guard lock(mu_);
  if (now_ns - window_start_ns_ >= limits_.interval_ns) {
    window_start_ns_ = now_ns;
    in_window_ = 0;
  }
  PerAgent& a = agents_[agent_id];
  const bool agent_due = !a.recorded || now_ns - a.last_ns >= limits_.interval_ns;
  if (!agent_due || in_window_ >= limits_.max_per_interval) {
    ++a.held_back;
    return Admitted{};
  }
  ++in_window_;
  const Admitted out{true, a.held_back};
  a = PerAgent{true, now_ns, 0};
  return out;
}

}  // namespace bt::collector::ingest
