// The query timeline; see timeline.h.
#include "collector/view/timeline.h"

#include <cstdio>

#include "collector/view/summary.h"
#include "collector/view/text.h"
#include "collector/view/time.h"

namespace bt::collector::view {

namespace {

void header_line(const char* label, const std::string& value) {
  if (!value.empty()) std::printf("%-8s %s\n", label, printable(value).c_str());
}

// The other agents' records of this CI build: evidence that two agents
// claimed the same CI ids (one real build on several nodes, or a spoof).
std::string collisions(const store::BuildRow& b) {
  std::string out;
  for (const auto& c : b.collides_with)
    out += (out.empty() ? "" : ", ") + std::string("ref ") + std::to_string(c.ref) + " by agent " + c.agent_id;
  return out.empty() ? out : "the same CI build id was recorded by other agents: " + out;
}

void print_header(const store::BuildRow& b) {
  const events::Build& m = b.build;
  header_line("build", m.id + " (ref " + std::to_string(b.id) + ")");
  header_line("agent", b.agent_id + " on host " + (b.host.empty() ? "-" : b.host));
  header_line("also", collisions(b));
  header_line("ci", m.ci);
  header_line("job", m.job + (m.number.empty() ? "" : " #" + m.number));
  header_line("url", m.url);
  header_line("repo", m.repository);
  header_line("commit", m.commit);
  header_line("runner", m.runner);
  const uint64_t start = b.start_ns ? b.start_ns : b.first_ns;
  header_line("started", format_rfc3339_ms(start) + (b.start_ns ? "" : " (first event; no build_start seen)"));
  if (b.ended) {
    header_line("ended", format_rfc3339_ms(b.end_ns) + " after " +
                             format_duration(b.end_ns >= start ? b.end_ns - start : 0) + ", exit " +
                             std::to_string(b.exit_code));
  } else {
    header_line("ended", "not yet (last event " + format_rfc3339_ms(b.last_ns) + ")");
  }
  uint64_t total = 0;
  std::string counts;
  for (const auto& [kind, n] : b.counts) {
    total += n;
    counts += (counts.empty() ? "" : ", ") + kind + " " + std::to_string(n);
  }
  header_line("events", std::to_string(total) + (counts.empty() ? "" : ": " + counts));
}

}  // namespace

Timeline::Timeline(const store::BuildRow& build) : day_(format_date(build.start_ns ? build.start_ns : build.first_ns)) {
  print_header(build);
  std::printf("\n%-12s  %-15s  %-7s  %-7s  %s\n", "TIME", "KIND", "PID", "PPID", "SUMMARY");
}

void Timeline::print(const events::Event& e, const store::EventRef& ref) {
  const std::string d = format_date(ref.time_ns);
  if (d != day_) {
    std::printf("-- %s\n", d.c_str());
    day_ = d;
  }
  // Before the summary, which is truncated: the flag must always show.
  const std::string claim =
      ref.time_out_of_range ? "[time out of range: claims " + format_rfc3339_ms(e.time_ns) + "] " : std::string();
  std::printf("%-12s  %-15s  %-7llu  %-7llu  %s%s\n", format_clock_ms(ref.time_ns).c_str(),
              std::string(events::kind_name(e.kind())).c_str(), static_cast<unsigned long long>(e.process.pid),
              static_cast<unsigned long long>(e.process.ppid), claim.c_str(), summary(e).c_str());
  ++events_printed_;
}

}  // namespace bt::collector::view
